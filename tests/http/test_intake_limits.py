"""Issue 10, classes 4-6 over real sockets: slow headers and bodies are dropped within
their timeouts, unsigned large bodies are refused with memory bounded, and a
SHA-1-only signature is a 401."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.http.intake import BUDGET
from tests.support.bot import SECRET, Bot, load_payload, sign

BODY = json.dumps(load_payload("pull_request.opened")).encode()
MIB = 1024 * 1024


async def connect(bot: Bot, source: str = "127.0.0.1") -> tuple[Any, Any]:
    where = urlsplit(bot.url)
    return await asyncio.open_connection(where.hostname, where.port, local_addr=(source, 0))


def head(length: int, signature: str | None, **extra: str) -> bytes:
    lines = [
        "POST /webhook HTTP/1.1",
        "Host: bot",
        "X-GitHub-Event: pull_request",
        "X-GitHub-Delivery: d-attack",
        "Content-Type: application/json",
        f"Content-Length: {length}",
        *(f"{k.replace('_', '-')}: {v}" for k, v in extra.items()),
    ]
    if signature is not None:
        lines.append(f"X-Hub-Signature-256: {signature}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def closed_within(reader: Any, seconds: float) -> bytes:
    """Everything the bot sent until it closed the connection (fails past `seconds`)."""
    return await asyncio.wait_for(reader.read(), seconds)


async def test_a_client_sending_one_header_line_a_second_is_dropped(make_bot: Any) -> None:
    bot = await make_bot(AUDIT_HEADER_TIMEOUT_SECONDS="2")
    reader, writer = await connect(bot)
    started = time.monotonic()

    async def drip() -> None:
        writer.write(b"POST /webhook HTTP/1.1\r\n")
        for n in range(30):
            await asyncio.sleep(1)
            writer.write(f"X-Slow-{n}: x\r\n".encode())

    dripping = asyncio.create_task(drip())
    try:
        answer = await closed_within(reader, 6)
    finally:
        dripping.cancel()
        writer.close()
    assert answer == b""  # no request was ever complete: nothing to answer
    assert 1.5 < time.monotonic() - started < 4
    assert (await bot.request("GET", "/healthz"))[0] == 200  # others are still served


async def test_an_idle_connection_is_dropped_at_the_header_timeout(make_bot: Any) -> None:
    bot = await make_bot(AUDIT_HEADER_TIMEOUT_SECONDS="1")
    reader, writer = await connect(bot)
    started = time.monotonic()
    assert await closed_within(reader, 4) == b""
    writer.close()
    assert time.monotonic() - started < 3


async def test_a_client_dripping_its_body_gets_408_within_the_body_timeout(
    make_bot: Any,
) -> None:
    bot = await make_bot(AUDIT_BODY_TIMEOUT_SECONDS="2")
    reader, writer = await connect(bot)
    writer.write(head(len(BODY), sign(BODY)))
    started = time.monotonic()

    async def drip() -> None:
        for byte in BODY[:50]:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.5)

    dripping = asyncio.create_task(drip())
    try:
        status_line = await asyncio.wait_for(reader.readline(), 5)
        assert b" 408 " in status_line, status_line
        assert time.monotonic() - started < 4
    finally:
        dripping.cancel()
        writer.close()
    assert await bot.store.delivery_counts() == {}
    assert bot.app[BUDGET].in_flight == 0  # type: ignore[index]


async def test_a_dripped_body_on_a_route_that_never_reads_it_is_still_dropped(
    make_bot: Any,
) -> None:
    """The server's backstop: bytes after headers count against the body timeout even
    when no handler reads them (here `/healthz` answers without reading)."""
    bot = await make_bot(AUDIT_BODY_TIMEOUT_SECONDS="1")
    reader, writer = await connect(bot)
    writer.write(b"POST /healthz HTTP/1.1\r\nHost: bot\r\nContent-Length: 1000\r\n\r\n")
    started = time.monotonic()

    async def drip() -> None:
        for _ in range(60):
            writer.write(b"x")
            await asyncio.sleep(0.2)

    dripping = asyncio.create_task(drip())
    try:
        await closed_within(reader, 6)
    finally:
        dripping.cancel()
        writer.close()
    assert time.monotonic() - started < 4


async def test_sha1_only_is_401_and_writes_nothing(bot: Bot) -> None:
    sha1 = "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    status, answer = await bot.deliver(
        "pull_request",
        None,
        raw=BODY,
        headers={"X-Hub-Signature-256": None, "X-Hub-Signature": sha1},  # type: ignore[dict-item]
    )
    assert status == 401, answer
    assert await bot.store.delivery_counts() == {}
    both = {"X-Hub-Signature": sha1}  # as GitHub sends it: both headers
    status, answer = await bot.deliver("pull_request", None, raw=BODY, headers=both)
    assert (status, answer["status"]) == (200, "recorded")


def rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def send_large(bot: Bot, size: int, source: str, signature: str | None) -> bytes:
    """A large body sent as fast as the bot takes it; what the bot answered (or b"")."""
    try:
        reader, writer = await connect(bot, source)
    except OSError:
        return b""
    chunk = b"x" * 65536
    try:
        writer.write(head(size, signature))
        for _ in range(size // len(chunk)):
            writer.write(chunk)
            await writer.drain()
        return await asyncio.wait_for(reader.readline(), 10)
    except (TimeoutError, ConnectionError):
        return b""
    finally:
        writer.close()


@pytest.fixture
async def budgeted(make_bot: Any) -> Bot:
    return await make_bot(
        AUDIT_MAX_BODY_BYTES=str(4 * MIB),
        AUDIT_MAX_BODY_BYTES_IN_FLIGHT=str(12 * MIB),
        AUDIT_MAX_BODY_BYTES_PER_ADDRESS=str(4 * MIB),
    )


async def test_many_concurrent_large_bodies_are_refused_with_memory_bounded(
    budgeted: Bot,
) -> None:
    """40 clients (4 addresses) each send a 4 MiB body with a wrong signature: the
    bytes held never exceed the budget, RSS stays far from 160 MiB, and a signed
    delivery from another address is recorded meanwhile."""
    bot = budgeted
    budget = bot.app[BUDGET]  # type: ignore[index]
    wrong = "sha256=" + "0" * 64
    baseline, peak_rss, sampling = rss(), 0, True

    async def sample() -> None:
        nonlocal peak_rss
        while sampling:
            peak_rss = max(peak_rss, rss())
            assert budget.in_flight <= budget.total
            assert all(held <= budget.per_address for held in budget.by_address.values())
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    attack = [
        asyncio.create_task(send_large(bot, 4 * MIB, f"127.0.0.{2 + n % 4}", wrong))
        for n in range(40)
    ]
    await asyncio.sleep(0.2)
    status, answer = await bot.deliver("pull_request", None, raw=BODY)  # from 127.0.0.1
    assert (status, answer["status"]) == (200, "recorded"), answer
    answers = await asyncio.gather(*attack)
    sampling = False
    await sampler
    assert budget.peak <= budget.total
    assert budget.in_flight == 0 and not budget.by_address
    statuses = {line.split(b" ")[1] for line in answers if line}
    assert statuses <= {b"401", b"503"}, answers
    assert b"503" in statuses  # the budget was reached, and answered as such
    assert peak_rss - baseline < 80 * MIB, (peak_rss - baseline) / MIB
    assert sum((await bot.store.delivery_counts()).values()) == 1  # the signed one only


async def test_an_unsigned_large_body_is_refused_before_it_is_read(budgeted: Bot) -> None:
    bot = budgeted
    budget = bot.app[BUDGET]  # type: ignore[index]
    reader, writer = await connect(bot)
    writer.write(head(4 * MIB, None))  # headers only: the body never comes
    status_line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert b" 401 " in status_line
    assert budget.peak == 0  # not a byte of it was held


async def test_a_wrong_signature_is_refused_holding_at_most_the_address_share(
    budgeted: Bot,
) -> None:
    bot = budgeted
    budget = bot.app[BUDGET]  # type: ignore[index]
    line = await send_large(bot, 4 * MIB, "127.0.0.9", "sha256=" + "f" * 64)
    assert b" 401 " in line
    assert 0 < budget.peak <= budget.per_address
    assert budget.in_flight == 0
    assert await bot.store.delivery_counts() == {}


async def test_a_declared_length_past_the_room_left_is_503_at_once(budgeted: Bot) -> None:
    bot = budgeted
    budget = bot.app[BUDGET]  # type: ignore[index]
    assert budget.take("127.0.0.1", 3 * MIB)  # this address already holds 3 MiB
    try:
        reader, writer = await connect(bot)
        writer.write(head(2 * MIB, "sha256=" + "0" * 64))
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.close()
    finally:
        budget.give_back("127.0.0.1", 3 * MIB)
    assert b" 503 " in answer.split(b"\r\n")[0]
    assert b"Retry-After: 5" in answer


def test_out_of_descriptors_at_accept_is_one_line_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """asyncio reports each failed accept() on EMFILE with a traceback; other loop
    errors still reach the previous handler."""
    import errno

    from bot.http.server import _AcceptErrors

    passed_on: list[dict[str, Any]] = []
    handler = _AcceptErrors(lambda loop, context: passed_on.append(context))
    emfile = OSError(errno.EMFILE, "Too many open files")
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level("INFO", logger="bot.http.server"):
            for _ in range(500):
                handler(
                    loop, {"message": "socket.accept() out of system resource", "exception": emfile}
                )
            handler(loop, {"message": "something else"})
    finally:
        loop.close()
    lines = [r for r in caplog.records if r.name == "bot.http.server"]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert handler.suppressed == 499
    assert passed_on == [{"message": "something else"}]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"AUDIT_HEADER_TIMEOUT_SECONDS": "0"}, "AUDIT_HEADER_TIMEOUT_SECONDS"),
        ({"AUDIT_BODY_TIMEOUT_SECONDS": "soon"}, "AUDIT_BODY_TIMEOUT_SECONDS"),
        ({"AUDIT_MAX_BODY_BYTES_IN_FLIGHT": "x"}, "AUDIT_MAX_BODY_BYTES_IN_FLIGHT"),
        ({"AUDIT_MAX_BODY_BYTES_PER_ADDRESS": "4096"}, "AUDIT_MAX_BODY_BYTES_PER_ADDRESS"),
        (
            {
                "AUDIT_MAX_BODY_BYTES_IN_FLIGHT": "2048",
                "AUDIT_MAX_BODY_BYTES": "1024",
                "AUDIT_API_MAX_BODY_BYTES": "1024",
                "AUDIT_MAX_BODY_BYTES_PER_ADDRESS": "4096",
            },
            "AUDIT_MAX_BODY_BYTES_PER_ADDRESS",
        ),
    ],
)
def test_bad_intake_settings_are_one_line_naming_the_variable(
    env: dict[str, str], named: str
) -> None:
    from bot.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match=named):
        load_settings(env)
