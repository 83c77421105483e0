"""Retention removes whole runs of closed PRs, logs it, and their API answers 410."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from bot.trail.events import Event, verify_chain
from bot.workers.retention import prune_once
from tests.support.bot import REPO, Bot, load_payload

DAY = 86400.0


async def open_pr(bot: Bot, pr: int, head: str) -> str:
    payload = load_payload(
        "pull_request.opened", number=pr, pull_request__number=pr, pull_request__head__sha=head
    )
    status, body = await bot.deliver("pull_request", payload)
    assert status == 200
    return body["runs"][0]


async def close_pr(bot: Bot, pr: int, head: str) -> None:
    payload = load_payload(
        "pull_request.closed.merged",
        number=pr,
        pull_request__number=pr,
        pull_request__head__sha=head,
    )
    assert (await bot.deliver("pull_request", payload))[0] == 200


def bot_log(tmp_path: Path) -> list[dict]:
    conn = sqlite3.connect(tmp_path / "audit.db")
    try:
        rows = conn.execute("SELECT kind, data FROM bot_log WHERE kind = 'retention.pruned'")
        return [json.loads(data) for _, data in rows]
    finally:
        conn.close()


async def test_old_runs_of_closed_prs_go_whole_open_prs_stay(make_bot, tmp_path: Path) -> None:
    bot = await make_bot(AUDIT_RETENTION_DAYS="30")
    closed = await open_pr(bot, 10, "a" * 40)
    await close_pr(bot, 10, "a" * 40)
    still_open = await open_pr(bot, 11, "b" * 40)
    # A review run on the open PR that has ended: its PR is open, so it stays.
    review = load_payload("pull_request_review.submitted", pull_request__number=11)
    requested = load_payload(
        "pull_request.review_requested",
        number=11,
        pull_request__number=11,
        requested_reviewer={"login": review["review"]["user"]["login"]},
    )
    await bot.deliver("pull_request", requested)
    _, answer = await bot.deliver("pull_request_review", review)
    status, ended = await bot.request("GET", f"/api/runs/{answer['runs'][0]}")
    assert ended["kind"] == "review" and ended["ended_at"] is not None

    assert await prune_once(bot.app, now=time.time() + 29 * DAY) == []
    pruned = await prune_once(bot.app, now=time.time() + 31 * DAY)
    assert [p.run_id for p in pruned] == [closed]

    status, body = await bot.request("GET", f"/api/runs/{closed}")
    assert status == 410
    assert body["pruned_at"] == pruned[0].pruned_at
    assert "30 days" in body["reason"] and "removed by retention" in body["error"]
    status, body = await bot.request("GET", f"/api/runs/{closed}/events")
    assert status == 410 and body["reason"] == pruned[0].reason
    assert (await bot.request("GET", f"/api/runs/{'0' * 26}"))[0] == 404  # never existed

    status, body = await bot.request("GET", f"/api/runs?repo={REPO}&pr=11")
    assert status == 200 and {still_open, ended["id"]} <= {r["id"] for r in body["runs"]}
    for run in body["runs"]:
        _, trail = await bot.request("GET", f"/api/runs/{run['id']}/events")
        events = [Event.from_dict(e) for e in trail["events"]]
        assert verify_chain(events, run["id"]) is None

    [logged] = bot_log(tmp_path)
    assert logged["run_id"] == closed and logged["repo"] == REPO and logged["pr"] == 10
    conn = sqlite3.connect(tmp_path / "audit.db")
    assert conn.execute("SELECT count(*) FROM events WHERE run_id = ?", (closed,)).fetchone() == (
        0,
    )
    conn.close()


async def test_only_the_newest_runs_per_repository_are_kept(make_bot) -> None:
    bot = await make_bot(AUDIT_RETENTION_MAX_RUNS="2")
    runs = []
    for pr in (20, 21, 22, 23):
        runs.append(await open_pr(bot, pr, f"{pr:040d}"))
        if pr != 20:  # PR 20 stays open: its run is never pruned however old
            await close_pr(bot, pr, f"{pr:040d}")
    pruned = await prune_once(bot.app)
    assert sorted(p.run_id for p in pruned) == [runs[1]]
    assert "newest 2 runs" in pruned[0].reason
    assert (await bot.request("GET", f"/api/runs/{runs[1]}"))[0] == 410
    for kept in (runs[0], runs[2], runs[3]):
        assert (await bot.request("GET", f"/api/runs/{kept}"))[0] == 200
    assert await prune_once(bot.app) == []  # nothing more may go


async def test_retention_off_prunes_nothing(bot: Bot) -> None:
    await open_pr(bot, 30, "c" * 40)
    await close_pr(bot, 30, "c" * 40)
    assert await prune_once(bot.app, now=time.time() + 3650 * DAY) == []
