"""GitHub as the log's witness (issue 15, item 4), against the fake GitHub on loopback.

The bot publishes its signed checkpoint in each PR's comment (and, in App mode, in the
spend check); `audit-bot log witness --from-github REPO` collects them and checks the
store's current tree still extends each. The operator who rewrites a run, rebuilds the
whole log and re-signs it with the bot's own key is caught by what GitHub already shows.
"""

from __future__ import annotations

import base64
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.render.log_stamp import MARKER, published_notes
from bot.render.spend_check import CHECK_NAME
from bot.store import open_store_for
from bot.store.base import RunFilter
from bot.trail import checkpoint as cp
from bot.workers.log_integrator import LogIntegrator
from tests.cli.test_log_commands import ORIGIN, acli, rewrite_run
from tests.support.bot import HEAD, REPO, SECRET, Bot, load_payload
from tests.support.fake_github import FakeGitHub


@pytest.fixture
def signer() -> cp.Signer:
    return cp.generate_signer(ORIGIN)


def log_env(signer: cp.Signer) -> dict[str, str]:
    return {
        "AUDIT_LOG_SIGNING_KEY": cp.signer_to_pem(signer).decode(),
        "AUDIT_LOG_ORIGIN": ORIGIN,
    }


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, github: FakeGitHub, signer: cp.Signer) -> None:
    """What the auditor's shell has: the GitHub credentials and the log's key."""
    for name in ("DATABASE_URL", "GITHUB_APP_ID", "GITHUB_PRIVATE_KEY", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test_token")
    for name, value in log_env(signer).items():
        monkeypatch.setenv(name, value)


async def comment_with_checkpoint(bot: Bot, github: FakeGitHub, pr: int) -> dict[str, Any]:
    await bot.settle()
    [comment] = github.comments_on(REPO, pr)
    assert MARKER in comment["body"], comment["body"]
    return comment


async def open_two_prs(bot: Bot, github: FakeGitHub) -> list[str]:
    """PRs 2 and 5 opened; the notes their comments carry."""
    notes = []
    for pr in (2, 5):
        payload = load_payload("pull_request.opened", number=pr, pull_request__number=pr)
        status, _ = await bot.deliver("pull_request", payload)
        assert status < 300
        [note] = published_notes((await comment_with_checkpoint(bot, github, pr))["body"])
        notes.append(note)
    return notes


async def test_each_comment_carries_the_checkpoint_that_holds_its_runs(
    make_bot: Any, github: FakeGitHub, signer: cp.Signer
) -> None:
    bot = await make_bot(**log_env(signer))
    first, second = await open_two_prs(bot, github)
    one = cp.open_checkpoint(first, [signer.verifier], ORIGIN)
    two = cp.open_checkpoint(second, [signer.verifier], ORIGIN)
    assert two.size > one.size  # the second PR's events came later
    [comment] = github.comments_on(REPO, 2)
    root = base64.b64encode(one.root).decode()
    assert f"tree size {one.size}, root `{root}`" in comment["body"]
    # the checkpoint holds every event of the PR's runs, and each was written once:
    # the comment waited for the integrator instead of an extra edit
    assert len(github.writes(r"/issues/(2|5)/comments$")) == 2
    assert not github.writes(r"/issues/comments/\d+$")


async def test_witness_passes_then_catches_a_rewritten_and_re_signed_log(
    make_bot: Any, github: FakeGitHub, signer: cp.Signer, tmp_path: Path, cli_env: None
) -> None:
    bot = await make_bot(**log_env(signer))
    await open_two_prs(bot, github)
    [run] = [r["id"] for r in await bot.store.list_runs(RunFilter(repo=REPO, pr=2))]
    await bot.stop()
    url = f"sqlite:///{tmp_path}/audit.db"

    done = await acli("log", "witness", "--from-github", REPO, "--database", url)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("OK #2 comment ") for line in lines), done.stdout
    assert any(line.startswith("OK #5 comment ") for line in lines), done.stdout
    assert lines[-1] == "OK: all 2 checkpoints GitHub shows are consistent with the current tree"

    # The operator rewrites PR 2's run, rebuilds the whole log and re-signs it with the
    # bot's own key: `verify --log` is satisfied, GitHub's copies are not.
    rewrite_run(tmp_path / "audit.db", run, edited=1)
    db = sqlite3.connect(tmp_path / "audit.db")
    db.executescript(
        "DELETE FROM log_leaves; DELETE FROM log_nodes; DELETE FROM log_checkpoints; "
        "UPDATE log_head SET size = 0, frontier = ''; UPDATE events SET leaf_index = NULL;"
    )
    db.close()
    store = open_store_for(url, debounce=0)
    await store.open()
    try:
        await LogIntegrator(store, signer).run_once()
    finally:
        await store.close()
    assert (await acli("verify", "--log", "--database", url)).returncode == 0

    done = await acli("log", "witness", "--from-github", REPO, "--database", url)
    assert done.returncode == 1, done.stdout
    assert "INCONSISTENT #2 comment " in done.stdout
    assert "the log was rewritten" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("FAILED: 2 of 2 checkpoints")


async def test_witness_refuses_a_checkpoint_signed_by_another_key_and_a_truncated_log(
    make_bot: Any, github: FakeGitHub, signer: cp.Signer, tmp_path: Path, cli_env: None
) -> None:
    bot = await make_bot(**log_env(signer))
    await open_two_prs(bot, github)
    await bot.stop()
    url = f"sqlite:///{tmp_path}/audit.db"
    other = cp.generate_signer(ORIGIN)
    done = await acli(
        "log", "witness", "--from-github", REPO, "--database", url, "--key", other.verifier.key
    )
    assert done.returncode == 1
    assert done.stdout.count("no signature by a trusted key") == 2, done.stdout

    db = sqlite3.connect(tmp_path / "audit.db")  # the log cut back to one leaf
    db.execute("UPDATE log_head SET size = 1")
    db.commit()
    db.close()
    done = await acli("log", "witness", "--from-github", REPO, "--database", url)
    assert done.returncode == 1
    assert "the tree has only 1 leaves now" in done.stdout, done.stdout


async def test_a_comment_by_someone_else_is_not_a_checkpoint(
    make_bot: Any, github: FakeGitHub, signer: cp.Signer, tmp_path: Path, cli_env: None
) -> None:
    bot = await make_bot(**log_env(signer))
    await open_two_prs(bot, github)
    await bot.stop()
    [bots] = github.comments_on(REPO, 2)
    forged = {**bots, "id": 1, "user": {"login": "mallory", "type": "User"}}
    github.comments[1] = {**forged, "body": bots["body"].replace("\n2\n", "\n1\n")}
    url = f"sqlite:///{tmp_path}/audit.db"
    done = await acli("log", "witness", "--from-github", REPO, "--database", url)
    assert done.returncode == 0, done.stdout
    assert "comment 1:" not in done.stdout


async def test_witness_in_app_mode_reads_the_spend_checks_too(
    make_bot: Any,
    github: FakeGitHub,
    signer: cp.Signer,
    tmp_path: Path,
    app_pem: str,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = await make_bot(
        GITHUB_TOKEN="", GITHUB_APP_ID="12345", GITHUB_PRIVATE_KEY=app_pem, **log_env(signer)
    )
    await open_two_prs(bot, github)
    checks = [c for c in github.check_runs.values() if c["name"] == CHECK_NAME]
    assert checks and all(published_notes(c["output"]["text"]) for c in checks)
    await bot.stop()
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("GITHUB_APP_ID", "12345")
    monkeypatch.setenv("GITHUB_PRIVATE_KEY", app_pem)
    url = f"sqlite:///{tmp_path}/audit.db"
    done = await acli("log", "witness", "--from-github", REPO, "--database", url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK #2 comment " in done.stdout
    # both PRs share the fixture's head commit: one check run, carrying the checkpoint of
    # its last write (a grown log alone does not rewrite it)
    assert re.search(rf"^OK #\d+ check {HEAD[:7]}: size [12] is consistent", done.stdout, re.M)


async def test_witness_needs_github_credentials_and_a_repository(
    tmp_path: Path, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/audit.db"
    done = await acli("log", "witness", "--database", url)
    assert done.returncode == 2 and "needs --from-github" in done.stderr
    done = await acli("log", "witness", "--from-github", "nope", "--database", url)
    assert done.returncode == 2 and "OWNER/REPO" in done.stderr
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.delenv("GITHUB_WEBHOOK_SECRET")
    done = await acli("log", "witness", "--from-github", REPO, "--database", url)
    assert done.returncode == 2 and "GITHUB_TOKEN" in done.stderr
