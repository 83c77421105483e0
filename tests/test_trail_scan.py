"""The constant-memory pass over a trail (page render, verify, rebuild)."""

from __future__ import annotations

import asyncio

import pytest

from bot.scan import BATCH, scan_trail
from bot.trail.events import Event
from tests.conftest import Bot
from tests.readside import add_notes_directly, db_path, open_pr


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
