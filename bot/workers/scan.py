"""Read a whole trail once, in constant memory: verify its chain, refold its state.

The run page ("chain verified" on render), `audit-bot verify` and `rebuild` all need
the same pass. `verify_chain` and `fold` are plain functions over an iterable, so the
pass runs in a worker thread over a blocking iterator that fetches batches from the
store through the event loop: the loop stays free while thousands of events hash,
and only one batch (plus the last `keep_recent` events, and whatever the caller's
`observe` gathers) is in memory at a time.

`continue_scan` carries a verified scan on over the events stored since, so a caller
that keeps its last scan (the run page, `bot/web/verified.py`) pays for new events
only.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from bot.trail.events import ChainBreak, Event, check_link, verify_chain
from bot.trail.state import State, apply, new_state

BATCH = 1000
SCAN_THREADS = 2  # concurrent full-trail passes; more wait their turn
_pool: ThreadPoolExecutor | None = None  # the CLI's, made on first use, gone with the process
T = TypeVar("T")
SCAN_POOL: web.AppKey[Executor] = web.AppKey("scan_pool")


def scan_threads() -> ThreadPoolExecutor:
    """Own threads, so long scans never starve the loop's default executor (DNS)."""
    return ThreadPoolExecutor(max_workers=SCAN_THREADS, thread_name_prefix="trail-scan")


def _default_pool() -> ThreadPoolExecutor:
    """The pool of callers that pass none (CLI commands: one process, one command)."""
    global _pool
    if _pool is None:
        _pool = scan_threads()
    return _pool


async def scan_pool(app: web.Application) -> AsyncIterator[None]:
    """The app's scan threads (cleanup context): made at start-up, joined at cleanup."""
    pool = scan_threads()
    app[SCAN_POOL] = pool
    try:
        yield
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # queued scans are not started
        await asyncio.to_thread(pool.shutdown)  # running ones stop after their batch


@dataclass
class TrailScan:
    """What one pass over a run's events found."""

    run_id: str
    count: int = 0
    chain_break: ChainBreak | None = None
    state: State = field(default_factory=dict)
    recent: deque[Event] = field(default_factory=deque)  # the last `keep_recent` events
    continued_after: int = 0  # 0: this pass read the whole trail; else the seq it resumed after

    @property
    def verified(self) -> bool:
        return self.chain_break is None


async def scan_trail(
    store: Any,
    run_id: str,
    *,
    keep_recent: int = 0,
    observe: Callable[[Event], None] | None = None,
    executor: Executor | None = None,
) -> TrailScan:
    """Verify and refold `run_id`'s trail; keep the last `keep_recent` events too.

    `observe` sees every event in trail order, on the scan's own thread (of
    `executor`, the app's `SCAN_POOL`; by default a pool of the process's own).
    """
    scan = TrailScan(run_id=run_id, state=new_state(run_id), recent=deque(maxlen=keep_recent))
    await _on_scan_thread(functools.partial(_scan_sync, store, run_id, scan, observe), executor)
    return scan


async def _on_scan_thread(
    work: Callable[[asyncio.AbstractEventLoop, threading.Event], T],
    executor: Executor | None,
) -> T:
    """`work(loop, stop)` on a scan thread; cancelling sets `stop`, so the thread gives
    its slot back after the current batch, not the whole trail."""
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    try:
        return await loop.run_in_executor(executor or _default_pool(), work, loop, stop)
    except asyncio.CancelledError:
        stop.set()
        raise


def _scan_sync(
    store: Any,
    run_id: str,
    scan: TrailScan,
    observe: Callable[[Event], None] | None,
    loop: asyncio.AbstractEventLoop,
    stop: threading.Event,
) -> None:
    def tap() -> Iterator[Event]:
        for event in _blocking_events(store, run_id, loop, stop):
            _take(scan, event, observe)
            yield event

    events = tap()
    scan.chain_break = verify_chain(events, expected_run=run_id)
    for _ in events:  # finish the fold and the counts past a break
        pass


def _take(scan: TrailScan, event: Event, observe: Callable[[Event], None] | None) -> None:
    scan.count += 1
    scan.state = apply(scan.state, event)
    if scan.recent.maxlen:
        scan.recent.append(event)
    if observe is not None:
        observe(event)


async def continue_scan(
    store: Any,
    done: TrailScan,
    *,
    observe: Callable[[Event], None] | None = None,
    executor: Executor | None = None,
) -> TrailScan | None:
    """`done` carried on over the events stored after it; None if they don't continue it.

    `done` must be a verified scan of a non-empty trail; it is left as it was. The pass
    reads the event `done` ended on (it must still be stored, unchanged) and every
    event after it, each checked as `verify_chain` would. Anything that does not link
    gives None rather than a `chain_break`: where a trail breaks is for a whole pass
    to say. `observe` sees the new events only.
    """
    if not done.verified or done.count == 0:
        raise ValueError("only a verified scan of a non-empty trail can be continued")
    scan = TrailScan(
        run_id=done.run_id,
        count=done.count,
        state=done.state,  # `apply` never modifies a state: sharing it is safe
        recent=deque(done.recent, maxlen=done.recent.maxlen),
        continued_after=done.count,
    )
    linked = await _on_scan_thread(
        functools.partial(_continue_sync, store, scan, observe), executor
    )
    return scan if linked else None


def _continue_sync(
    store: Any,
    scan: TrailScan,
    observe: Callable[[Event], None] | None,
    loop: asyncio.AbstractEventLoop,
    stop: threading.Event,
) -> bool:
    head = str(scan.state["head_hash"])
    events = _blocking_events(store, scan.run_id, loop, stop, after=scan.count - 1)
    anchor = next(events, None)
    if (
        anchor is None
        or anchor.hash != head
        or check_link(anchor, scan.count, anchor.prev_hash, scan.run_id) is not None
    ):
        return False  # the event the scan ended on is gone or changed
    for event in events:
        if check_link(event, scan.count + 1, head, scan.run_id) is not None:
            return False
        _take(scan, event, observe)
        head = event.hash
    return not stop.is_set()


def _blocking_events(
    store: Any,
    run_id: str,
    loop: asyncio.AbstractEventLoop,
    stop: threading.Event,
    after: int = 0,
) -> Iterator[Event]:
    while not stop.is_set():
        future = asyncio.run_coroutine_threadsafe(store.get_events(run_id, after, BATCH), loop)
        while True:
            try:
                batch = future.result(timeout=0.5)
                break
            except TimeoutError:  # a loop that stopped for good never answers
                if stop.is_set() or loop.is_closed() or not loop.is_running():
                    future.cancel()
                    return
        yield from batch
        if len(batch) < BATCH:
            return
        after = batch[-1].seq


def event_line(event: Event) -> str:
    """One event as one line of JSON (keys sorted): the NDJSON and export format."""
    return json.dumps(event.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def divergence(scan: TrailScan, stored: Mapping[str, Any] | None) -> str | None:
    """The first place the stored trail or projection stops agreeing, in words."""
    if scan.chain_break is not None:
        seq, reason = scan.chain_break.seq, scan.chain_break.reason
        return reason if reason.startswith(f"event {seq} ") else f"event {seq}: {reason}"
    if stored is None:
        return "the run has no stored projection"
    if scan.count == 0:
        return "the run has no events"
    recorded = int(stored.get("seq") or 0)
    if recorded > scan.count:
        return (
            f"event {scan.count + 1}: missing (the projection records {recorded} events, "
            f"the trail holds {scan.count})"
        )
    if recorded < scan.count:
        return (
            f"event {recorded + 1}: not in the projection (it records {recorded} events, "
            f"the trail holds {scan.count})"
        )
    if stored.get("head_hash") != scan.state.get("head_hash"):
        return "the projection's head hash differs from the trail's (edited projection)"
    if dict(stored) != scan.state:
        fields = sorted(
            k for k in set(stored) | set(scan.state) if stored.get(k) != scan.state.get(k)
        )
        return "the projection differs from the fold of its events in: " + ", ".join(fields)
    return None
