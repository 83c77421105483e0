"""Streaming a trail: NDJSON in constant memory, and a live Server-Sent Events tail.

NDJSON reads the store in batches (`iter_events`) and writes as it goes, so a run of
any length costs one batch of memory. The SSE tail sends the stored events after the
resume point, then new ones as they commit: it wakes on this instance's notifier
(`RunNotifier`) and also looks at the store every `POLL_SECONDS`, because another
instance's commits don't notify this one. Each trail event carries its seq as the
SSE `id`, so a reconnecting client's `Last-Event-ID` resumes exactly after the last
event it saw: nothing missed, nothing repeated. The stream closes when the run ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bot import keys
from bot.http.errors import ApiError
from bot.workers.scan import event_line

HEARTBEAT_SECONDS = 15.0  # a comment line this often keeps proxies from closing the stream
POLL_SECONDS = 2.0  # look at the store this often even without a local notification
RETRY_MS = 2000  # how long a browser waits before reconnecting
NDJSON_FLUSH = 256  # events per write


class LiveStreams:
    """The open live tails, told to finish when the app shuts down."""

    def __init__(self) -> None:
        self.closing = asyncio.Event()
        self.open = 0

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
    store = request.app[keys.STORE]
    response = web.StreamResponse(
        headers={"Content-Type": "application/x-ndjson; charset=utf-8", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    lines: list[str] = []
    sent = 0
    try:
        async for event in store.iter_events(run_id, after):
            lines.append(event_line(event) + "\n")
            sent += 1
            if len(lines) >= NDJSON_FLUSH:
                await response.write("".join(lines).encode())
                lines.clear()
            if limit is not None and sent >= limit:
                break
        if lines:
            await response.write("".join(lines).encode())
        await response.write_eof()
    except ConnectionResetError:  # the reader went away mid-stream: nothing went wrong here
        pass
    return response


def _sse(event: str | None, data: Any, ident: int | None = None) -> bytes:
    parts = []
    if ident is not None:
        parts.append(f"id: {ident}")
    if event:
        parts.append(f"event: {event}")
    parts.append("data: " + json.dumps(data, separators=(",", ":"), ensure_ascii=False))
    return ("\n".join(parts) + "\n\n").encode()


async def sse(request: web.Request, run_id: str, after: int) -> web.StreamResponse:
    """Stored events after `after`, then live ones, until the run ends or we shut down."""
    live = request.app[LIVE]
    if live.open >= request.app[keys.SETTINGS].max_live_streams:
        # Each tail holds a connection and polls the store: a cap keeps a crowd of
        # open pages (or a client that never closes) from starving the webhooks.
        raise ApiError(
            503, "too many live tails are open; retry later", headers={"Retry-After": "5"}
        )
    live.open += 1
    try:
        return await _tail(request, run_id, after)
    finally:
        live.open -= 1


async def _tail(request: web.Request, run_id: str, after: int) -> web.StreamResponse:
    app = request.app
    store = app[keys.STORE]
    notifier = app[keys.NOTIFIER]
    closing = app[LIVE].closing
    loop = asyncio.get_running_loop()
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache, no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    last = after
    last_write = loop.time()
    closed = asyncio.ensure_future(closing.wait())
    try:
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        while True:
            # Register for the notification before looking, so a commit between the
            # look and the wait still wakes us.
            timeout = min(POLL_SECONDS, max(0.0, last_write + HEARTBEAT_SECONDS - loop.time()))
            woken = asyncio.ensure_future(notifier.wait(run_id, timeout))
            await asyncio.sleep(0)
            sent = 0
            async for event in store.iter_events(run_id, last):
                await response.write(_sse("trail", event.as_dict(), event.seq))
                last = event.seq
                sent += 1
            state = await store.get_run(run_id)
            if sent and state is not None:
                await response.write(_sse("run", state))
            if sent:
                last_write = loop.time()
            if state is None or _ended(state, last):
                woken.cancel()
                await response.write(_sse("end", {"run_id": run_id, "seq": last}))
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
                await response.write(b": heartbeat\n\n")
                last_write = loop.time()
    except ConnectionResetError:  # the client went away; it resumes with Last-Event-ID
        return response
    finally:
        closed.cancel()
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


def _ended(state: Mapping[str, Any], last: int) -> bool:
    """The run is over and the client has every event of it."""
    return state.get("ended_at") is not None and int(state.get("seq") or 0) <= last
