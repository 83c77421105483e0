"""Streams are bounded: readers who stop reading are dropped, exports are capped, and a
reader leaving is never logged as an error.

Clients here are raw sockets with a small receive buffer, so "stops reading" means
exactly that: the server's writes stop draining, as with a real stalled reader.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import ConfigError, load_settings
from bot.http import stream_limits, streams
from tests.support.bot import Bot
from tests.support.bot_process import BotProcess, signed
from tests.support.readside import add_notes_directly, db_path, open_pr, pr_payload

BIG_RUN = 20_000  # note events, about 6 MiB of NDJSON: far more than the socket buffers
ACCEPT = {"ndjson": "application/x-ndjson", "sse": "text/event-stream"}


class Client(socket.socket):
    """A raw client socket that remembers the status it was answered."""

    status = 0
    head = b""


async def stalled(port: int, path: str, fmt: str, source: str = "127.0.0.1") -> Client:
    """Send one GET, read the status line, then never read again."""
    loop = asyncio.get_running_loop()
    sock = Client()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    sock.bind((source, 0))
    await loop.sock_connect(sock, ("127.0.0.1", port))
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {ACCEPT[fmt]}\r\n\r\n"
    await loop.sock_sendall(sock, request.encode())
    head = await asyncio.wait_for(loop.sock_recv(sock, 64), 10)
    assert head.startswith(b"HTTP/1.1 "), head
    sock.status = int(head.split()[1])
    sock.head = head
    return sock


async def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """Read what is left; True once the server has closed (EOF or reset)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while loop.time() < deadline:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), deadline - loop.time())
            if not chunk:
                return True
    except (ConnectionResetError, TimeoutError):
        return loop.time() < deadline
    return False


def reset(sock: socket.socket) -> None:
    """Close with an RST, as a client that crashes or loses its network does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def port_of(bot: Bot) -> int:
    return int(bot.url.rsplit(":", 1)[1])


async def big_run(bot: Bot) -> str:
    run_id = await open_pr(bot)
    await asyncio.to_thread(add_notes_directly, db_path(bot), run_id, BIG_RUN)
    return run_id


async def until(check: Callable[[], bool], timeout: float) -> float:
    """Seconds until `check()` held; fails past `timeout`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "condition not reached in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("fmt", ["ndjson", "sse"])
async def test_a_reader_who_stops_reading_is_dropped_within_the_write_timeout(
    make_bot: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fmt: str,
) -> None:
    caplog.set_level(logging.INFO)
    bot = await make_bot(AUDIT_STREAM_WRITE_TIMEOUT_SECONDS="1")
    run_id = await big_run(bot)
    buffered: list[int] = []  # bytes waiting in the server's transport at each write
    real = stream_limits.write_within

    async def watched(response: Any, data: bytes, timeout: float) -> None:
        buffered.append(response._req.transport.get_write_buffer_size())
        await real(response, data, timeout)

    monkeypatch.setattr(streams, "write_within", watched)
    slots = bot.app[streams.LIVE].slots
    kind = "export" if fmt == "ndjson" else "live"
    sock = await stalled(port_of(bot), f"/api/runs/{run_id}/events?format={fmt}", fmt)
    try:
        assert sock.status == 200
        assert slots.open[kind] == 1
        waited = await until(lambda: slots.open[kind] == 0, timeout=6.0)
        assert waited < 4.0  # the 1 s write timeout, plus filling the buffers
        assert await closed_by_server(sock, timeout=5.0)
    finally:
        sock.close()
    # backpressure: what waits in user space stays a window, not the run (~6 MiB)
    assert max(buffered) < 512 * 1024
    assert len(buffered) < BIG_RUN // (2 if fmt == "sse" else 256)  # it stopped early
    assert errors(caplog) == []
    assert any("ended early" in r.getMessage() for r in caplog.records)
    assert slots.by_address == {}


async def test_exports_are_capped_globally_with_retry_after(
    make_bot: Callable[..., Any],
) -> None:
    bot = await make_bot(AUDIT_MAX_EXPORTS="1")
    run_id = await big_run(bot)
    path = f"/api/runs/{run_id}/events?format=ndjson"
    holder = await stalled(port_of(bot), path, "ndjson")
    try:
        assert holder.status == 200
        assert bot.session is not None
        async with bot.session.get(bot.url + path) as refused:
            assert refused.status == 503
            assert refused.headers["Retry-After"] == "5"
            assert "too many exports" in (await refused.json())["error"]
        # a JSON page and a live tail are other kinds: still served
        status, _ = await bot.request("GET", f"/api/runs/{run_id}/events?limit=1")
        assert status == 200
    finally:
        reset(holder)
    slots = bot.app[streams.LIVE].slots
    await until(lambda: slots.open["export"] == 0, timeout=5.0)
    async with bot.session.get(bot.url + path + "&limit=3") as again:
        assert again.status == 200
        assert len((await again.text()).splitlines()) == 3


async def test_streams_are_capped_per_client_address(make_bot: Callable[..., Any]) -> None:
    bot = await make_bot(AUDIT_MAX_STREAMS_PER_CLIENT="2")
    run_id = await big_run(bot)
    path = f"/api/runs/{run_id}/events"
    port = port_of(bot)
    held = [
        await stalled(port, path + "?format=ndjson", "ndjson"),
        await stalled(port, path + "?format=sse", "sse"),
    ]
    try:
        assert [s.status for s in held] == [200, 200]
        for fmt in ("ndjson", "sse"):  # tails and exports share the address's count
            third = await stalled(port, f"{path}?format={fmt}", fmt)
            assert third.status == 503
            rest = third.head + await asyncio.get_running_loop().sock_recv(third, 4096)
            assert b"Retry-After: 5" in rest and b"from your address" in rest
            third.close()
        other = await stalled(port, path + "?format=ndjson", "ndjson", source="127.0.0.2")
        assert other.status == 200  # another address: served
        held.append(other)
    finally:
        for sock in held:
            reset(sock)
    slots = bot.app[streams.LIVE].slots
    await until(lambda: not slots.by_address, timeout=5.0)


@pytest.mark.parametrize("fmt", ["ndjson", "sse"])
async def test_a_client_leaving_mid_stream_logs_no_error(
    bot: Bot, caplog: pytest.LogCaptureFixture, fmt: str
) -> None:
    caplog.set_level(logging.DEBUG)
    run_id = await big_run(bot)
    for _ in range(3):
        sock = await stalled(port_of(bot), f"/api/runs/{run_id}/events?format={fmt}", fmt)
        await asyncio.sleep(0.2)  # the server is mid-stream, its writes backed up
        reset(sock)
    slots = bot.app[streams.LIVE].slots
    await until(lambda: not slots.by_address, timeout=5.0)
    assert errors(caplog) == []
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.WARNING)
    status, _ = await bot.request("GET", f"/api/runs/{run_id}")
    assert status == 200


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AUDIT_STREAM_WRITE_TIMEOUT_SECONDS", "0", "must be more than 0 seconds"),
        ("AUDIT_STREAM_WRITE_TIMEOUT_SECONDS", "soon", "must be a number of seconds"),
        ("AUDIT_MAX_EXPORTS", "-1", "must be between 0"),
        ("AUDIT_MAX_STREAMS_PER_CLIENT", "0", "must be between 1"),
        ("AUDIT_MAX_STREAMS_PER_CLIENT", "many", "must be an integer"),
    ],
)
def test_stream_settings_fail_with_one_line(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        load_settings({name: value})
    assert name in str(raised.value) and "\n" not in str(raised.value)


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
async def test_stalled_readers_do_not_grow_a_real_bot_with_the_run(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    """A real `python -m bot`: eight stalled exports of a ~6 MiB run cost a few MiB, not 48."""
    env = {**bot_env, "AUDIT_STREAM_WRITE_TIMEOUT_SECONDS": "30"}
    process = await BotProcess(env, tmp_path / "bot.log").start()
    try:
        assert process.proc is not None
        async with aiohttp.ClientSession() as session:
            body, headers = signed("pull_request", pr_payload(), "rss-1")
            async with session.post(process.url + "/webhook", data=body, headers=headers) as r:
                run_id = (await r.json())["runs"][-1]
        path = Path(env["DATABASE_URL"].removeprefix("sqlite:///"))
        await asyncio.to_thread(add_notes_directly, path, run_id, BIG_RUN)
        port = int(process.url.rsplit(":", 1)[1])
        before = _rss(process.proc.pid)
        socks = [
            await stalled(port, f"/api/runs/{run_id}/events?format=ndjson", "ndjson")
            for _ in range(8)
        ]
        await asyncio.sleep(2.0)  # every export has filled its buffers and is waiting
        grown = _rss(process.proc.pid) - before
        for sock in socks:
            reset(sock)
        assert all(s.status == 200 for s in socks)
        assert grown < 24 * 1024 * 1024, f"RSS grew {grown / 2**20:.1f} MiB"
        assert "Traceback" not in process.log()
    finally:
        process.stop_quietly()
    assert os.path.exists(tmp_path / "bot.log")


@pytest.mark.parametrize(
    "data",
    [
        {"text": 'héllo \u2028 \x7f \x01 \x1f "q" \\ <>& / 😀'},
        {"n": 12345678901234, "nested": {"b": [1, None, True, {"z": "é"}], "a": "x"}},
        {"f": 1e16, "g": 0.1, "big": 2**70},  # the json path: orjson would spell these apart
    ],
)
def test_export_lines_are_the_export_format_byte_for_byte(data: dict[str, Any]) -> None:
    from bot.trail import events as ev
    from bot.workers.scan import event_line

    event = ev.seal(
        "01m8xqse5tdfa2hmatc7sfarkx",
        1,
        ev.NewEvent(ev.NOTE, data),
        ev.Source("api", "x", "events"),
        "2024-05-01T12:00:00.000Z",
        "0" * 64,
    )
    assert streams._line(event) == event_line(event) + "\n"


async def test_json_errors_logs_a_connection_error_as_info_only_when_the_client_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A `ConnectionError` after the client left is its leaving (INFO); one while the
    client is still there (a database connection, say) is still a logged 500."""
    from aiohttp import web

    from bot.http.errors import json_errors
    from tests.support.bot import start_server

    caplog.set_level(logging.INFO)
    gone = asyncio.Event()

    async def leaves(request: web.Request) -> web.StreamResponse:
        while request.transport is not None and not request.transport.is_closing():
            await asyncio.sleep(0.01)
        gone.set()
        raise ConnectionError("Connection lost")

    async def breaks(request: web.Request) -> web.StreamResponse:
        raise ConnectionError("database connection refused")

    app = web.Application(middlewares=[json_errors])
    app.router.add_get("/leaves", leaves)
    app.router.add_get("/breaks", breaks)
    runner, url = await start_server(app)
    try:
        port = int(url.rsplit(":", 1)[1])
        loop = asyncio.get_running_loop()
        sock = Client()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, b"GET /leaves HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(0.1)
        reset(sock)
        await asyncio.wait_for(gone.wait(), 5)
        await asyncio.sleep(0.1)
        assert errors(caplog) == []
        assert any("client left during GET /leaves" in r.getMessage() for r in caplog.records)
        async with aiohttp.ClientSession() as session, session.get(url + "/breaks") as r:
            assert r.status == 500
        assert any(r.exc_info for r in caplog.records if r.levelno >= logging.ERROR)
    finally:
        await runner.cleanup()


def test_write_timeouts_are_staggered_so_stalled_readers_are_not_dropped_together() -> None:
    timeouts = [stream_limits.staggered(10.0) for _ in range(200)]
    assert all(10.0 <= t <= 10.0 * (1 + stream_limits.STAGGER) for t in timeouts)
    assert max(timeouts) - min(timeouts) > 2.0  # spread over seconds, not one instant
