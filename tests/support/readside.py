"""Helpers for the read-side tests: runs made through real webhooks and commits.

Runs are opened by delivering real example payloads; spend, proofs and notes are
appended through `bot.workers.commit.commit`, the same path the reporter API uses.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bot.store.sql import EVENTS_INSERT
from bot.trail import events as ev
from bot.trail.intents import Append, ById, Command, OpenRun, RunSpec
from bot.workers.commit import commit
from tests.support.bot import HEAD, REPO, Bot, load_payload


def pr_payload(pr: int = 2, *, repo: str = REPO, private: bool = False, head: str = HEAD) -> dict:
    payload = load_payload(
        "pull_request.opened",
        number=pr,
        pull_request__number=pr,
        pull_request__head__sha=head,
        repository__private=private,
    )
    payload["repository"]["full_name"] = repo
    payload["pull_request"]["html_url"] = f"https://github.com/{repo}/pull/{pr}"
    return payload


async def open_pr(bot: Bot, pr: int = 2, **kwargs: Any) -> str:
    """Deliver `pull_request.opened`; the new PR run's ID."""
    status, body = await bot.deliver("pull_request", pr_payload(pr, **kwargs))
    assert status == 200, body
    return body["runs"][-1]


async def close_pr(bot: Bot, pr: int = 2, *, repo: str = REPO, merged: bool = True) -> None:
    name = "pull_request.closed.merged" if merged else "pull_request.closed.unmerged"
    payload = load_payload(name, number=pr, pull_request__number=pr)
    payload["repository"]["full_name"] = repo
    status, body = await bot.deliver("pull_request", payload)
    assert status == 200, body


async def open_agent_run(
    bot: Bot,
    *,
    repo: str = REPO,
    pr: int = 2,
    budget: dict[str, str] | None = None,
    name: str = "review bot",
) -> str:
    spec = RunSpec(
        kind="agent",
        repo=repo,
        pr=pr,
        head_sha=HEAD,
        name=name,
        private=False,
        opened_data={"budget": budget} if budget else {},
    )
    command = Command(
        ev.Source("api", f"open-{uuid.uuid4()}", "open"),
        [OpenRun(f"api:test:{uuid.uuid4().hex}", spec)],
    )
    result = await commit(bot.app, command)  # type: ignore[arg-type]
    return result.opened[0]


async def append(bot: Bot, run_id: str, *new: ev.NewEvent) -> None:
    command = Command(
        ev.Source("api", f"batch-{uuid.uuid4()}", "events"), [Append(ById(run_id), new)]
    )
    result = await commit(bot.app, command)  # type: ignore[arg-type]
    assert result.events == len(new)


def spend(amount: str, currency: str = "USD", category: str = "llm", **extra: Any) -> ev.NewEvent:
    return ev.NewEvent(
        ev.SPEND, {"amount": amount, "currency": currency, "category": category, **extra}
    )


def note(text: str) -> ev.NewEvent:
    return ev.NewEvent(ev.NOTE, {"text": text})


BASE_TX = "0x" + "5e" * 32


def proof(status: str = "settled", tx: str = BASE_TX) -> ev.NewEvent:
    return ev.NewEvent(
        ev.PROOF,
        {
            "network": "eip155:8453",
            "tx": tx,
            "status": status,
            "amount": "1.25",
            "currency": "USDC",
        },
    )


def db_path(bot: Bot) -> Path:
    return Path(bot.env["DATABASE_URL"].removeprefix("sqlite:///"))


def stored_events(path: Path, run_id: str) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT run_id, seq, type, at, recorded_at, source, data, prev_hash, hash "
            "FROM events WHERE run_id = ? ORDER BY seq",
            (run_id,),
        ).fetchall()
    return [
        {
            "run_id": r[0],
            "seq": r[1],
            "type": r[2],
            "at": r[3],
            "recorded_at": r[4],
            "source": json.loads(r[5]),
            "data": json.loads(r[6]),
            "prev_hash": r[7],
            "hash": r[8],
        }
        for r in rows
    ]


def stored_states(path: Path) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(path) as conn:
        return {r[0]: json.loads(r[1]) for r in conn.execute("SELECT id, state FROM runs")}


def add_notes_directly(path: Path, run_id: str, count: int) -> str:
    """Append `count` note events with real hashes straight into SQLite (fast, big runs).

    Returns the new head hash; the run's projection is refolded to match.
    """
    from bot.trail.state import apply

    source = ev.Source("api", "bulk", "events")
    with sqlite3.connect(path) as conn:
        seq, head, state_text = conn.execute(
            "SELECT last_seq, head_hash, state FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        state = json.loads(state_text)

        def rows() -> Iterator[tuple[Any, ...]]:
            nonlocal seq, head, state
            for i in range(count):
                seq += 1
                event = ev.seal(
                    run_id,
                    seq,
                    ev.NewEvent(ev.NOTE, {"text": f"step {i} of a long agent loop"}),
                    source,
                    "2024-05-01T12:00:00.000Z",
                    head,
                )
                state = apply(state, event)
                head = event.hash
                yield (
                    run_id,
                    seq,
                    event.type,
                    event.at,
                    event.recorded_at,
                    json.dumps(event.source, separators=(",", ":")),
                    json.dumps(event.data, separators=(",", ":")),
                    event.prev_hash,
                    event.hash,
                )

        conn.executemany(EVENTS_INSERT.replace("$", "?"), rows())
        conn.execute(
            "UPDATE runs SET last_seq = ?, head_hash = ?, state = ? WHERE id = ?",
            (seq, head, json.dumps(state, separators=(",", ":")), run_id),
        )
    return head


def chain_ok(events: Sequence[dict[str, Any]]) -> bool:
    return ev.verify_chain(ev.Event.from_dict(e) for e in events) is None
