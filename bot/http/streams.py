"""Streaming a trail: NDJSON in constant memory, and a live Server-Sent Events tail.

NDJSON reads the store in batches (`iter_events`) and writes as it goes, so a run of
any length costs one batch of memory. The SSE tail sends the stored events after the
resume point, then new ones as they commit: it wakes on this instance's notifier
(`RunNotifier`) and also looks at the store every `POLL_SECONDS`, because another
instance's commits don't notify this one. Each trail event carries its seq as the
SSE `id`, so a reconnecting client's `Last-Event-ID` resumes exactly after the last
event it saw: nothing missed, nothing repeated. The stream closes when the run ends.

Both are bounded (`bot.http.stream_limits`): a slot cap per kind and per client
address, backpressure on every write, and a write timeout that drops a reader who
stopped reading. A reader leaving is logged at INFO, never as an error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from aiohttp import web

from bot import keys
from bot.http.stream_limits import (
    Slots,
    client_address,
    limit_send_buffer,
    log_gone,
    staggered,
    too_many,
    write_within,
)
from bot.workers.scan import event_line

HEARTBEAT_SECONDS = 15.0  # a comment line this often keeps proxies from closing the stream
POLL_SECONDS = 2.0  # look at the store this often even without a local notification
RETRY_MS = 2000  # how long a browser waits before reconnecting
NDJSON_FLUSH = 32  # events per write: each write is one slice of event-loop time
SSE_FLUSH = 64  # trail messages per write: fewer, larger writes, each one a backpressure point


class LiveStreams:
    """The open live tails, told to finish when the app shuts down."""

    def __init__(self) -> None:
        self.closing = asyncio.Event()
        self.slots = Slots()

    @property
    def open(self) -> int:
        """Live tails open now."""
        return self.slots.open["live"]

    async def on_shutdown(self, app: web.Application) -> None:
        self.closing.set()


LIVE = web.AppKey("live_streams", LiveStreams)


def setup(app: web.Application) -> None:
    live = LiveStreams()
    app[LIVE] = live
    app.on_shutdown.append(live.on_shutdown)


async def ndjson(
    request: web.Request, run_id: str, after: int, limit: int | None
) -> web.StreamResponse:
    """The trail as NDJSON, in a capped slot (see `_slot`)."""
    settings = request.app[keys.SETTINGS]
    with _slot(request, "export", settings.max_exports):
        return await _export(request, run_id, after, limit)


async def _export(
    request: web.Request, run_id: str, after: int, limit: int | None
) -> web.StreamResponse:
    store = request.app[keys.STORE]
    timeout = staggered(request.app[keys.SETTINGS].stream_write_timeout)
    response = web.StreamResponse(
        headers={"Content-Type": "application/x-ndjson; charset=utf-8", "Cache-Control": "no-store"}
    )
    limit_send_buffer(request)
    await response.prepare(request)
    lines: list[str] = []
    sent = 0
    try:
        async for event in store.iter_events(run_id, after, NDJSON_FLUSH):
            lines.append(_line(event))
            sent += 1
            if len(lines) >= NDJSON_FLUSH:
                await write_within(response, "".join(lines).encode(), timeout)
                lines.clear()
                # a write that fits the buffers returns without yielding: let a webhook
                # in between two batches, whatever the reader's speed
                await asyncio.sleep(0)
            if limit is not None and sent >= limit:
                break
        if lines:
            await write_within(response, "".join(lines).encode(), timeout)
        await response.write_eof()
    except ConnectionError as exc:  # the reader left or stopped reading
        log_gone(request, exc, "export")
    return response


@contextlib.contextmanager
def _slot(request: web.Request, kind: str, total: int) -> Iterator[None]:
    """Hold a stream slot for the block, or refuse with 503 when none is free.

    Each stream holds a connection (and a tail polls the store): caps per kind and
    per client address keep a crowd of readers, or one client opening many, from
    starving the webhooks.
    """
    live = request.app[LIVE]
    address = client_address(request)
    per_address = request.app[keys.SETTINGS].max_streams_per_client
    reason = live.slots.refusal(kind, address, total, per_address)
    if reason is not None:
        raise too_many(reason)
    with live.slots.hold(kind, address):
        yield


def _line(event: Any) -> str:
    """`event_line` (the export format, keys sorted), by orjson when it gives the same bytes.

    orjson is several times faster, and every export of a long run serialises each event
    on the event loop. It differs from `json.dumps` only for floats (exponent spelling)
    and integers past 64 bits, so events holding either take the `json` path.
    """
    data = event.as_dict()
    if not _plain(data):
        return event_line(event) + "\n"
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE).decode()


def _plain(value: Any) -> bool:
    """No floats and no integers orjson cannot hold, anywhere in `value`."""
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**64
    return False


def _sse(event: str | None, data: Any, ident: int | None = None) -> bytes:
    parts = []
    if ident is not None:
        parts.append(f"id: {ident}")
    if event:
        parts.append(f"event: {event}")
    # orjson: compact UTF-8 like json.dumps(ensure_ascii=False), at a fraction of the CPU
    # (every reader of a long run costs one serialisation per event, on the event loop)
    parts.append("data: " + orjson.dumps(data).decode())
    return ("\n".join(parts) + "\n\n").encode()


async def sse(request: web.Request, run_id: str, after: int) -> web.StreamResponse:
    """Stored events after `after`, then live ones, until the run ends or we shut down."""
    with _slot(request, "live", request.app[keys.SETTINGS].max_live_streams):
        return await _tail(request, run_id, after)


async def _tail(request: web.Request, run_id: str, after: int) -> web.StreamResponse:
    app = request.app
    store = app[keys.STORE]
    notifier = app[keys.NOTIFIER]
    closing = app[LIVE].closing
    write_timeout = staggered(app[keys.SETTINGS].stream_write_timeout)
    loop = asyncio.get_running_loop()
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache, no-store",
            "X-Accel-Buffering": "no",
        }
    )
    limit_send_buffer(request)
    await response.prepare(request)
    last = after
    last_write = loop.time()
    closed = asyncio.ensure_future(closing.wait())
    try:
        await write_within(response, f"retry: {RETRY_MS}\n\n".encode(), write_timeout)
        while True:
            # Register for the notification before looking, so a commit between the
            # look and the wait still wakes us.
            timeout = min(POLL_SECONDS, max(0.0, last_write + HEARTBEAT_SECONDS - loop.time()))
            woken = asyncio.ensure_future(notifier.wait(run_id, timeout))
            await asyncio.sleep(0)
            sent, last = await _send_stored(response, store, run_id, last, write_timeout)
            state = await store.get_run(run_id)
            if sent and state is not None:
                await write_within(response, _sse("run", state), write_timeout)
            if sent:
                last_write = loop.time()
            if state is None or _ended(state, last):
                woken.cancel()
                end = _sse("end", {"run_id": run_id, "seq": last})
                await write_within(response, end, write_timeout)
                break
            if closing.is_set():
                woken.cancel()
                break
            await asyncio.wait({woken, closed}, return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
            if closing.is_set():
                break
            if request.transport is None or request.transport.is_closing():
                return response  # the reader left: free its slot now, not at a heartbeat
            if loop.time() - last_write >= HEARTBEAT_SECONDS:
                await write_within(response, b": heartbeat\n\n", write_timeout)
                last_write = loop.time()
        await response.write_eof()
    except ConnectionError as exc:  # the client left; it resumes with Last-Event-ID
        log_gone(request, exc, "live tail")
    finally:
        closed.cancel()
    return response


async def _send_stored(
    response: web.StreamResponse, store: Any, run_id: str, last: int, write_timeout: float
) -> tuple[int, int]:
    """The stored events after `last`, `SSE_FLUSH` to a write: (how many, the new last)."""
    sent = 0
    pending: list[bytes] = []
    async for event in store.iter_events(run_id, last, SSE_FLUSH):
        pending.append(_sse("trail", event.as_dict(), event.seq))
        last = event.seq
        sent += 1
        if len(pending) >= SSE_FLUSH:
            await write_within(response, b"".join(pending), write_timeout)
            pending.clear()
            await asyncio.sleep(0)  # as in `_export`: other requests between two batches
    if pending:
        await write_within(response, b"".join(pending), write_timeout)
    return sent, last


def _ended(state: Mapping[str, Any], last: int) -> bool:
    """The run is over and the client has every event of it."""
    return state.get("ended_at") is not None and int(state.get("seq") or 0) <= last
