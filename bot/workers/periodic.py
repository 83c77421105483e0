"""Background jobs that run every so often for the life of the app.

One cleanup context per job: started after the core resources, cancelled before
they close. A failing pass is logged and the next one runs on schedule. Instances
sharing a store take turns (`Store.claim_turn`): each pass runs on one of them, so two
bots behind a load balancer do not both list GitHub's deliveries or prune the same runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from bot import keys

log = logging.getLogger(__name__)

Job = Callable[[web.Application], Awaitable[Any]]
CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def every(
    name: str,
    interval: float,
    job: Job,
    *,
    first_delay: float = 0.0,
    catch_up_at_start: bool = False,
) -> CleanupContext:
    """A cleanup context that runs `job(app)` now (or after `first_delay`), then every
    `interval` seconds, until the app shuts down.

    Each pass first takes the job's turn in the store, and is skipped when another
    instance ran it within `interval`. With `catch_up_at_start` the first pass runs
    whatever the others did (and counts as their turn): an instance coming back from
    downtime looks at once for what it missed.
    """

    async def loop(app: web.Application) -> None:
        await asyncio.sleep(first_delay)
        wait = 0.0 if catch_up_at_start else interval
        while True:
            try:
                if await app[keys.STORE].claim_turn(name, time.time(), wait):
                    await job(app)
                else:
                    log.debug("%s pass skipped: another instance ran it lately", name)
            except Exception as exc:  # GitHub down, store busy: try again next interval
                log.warning("%s pass failed: %s: %s", name, type(exc).__name__, exc)
            wait = interval
            await asyncio.sleep(interval)

    async def context(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(loop(app), name=name)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return context
