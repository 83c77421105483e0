"""Bounds on open streams: how many, from whom, and how long one write may wait.

A stream (NDJSON export or SSE tail) holds a connection for as long as its reader
keeps it, so without bounds a few hundred clients that never read can hold the
bot's memory and file descriptors. Three limits hold it:

- a slot count per kind (exports, live tails) and per client address, taken before
  the response starts and given back when the handler returns, whatever happens;
- a small kernel send buffer per stream socket (`SEND_BUFFER`), so a stalled reader
  stops the stream after a window instead of absorbing megabytes into auto-tuned
  kernel buffers (which cost memory, and CPU to produce);
- backpressure: each write awaits `StreamResponse.write`, which waits for the
  transport to drain, so at most one write's bytes sit in user space per stream
  (plus the kernel's socket buffers);
- a write timeout: a write that cannot drain within it means the reader stopped
  reading, so the transport is closed and the handler ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from bot.http.errors import ApiError

log = logging.getLogger(__name__)

SEND_BUFFER = 64 * 1024  # kernel send buffer of a stream's socket (Linux doubles it)
RETRY_AFTER = "5"  # seconds a refused client waits; streams are long, slots come back slowly


class StalledReader(ConnectionError):
    """The reader did not take a write within the write timeout; it was dropped."""


class Slots:
    """Open streams counted per kind (a global cap each) and per client address.

    The per-address count is shared by every kind, so one address cannot take all
    the exports and all the tails. Addresses are the TCP peer's (`request.remote`):
    behind a proxy they are the proxy's, and the global caps still hold.
    """

    def __init__(self) -> None:
        self.open: Counter[str] = Counter()  # kind -> open streams
        self.by_address: Counter[str] = Counter()

    def refusal(self, kind: str, address: str, total: int, per_address: int) -> str | None:
        """Why a new stream of `kind` from `address` is refused, or None if it may open."""
        if self.open[kind] >= total:
            return f"too many {_NAMES.get(kind, kind)} are open; retry later"
        if self.by_address[address] >= per_address:
            return "too many streams are open from your address; retry later"
        return None

    @contextmanager
    def hold(self, kind: str, address: str) -> Iterator[None]:
        """Count one stream for the duration of the block."""
        self.open[kind] += 1
        self.by_address[address] += 1
        try:
            yield
        finally:
            self.open[kind] -= 1
            self.by_address[address] -= 1
            if self.by_address[address] <= 0:
                del self.by_address[address]


_NAMES = {"live": "live tails", "export": "exports"}


def limit_send_buffer(request: web.Request) -> None:
    """Cap the kernel's send buffer for this connection (it auto-tunes up to MiBs).

    A fast reader is unaffected on a LAN; over a long path throughput is bounded
    by `SEND_BUFFER` per round trip, a fair price for a public, unauthenticated stream.
    """
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)


STAGGER = 0.5  # a stream's write timeout is the setting times 1 to 1 + STAGGER


def staggered(timeout: float) -> float:
    """One stream's write timeout: the setting, plus a random share of it.

    Readers who stall together (one attacker opening a hundred streams at once) would
    otherwise be dropped in the same instant and, reconnecting at once, all start
    their streams in the same instant too: a burst of store reads and serialisation
    that the webhooks wait behind. Spread over half the timeout, the drops (and the
    reconnections they cause) come a few at a time.
    """
    return timeout * (1.0 + random.random() * STAGGER)


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


async def write_within(response: web.StreamResponse, data: bytes, timeout: float) -> None:
    """Write `data`, waiting for the reader to take it (backpressure), but not forever.

    `StreamResponse.write` returns once the transport's buffer is under its high-water
    mark; a reader who stopped reading keeps it above, and the write never returns.
    Past `timeout` the transport is closed (freeing its buffer) and `StalledReader`
    is raised, which callers treat like any other client disconnect.
    """
    try:
        async with asyncio.timeout(timeout):
            await response.write(data)
    except TimeoutError:
        transport = _transport(response)
        if transport is not None:
            transport.abort()  # close() would wait to flush what the reader won't take
        raise StalledReader(f"the reader took nothing for {timeout:g} s") from None


def _transport(response: web.StreamResponse) -> asyncio.Transport | None:
    request = getattr(response, "_req", None)
    return request.transport if request is not None else None  # type: ignore[no-any-return]


def log_gone(request: web.Request, exc: BaseException, what: str) -> None:
    """One INFO line for a reader who left (or was dropped): nothing went wrong here."""
    log.info(
        "%s of %s ended early for %s: %s",
        what,
        request.path,
        client_address(request),
        str(exc) or type(exc).__name__,
    )


def too_many(message: str) -> ApiError:
    """503 with `Retry-After`, as for the other caps."""
    return ApiError(503, message, headers={"Retry-After": RETRY_AFTER})
