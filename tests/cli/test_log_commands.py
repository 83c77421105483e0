"""The transparency log's commands and the threats of issue 15, on SQLite files.

The attacker has the database (and, for the re-signed rewrite, the bot's own key); an
auditor holds a bundle, the verifier key, and a checkpoint saved earlier (e.g. the one
GitHub shows). Each rewrite must be caught and named.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from bot.store import log as tlog
from bot.store import open_store_for
from bot.store.base import Store
from bot.trail import checkpoint as cp
from bot.trail import merkle
from bot.trail.events import chain_hash
from bot.workers.log_integrator import LogIntegrator
from tests.cli.test_trail_commands import cli
from tests.store.test_store_contract import close, note, open_run

ORIGIN = "audit.example.test/audit-bot"


async def acli(*args: str) -> Any:
    """The command in a thread: it runs its own event loop."""
    return await asyncio.to_thread(cli, *args)


@pytest.fixture
def signer(monkeypatch: pytest.MonkeyPatch) -> cp.Signer:
    key = cp.generate_signer(ORIGIN)
    monkeypatch.setenv("AUDIT_LOG_SIGNING_KEY", cp.signer_to_pem(key).decode())
    monkeypatch.setenv("AUDIT_LOG_ORIGIN", ORIGIN)
    return key


async def opened(url: str) -> Store:
    store = open_store_for(url, debounce=0)
    await store.open()
    return store


async def seed(url: str, signer: cp.Signer) -> tuple[list[str], str]:
    """Three runs logged and checkpointed; the first checkpoint's note (saved by an auditor)."""
    store = await opened(url)
    try:
        log = LogIntegrator(store, signer)
        runs = [(await store.apply(open_run(1, "a", note("one"), note("two")))).opened[0]]
        await log.run_once()
        first = await store.latest_checkpoint()
        assert first is not None
        for pr in (2, 3):
            runs.append((await store.apply(open_run(pr, "b", note("x")))).opened[0])
            await log.run_once()
        return runs, first.note
    finally:
        await store.close()


def rewrite_run(path: Path, run_id: str, edited: int = 2) -> None:
    """Edit event `edited`'s data and recompute the run's chain, as someone with the file could."""
    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT seq, type, at, recorded_at, source, data, prev_hash FROM events "
        "WHERE run_id = ? ORDER BY seq",
        (run_id,),
    ).fetchall()
    prev = rows[0][6]
    for seq, type_, at, recorded_at, source, data, _ in rows:
        body_data = orjson.loads(data)
        if seq == edited:
            body_data = {"text": "rewritten"}
        body = {
            "run_id": run_id,
            "seq": seq,
            "type": type_,
            "at": at,
            "recorded_at": recorded_at,
            "source": orjson.loads(source),
            "data": body_data,
        }
        digest = chain_hash(prev, body)
        db.execute(
            "UPDATE events SET data = ?, prev_hash = ?, hash = ? WHERE run_id = ? AND seq = ?",
            (orjson.dumps(body_data).decode(), prev, digest, run_id, seq),
        )
        prev = digest
    db.execute("UPDATE runs SET head_hash = ? WHERE id = ?", (prev, run_id))
    db.commit()
    db.close()


async def export_bundle(url: str, run_id: str, where: Path) -> dict:
    done = await acli("export", run_id, "--bundle", str(where), "--database", url)
    assert done.returncode == 0, done.stderr
    return json.loads(where.read_text())


async def test_key_bundle_and_log_verify(tmp_path: Path, signer: cp.Signer) -> None:
    url = f"sqlite:///{tmp_path}/audit.db"
    runs, first_note = await seed(url, signer)
    key = (await acli("log", "key")).stdout.strip()
    assert key == signer.verifier.key
    (tmp_path / "old.txt").write_text(first_note)

    bundle = tmp_path / "run.json"
    await export_bundle(url, runs[0], bundle)
    done = await acli("verify", "--bundle", str(bundle), "--key", key)
    assert done.returncode == 0 and "OK" in done.stdout, done.stdout
    done = await acli(
        "verify", "--bundle", str(bundle), "--key", key, "--checkpoint", str(tmp_path / "old.txt")
    )
    assert done.returncode == 0 and "consistency: the tree" in done.stdout, done.stdout
    other = cp.generate_signer(ORIGIN).verifier.key
    done = await acli("verify", "--bundle", str(bundle), "--key", other)
    assert done.returncode == 1 and "no signature by a trusted key" in done.stdout
    done = await acli("verify", "--log", "--database", url)
    assert done.returncode == 0, done.stdout + done.stderr


async def test_a_run_rewritten_with_its_chain_recomputed_is_caught(
    tmp_path: Path, signer: cp.Signer
) -> None:
    url = f"sqlite:///{tmp_path}/audit.db"
    runs, _ = await seed(url, signer)
    copy = tmp_path / "copy.db"
    shutil.copy(tmp_path / "audit.db", copy)
    rewrite_run(copy, runs[0])
    copy_url = f"sqlite:///{copy}"

    done = await acli("verify", "--log", "--database", copy_url)
    assert done.returncode == 1
    store = await opened(url)
    try:
        index = await store.leaf_index(runs[0], 2)
    finally:
        await store.close()
    assert f"leaf {index} changed: event 2 of run {runs[0]}" in done.stdout, done.stdout

    bundle = await export_bundle(copy_url, runs[0], tmp_path / "run.json")
    done = await acli(
        "verify", "--bundle", str(tmp_path / "run.json"), "--key", signer.verifier.key
    )
    assert done.returncode == 1 and "inclusion" in done.stdout, done.stdout
    assert bundle["tree_size"] == 7


async def test_a_rewritten_tree_re_signed_with_the_bots_key_fails_an_older_checkpoint(
    tmp_path: Path, signer: cp.Signer
) -> None:
    url = f"sqlite:///{tmp_path}/audit.db"
    runs, first_note = await seed(url, signer)
    (tmp_path / "old.txt").write_text(first_note)
    rewrite_run(tmp_path / "audit.db", runs[0])
    db = sqlite3.connect(tmp_path / "audit.db")  # the operator rebuilds the whole log
    db.executescript(
        "DELETE FROM log_leaves; DELETE FROM log_nodes; DELETE FROM log_checkpoints; "
        "UPDATE log_head SET size = 0, frontier = ''; UPDATE events SET leaf_index = NULL;"
    )
    db.close()
    store = await opened(url)
    try:
        head = await store.integrate(3)  # re-signs the old sizes too: the strongest rewrite
        body = cp.checkpoint_body(ORIGIN, head.size, head.root)
        await store.save_checkpoint(head.size, head.root, cp.sign_note(body, [signer]))
        log = LogIntegrator(store, signer)
        await log.run_once()
        await store.apply(open_run(9, "c", note("later")))
        await log.run_once()
    finally:
        await store.close()
    assert (await acli("verify", "--log", "--database", url)).returncode == 0  # self-consistent

    await export_bundle(url, runs[1], tmp_path / "run.json")
    done = await acli(
        "verify",
        "--bundle",
        str(tmp_path / "run.json"),
        "--key",
        signer.verifier.key,
        "--checkpoint",
        str(tmp_path / "old.txt"),
    )
    assert done.returncode == 1, done.stdout
    assert "does not extend the older checkpoint" in done.stdout, done.stdout


async def test_retention_keeps_remaining_bundles_and_the_removed_runs_leaf(
    tmp_path: Path, signer: cp.Signer
) -> None:
    url = f"sqlite:///{tmp_path}/audit.db"
    runs, first_note = await seed(url, signer)
    (tmp_path / "old.txt").write_text(first_note)
    store = await opened(url)
    try:
        await store.apply(close(runs[0]))
        await LogIntegrator(store, signer).run_once()
        pruned = await store.prune_runs(time.time() + 3 * 86400, 1, None)
        assert [p.run_id for p in pruned] == [runs[0]]
        latest = await store.latest_checkpoint()
        assert latest is not None
        leaves = await store.log_leaves(0, 100)
        index = await store.leaf_index(runs[0], 4)
        assert index is not None
        proof = await tlog.inclusion_proof(store, index, latest.size)
        leaf = merkle.leaf_data(runs[0], 4, leaves[index].hash)
        merkle.verify_inclusion(merkle.leaf_hash(leaf), index, latest.size, proof, latest.root)
    finally:
        await store.close()
    await export_bundle(url, runs[2], tmp_path / "run.json")
    done = await acli(
        "verify",
        "--bundle",
        str(tmp_path / "run.json"),
        "--key",
        signer.verifier.key,
        "--checkpoint",
        str(tmp_path / "old.txt"),
    )
    assert done.returncode == 0, done.stdout
    assert (await acli("verify", "--log", "--database", url)).returncode == 0
