"""The HTTP server around the app: read timeouts aiohttp lacks, and quiet fd exhaustion.

aiohttp has no header read timeout: a connection is only closed by its keep-alive
timer (75 s), which is armed once and never refreshed by bytes, so a client sending
one header line every 5 s holds a connection for 75 s, and one dripping a body is
never dropped. `TimedRequestHandler` adds two per-connection timers on the protocol
itself, the one place that sees bytes before any request exists:

- headers: armed when a connection opens and when the first byte of a next request
  arrives; cancelled when the parser emits the request's message (headers complete).
- body (backstop for routes that do not read through `bot.http.intake`): armed when
  a request's headers are complete and its body is not; cancelled at its last byte.

Either firing closes the connection. They are plugged in by `BotRunner`, an
`AppRunner` whose server builds this handler; everything else is aiohttp's own.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from contextlib import suppress
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_runner import GracefulExit

from bot.config import Settings
from bot.http.access_log import RedactingAccessLogger

log = logging.getLogger(__name__)

BODY_GRACE = 1.0  # seconds past AUDIT_BODY_TIMEOUT_SECONDS: the route's own 408 goes first
ACCEPT_LOG_INTERVAL = 60.0  # seconds between two "out of file descriptors" lines


class TimedRequestHandler(RequestHandler):
    """aiohttp's protocol with a header timeout and a body timeout per connection."""

    def __init__(
        self, manager: web.Server, *, header_timeout: float, body_timeout: float, **kwargs: Any
    ) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._body_timeout = body_timeout
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body: Any = None  # the payload of the last request whose headers arrived

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._header_timer = self._loop.call_later(self._header_timeout, self._too_slow, "headers")

    def data_received(self, data: bytes) -> None:
        between = self._body is None or self._body.is_eof()
        if data and between and self._header_timer is None and self._payload_parser is None:
            self._header_timer = self._loop.call_later(
                self._header_timeout, self._too_slow, "headers"
            )
        count = self._request_count
        super().data_received(data)
        if self._request_count != count and self._messages:  # headers complete
            self._cancel("_header_timer")
            self._cancel("_body_timer")
            self._body = self._messages[-1][1]
            if not self._body.is_eof():
                self._body_timer = self._loop.call_later(
                    self._body_timeout + BODY_GRACE, self._too_slow, "body"
                )
        elif self._body is not None and self._body.is_eof():
            self._cancel("_body_timer")

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel("_header_timer")
        self._cancel("_body_timer")
        self._body = None
        super().connection_lost(exc)

    def _cancel(self, name: str) -> None:
        timer = getattr(self, name)
        if timer is not None:
            timer.cancel()
            setattr(self, name, None)

    def _too_slow(self, part: str) -> None:
        setattr(self, f"_{part}_timer", None)
        if part == "body" and (self._body is None or self._body.is_eof()):
            return
        peer = self.transport.get_extra_info("peername") if self.transport else None
        log.info(
            "dropped a connection from %s: its %s did not arrive within %g s",
            peer[0] if peer else "-",
            part,
            self._header_timeout if part == "headers" else self._body_timeout,
        )
        self.force_close()


class TimedServer(web.Server):
    """aiohttp's connection factory, building `TimedRequestHandler`s."""

    def __init__(self, *args: Any, header_timeout: float, body_timeout: float, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._timeouts = {"header_timeout": header_timeout, "body_timeout": body_timeout}

    def __call__(self) -> RequestHandler:
        return TimedRequestHandler(self, loop=self._loop, **self._timeouts, **self._kwargs)


class BotRunner(web.AppRunner):
    """`AppRunner` whose server applies the header and body read timeouts."""

    def __init__(self, app: web.Application, settings: Settings, **kwargs: Any) -> None:
        # the access log line without `?token=`, `?code=`, `?state=`, `?t=` values
        kwargs.setdefault("access_log_class", RedactingAccessLogger)
        super().__init__(app, **kwargs)
        self._settings = settings

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # app startup, as aiohttp does it
        return TimedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            header_timeout=self._settings.header_timeout,
            body_timeout=self._settings.body_timeout,
            **plain._kwargs,
        )


async def start(
    app: web.Application,
    settings: Settings,
    host: str,
    port: int,
    *,
    sock: socket.socket | None = None,
    **kwargs: Any,
) -> tuple[BotRunner, int]:
    """The app served on `sock` if given (bound before the app started), else on
    `host:port` (0: any free port); the runner and the bound port."""
    quiet_accept_errors(asyncio.get_running_loop())
    runner = BotRunner(app, settings, **kwargs)
    await runner.setup()
    site = web.SockSite(runner, sock) if sock is not None else web.TCPSite(runner, host, port)
    await site.start()
    return runner, runner.addresses[0][1]


def serve(
    app: web.Application,
    settings: Settings,
    shutdown_timeout: float,
    sock: socket.socket | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, as `web.run_app` does, with `BotRunner`."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    main = loop.create_task(_serve_forever(app, settings, shutdown_timeout, sock))
    try:
        loop.run_until_complete(main)
    except (GracefulExit, KeyboardInterrupt):
        pass
    finally:
        if not main.done():
            main.cancel()
            with suppress(asyncio.CancelledError):
                loop.run_until_complete(main)
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.gather(*asyncio.all_tasks(loop), return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _serve_forever(
    app: web.Application,
    settings: Settings,
    shutdown_timeout: float,
    sock: socket.socket | None,
) -> None:
    runner, _ = await start(
        app,
        settings,
        settings.host,
        settings.port,
        sock=sock,
        handle_signals=True,
        shutdown_timeout=shutdown_timeout,
    )
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        await runner.cleanup()


class _AcceptErrors:
    """Loop exception handler: asyncio logs every failed `accept()` on EMFILE/ENFILE
    (with a traceback, once a second per listening socket, for as long as descriptors
    are short); here that is one line per interval with a count. Anything else goes
    to the handler that was there before (or asyncio's default)."""

    def __init__(self, previous: Any) -> None:
        self.previous = previous
        self.suppressed = 0
        self.last = float("-inf")

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != "socket.accept() out of system resource":
            if self.previous is not None:
                self.previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - self.last < ACCEPT_LOG_INTERVAL:
            self.suppressed += 1
            return
        log.error(
            "cannot accept connections: %s (%d more since the last line); retrying",
            context.get("exception"),
            self.suppressed,
        )
        self.last, self.suppressed = now, 0


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Install `_AcceptErrors` on `loop`, once."""
    current = loop.get_exception_handler()
    if not isinstance(current, _AcceptErrors):
        loop.set_exception_handler(_AcceptErrors(current))
