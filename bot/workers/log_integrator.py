"""The log integrator: committed events become leaves, and grown trees get checkpoints.

Off the webhook path: a commit only wakes it. It integrates in batches until nothing is
pending, then signs and stores a checkpoint if the tree grew; it wakes on this
instance's commits and at least every `interval` seconds (other instances' commits).
Instances integrate one at a time through the store's lock on the log head, so any
number may run it. Merge delay: an event is in a signed checkpoint at most
`interval` (1 s) plus the time to integrate what is pending (a few ms per batch of
1000) after its commit; the documented bound is 5 s. Passes are at least `MIN_GAP`
(0.5 s) apart, so a burst of commits costs a few passes a second, not one each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot import keys
from bot.store.base import LogStore
from bot.trail.checkpoint import Signer, checkpoint_body, sign_note

log = logging.getLogger(__name__)

BATCH = 1000
INTERVAL = 1.0
# Passes start at most this often, however often commits wake the integrator: under a
# burst a pass per commit group signed a checkpoint a dozen times a second, each
# costing the store two writes and a signature. Leaves pending meanwhile go into the
# next pass, so the merge delay grows by at most this much.
MIN_GAP = 0.5


class LogIntegrator:
    def __init__(
        self, store: LogStore, signer: Signer, interval: float = INTERVAL, min_gap: float = MIN_GAP
    ) -> None:
        self.store = store
        self.signer = signer
        self.interval = interval
        self.min_gap = min(min_gap, interval)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Integrate everything pending; sign a checkpoint if the tree grew. The size."""
        while True:
            head = await self.store.integrate(BATCH)
            if head.size == 0 or head.size % BATCH:
                break  # a short batch: nothing more was pending
        latest = await self.store.latest_checkpoint()
        if head.size and (latest is None or latest.size < head.size):
            body = checkpoint_body(self.signer.name, head.size, head.root)
            await self.store.save_checkpoint(head.size, head.root, sign_note(body, [self.signer]))
        return head.size

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            if self._stopping:
                # Python 3.11's wait_for can swallow a cancel that lands as the wait
                # ends; the flag (and the wake `stop` sends) ends the loop regardless.
                return
            self._wake.clear()
            started = asyncio.get_running_loop().time()
            try:
                await self.run_once()
            except Exception as exc:  # store busy or down: the next pass tries again
                log.warning("log integration failed: %s: %s", type(exc).__name__, exc)
            spent = asyncio.get_running_loop().time() - started
            if spent < self.min_gap:
                await asyncio.sleep(self.min_gap - spent)

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="log-integrator")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


INTEGRATOR = web.AppKey("log_integrator", LogIntegrator)


def setup(app: web.Application) -> None:
    """Run the integrator for the app's life (after the store opens, before it closes)."""
    app.cleanup_ctx.append(_integrator)


async def _integrator(app: web.Application) -> AsyncIterator[None]:
    from bot.workers.log_signing import load_signer

    integrator = LogIntegrator(app[keys.STORE], load_signer(app[keys.SETTINGS]))
    app[INTEGRATOR] = integrator
    app[keys.NOTIFIER].on_commit(integrator.wake)
    integrator.start()
    try:
        yield
    finally:
        await integrator.stop()
        with contextlib.suppress(Exception):
            await integrator.run_once()  # what this instance committed last is logged now
