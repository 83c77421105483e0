"""Stopping the log integrator ends it even when the stop lands as a wake-up does
(Python 3.11's `asyncio.wait_for` can swallow that cancel: the bot then hung on SIGTERM)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.store import open_store_for
from bot.trail import checkpoint as cp
from bot.workers.log_integrator import LogIntegrator


async def test_a_stop_that_meets_a_wake_up_still_ends_the_loop(tmp_path: Path) -> None:
    store = open_store_for(f"sqlite:///{tmp_path / 'audit.db'}", debounce=0)
    await store.open()
    try:
        integrator = LogIntegrator(store, cp.generate_signer("audit.example.test/log"))
        for _ in range(50):
            integrator.start()
            await asyncio.sleep(0)  # the loop now waits for a wake-up
            integrator.wake()  # the wait ends in the same turn as the cancel below
            stopping = asyncio.ensure_future(integrator.stop())
            done, _ = await asyncio.wait({stopping}, timeout=5)
            assert done, "the integrator did not stop"
    finally:
        await store.close()
