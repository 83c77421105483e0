"""Retention bounds what the store keeps beyond runs: delivery records and comment records."""

from __future__ import annotations

import sqlite3
import time

from bot.workers.retention import DEDUPE_DAYS, prune_once
from tests.support.bot import REPO, Bot
from tests.workers.test_retention import DAY, close_pr, open_pr


async def test_delivery_records_are_kept_a_week_at_least_then_forgotten(make_bot) -> None:
    # Only a per-repository cap is set: runs are bounded, and so must the deliveries be.
    bot: Bot = await make_bot(AUDIT_RETENTION_MAX_RUNS="100")
    await open_pr(bot, 10, "a" * 40)
    [delivery] = await _delivery_ids(bot)

    await prune_once(bot.app, now=time.time() + (DEDUPE_DAYS - 1) * DAY)
    assert await bot.store.known_deliveries([delivery]) == {delivery}  # GitHub may redeliver

    await prune_once(bot.app, now=time.time() + (DEDUPE_DAYS + 1) * DAY)
    assert await bot.store.known_deliveries([delivery]) == set()
    status, runs = await bot.request("GET", f"/api/runs?repo={REPO}&pr=10")
    assert status == 200 and len(runs["runs"]) == 1  # the run itself is untouched


async def test_retention_days_longer_than_a_week_keep_deliveries_as_long(make_bot) -> None:
    bot: Bot = await make_bot(AUDIT_RETENTION_DAYS="30")
    await open_pr(bot, 11, "b" * 40)
    [delivery] = await _delivery_ids(bot)

    await prune_once(bot.app, now=time.time() + 29 * DAY)
    assert await bot.store.known_deliveries([delivery]) == {delivery}
    await prune_once(bot.app, now=time.time() + 31 * DAY)
    assert await bot.store.known_deliveries([delivery]) == set()


async def test_a_pruned_prs_comment_is_found_again_by_its_marker(make_bot, github) -> None:
    bot: Bot = await make_bot(AUDIT_RETENTION_DAYS="30")
    await open_pr(bot, 12, "c" * 40)
    await close_pr(bot, 12, "c" * 40)
    await bot.settle()
    [comment] = github.comments_on(REPO, 12)

    assert len(await prune_once(bot.app, now=time.time() + 31 * DAY)) == 1
    assert await bot.store.get_comment(REPO, 12) is None  # nothing kept for a PR without runs

    await open_pr(bot, 12, "d" * 40)  # the PR comes back
    await bot.settle()
    assert [c["id"] for c in github.comments_on(REPO, 12)] == [comment["id"]]  # edited
    assert "d" * 7 in github.comments_on(REPO, 12)[0]["body"]


async def _delivery_ids(bot: Bot) -> list[str]:
    conn = sqlite3.connect(bot.store.path)
    try:
        return [row[0] for row in conn.execute("SELECT id FROM deliveries")]
    finally:
        conn.close()
