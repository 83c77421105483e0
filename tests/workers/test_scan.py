"""The constant-memory pass over a trail (page render, verify, rebuild)."""

from __future__ import annotations

import asyncio

import pytest

from bot.trail.events import Event
from bot.workers.scan import BATCH, continue_scan, scan_trail
from tests.support.bot import Bot
from tests.support.readside import add_notes_directly, db_path, open_pr


async def test_a_cancelled_scan_stops_reading_and_gives_its_thread_back(bot: Bot) -> None:
    """A render cut short (shutdown) must not keep hashing the rest of a long trail."""
    run_id = await open_pr(bot)
    await asyncio.to_thread(add_notes_directly, db_path(bot), run_id, 30_000)
    total = 30_001
    seen: list[int] = []

    def observe(event: Event) -> None:
        seen.append(event.seq)

    task = asyncio.create_task(scan_trail(bot.store, run_id, observe=observe))
    while len(seen) < 2 * BATCH:
        await asyncio.sleep(0.002)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    settled = -1
    while settled != len(seen):  # until the thread has stopped
        settled = len(seen)
        await asyncio.sleep(0.2)
    assert len(seen) <= 4 * BATCH < total, f"the scan read {len(seen)} of {total} events"

    whole = await scan_trail(bot.store, run_id)  # and the threads still serve whole scans
    assert whole.count == total and whole.verified


async def test_a_continued_scan_ends_where_a_whole_scan_does(bot: Bot) -> None:
    """Over more than one batch of new events, state, count and recent rows agree."""
    run_id = await open_pr(bot)
    await asyncio.to_thread(add_notes_directly, db_path(bot), run_id, 500)
    before = await scan_trail(bot.store, run_id, keep_recent=50)
    await asyncio.to_thread(add_notes_directly, db_path(bot), run_id, 2 * BATCH + 7)
    seen: list[int] = []
    continued = await continue_scan(bot.store, before, observe=lambda e: seen.append(e.seq))
    whole = await scan_trail(bot.store, run_id, keep_recent=50)
    assert continued is not None and continued.verified and whole.verified
    assert seen == list(range(502, whole.count + 1))  # the new events only
    assert (continued.count, continued.state) == (whole.count, whole.state)
    assert list(continued.recent) == list(whole.recent)
    assert before.count == 501 and before.recent[-1].seq == 501  # left as it was
