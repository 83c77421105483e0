"""In-process notification of committed events, for live tails (SSE) and tests.

A waiter learns that a run has new events without polling the store; with several
instances, readers also poll (another instance's commits don't notify this one).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable


class RunNotifier:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._on_commit: list[Callable[[], None]] = []

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` after every commit that added events (the log integrator)."""
        self._on_commit.append(callback)

    def publish(self, run_ids: Iterable[str]) -> None:
        for callback in self._on_commit:
            callback()
        for run_id in run_ids:
            for waiter in self._waiters.get(run_id, ()):
                waiter.set()

    async def wait(self, run_id: str, timeout: float) -> bool:
        """True when the run got new events within `timeout` seconds."""
        waiter = asyncio.Event()
        self._waiters[run_id].add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), timeout)
            return waiter.is_set()
        finally:
            self._waiters[run_id].discard(waiter)
            if not self._waiters[run_id]:
                del self._waiters[run_id]
