"""What the run page already verified, so a live page pays for its new events only.

An open run page asks for a fresh panel after every event, and "chain verified" used
to mean re-hashing and refolding the whole trail each time (over a second at 100,000
events). The page now keeps, per run, its last verified scan (seq, head hash, folded
state, the last rows, the chart's spend series) and next time reads only the event it
ended on and those after it, each linked to the head before it (`continue_scan`).

The shortcut is only ever taken from a clean state, and anything unexpected goes back
to a whole pass: a continuation that does not link (an edit, a deletion, a re-imported
or pruned run), a new event that does not verify, or an entry older than
`FULL_SCAN_SECONDS`. A scan that did not verify is never kept. The cache is bounded
(`RUNS` runs, least recently used out) and lives in this process only.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from cachetools import LRUCache

from bot.web.chart import SpendSeries
from bot.workers.scan import TrailScan, continue_scan, scan_trail

FULL_SCAN_SECONDS = 60.0
"""How long a whole-trail verification may stand in for the events it covered.

Continuing a scan checks each new event and the one it links to, not the older ones
again, so an edit to an old event (someone changing a row in the database) is only
seen by the next whole pass: at most this many seconds after the last one, on the
next render. Raising it makes a busy live page cheaper and such an edit slower to
show; `audit-bot verify` always reads everything.
"""
RUNS = 16
"""Runs remembered. An entry holds the page's last 1,000 events (about 1.6 MB of typical
spend and note events), so the cache stays under a few tens of MB; a run that fell out
costs one whole pass when next shown."""


@dataclass(frozen=True)
class Verified:
    """A verified scan of a run and the spend series gathered on the same pass.

    Never modified once stored: a continuation copies what it extends.
    """

    scan: TrailScan
    spend: SpendSeries
    whole_at: float  # clock time the whole pass this descends from started


class VerifiedTrails:
    """Per-run verified scans for the run page; one per app, used on its event loop."""

    def __init__(
        self,
        runs: int = RUNS,
        max_age: float = FULL_SCAN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.entries: LRUCache[str, Verified] = LRUCache(maxsize=runs)
        self.max_age = max_age  # tests shorten it instead of waiting
        self.clock = clock
        # One pass per run at a time: pages of the same run waiting on a whole pass
        # continue from its result instead of each reading the whole trail.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def scan(
        self,
        store: Any,
        run_id: str,
        keep_recent: int,
        *,
        whole: bool = False,
        executor: Executor | None = None,
    ) -> tuple[TrailScan, SpendSeries]:
        """The run's trail verified and folded, continued from the last scan when allowed.

        `whole` forces a pass over the whole trail (the caller saw something odd);
        `executor` is the app's scan pool.
        """
        lock = self._locks.get(run_id)
        if lock is None:
            lock = self._locks[run_id] = asyncio.Lock()
        async with lock:
            entry = self.entries.get(run_id)
            if entry is not None and not whole and self._fresh(entry, keep_recent):
                spend = entry.spend.copy()
                scan = await continue_scan(store, entry.scan, observe=spend.add, executor=executor)
                if scan is not None:
                    self.entries[run_id] = Verified(scan, spend, entry.whole_at)
                    return scan, spend
            started = self.clock()
            spend = SpendSeries()
            scan = await scan_trail(
                store, run_id, keep_recent=keep_recent, observe=spend.add, executor=executor
            )
            if scan.verified and scan.count > 0:
                self.entries[run_id] = Verified(scan, spend, started)
            else:
                self.entries.pop(run_id, None)
            return scan, spend

    def _fresh(self, entry: Verified, keep_recent: int) -> bool:
        return (
            self.clock() - entry.whole_at < self.max_age and entry.scan.recent.maxlen == keep_recent
        )


VERIFIED = web.AppKey("verified_trails", VerifiedTrails)
