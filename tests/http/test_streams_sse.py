"""The live tail: stored events, then new ones as they commit; resume; heartbeats; end."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from bot.http import streams
from bot.http.access import run_link_token
from bot.trail import events as ev
from bot.trail.intents import Append, ById, Command
from tests.support.bot import SECRET, Bot, load_payload
from tests.support.readside import append, close_pr, note, open_pr, spend


@dataclass
class Message:
    event: str | None = None
    id: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return json.loads("\n".join(self.data))


class Tail:
    """A Server-Sent Events reader over a real HTTP connection."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.comments: list[str] = []

    async def next(self, timeout: float = 5.0) -> Message | None:
        """The next message or comment block (None at the end of the stream)."""
        message = Message()
        while True:
            raw = await asyncio.wait_for(self.response.content.readline(), timeout)
            if not raw:
                return None
            line = raw.decode().rstrip("\n")
            if not line:
                if message.event or message.data or message.comments:
                    return message
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                self.comments.append(value)
                message.comments.append(value)
            elif name == "event":
                message.event = value
            elif name == "id":
                message.id = value
            elif name == "data":
                message.data.append(value)

    async def trail(self, count: int) -> list[dict[str, Any]]:
        """The next `count` trail events (skipping `run` updates)."""
        found = []
        while len(found) < count:
            message = await self.next()
            assert message is not None, f"stream ended after {found}"
            if message.event == "trail":
                assert message.id == str(message.json["seq"])
                found.append(message.json)
        return found


async def tail(
    session: aiohttp.ClientSession, bot: Bot, run_id: str, **headers: str
) -> AsyncIterator[Tail]:
    async with session.get(
        f"{bot.url}/api/runs/{run_id}/events",
        headers={"Accept": "text/event-stream", **headers},
    ) as response:
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        yield Tail(response)


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "HEARTBEAT_SECONDS", 0.3)
    monkeypatch.setattr(streams, "POLL_SECONDS", 0.1)


async def test_stored_then_live_events_then_end_when_the_run_closes(bot: Bot) -> None:
    run_id = await open_pr(bot)
    await append(bot, run_id, spend("0.10"))
    async with aiohttp.ClientSession() as session:
        async for stream in tail(session, bot, run_id):
            assert [e["seq"] for e in await stream.trail(2)] == [1, 2]
            update = await stream.next()
            assert update is not None and update.event == "run"
            assert update.json["spend"] == {"USD": "0.1"}

            started = time.perf_counter()
            await append(bot, run_id, note("live one"))
            [live] = await stream.trail(1)
            assert live["seq"] == 3 and live["data"] == {"text": "live one"}
            assert time.perf_counter() - started < 1.0  # woken by the commit, not a poll

            await close_pr(bot)
            [closed] = await stream.trail(1)
            assert closed["type"] == ev.RUN_CLOSED
            rest = []
            while (message := await stream.next()) is not None:
                rest.append(message.event)
            assert rest[-1] == "end"  # then the server closes the stream


async def test_resume_after_a_dropped_connection_misses_and_repeats_nothing(bot: Bot) -> None:
    run_id = await open_pr(bot)
    await append(bot, run_id, note("a"), note("b"))
    seen: list[int] = []
    async with aiohttp.ClientSession() as session:
        async for stream in tail(session, bot, run_id):
            seen += [e["seq"] for e in await stream.trail(2)]
            # the connection drops here, mid-stream
    await append(bot, run_id, note("c"), note("d"))  # committed while nobody listens
    await append(bot, run_id, note("e"))
    async with aiohttp.ClientSession() as session:
        async for stream in tail(session, bot, run_id, **{"Last-Event-ID": str(seen[-1])}):
            seen += [e["seq"] for e in await stream.trail(4)]
            await append(bot, run_id, note("f"))
            seen += [e["seq"] for e in await stream.trail(1)]
            await close_pr(bot)
            seen += [e["seq"] for e in await stream.trail(1)]
            while await stream.next() is not None:
                pass
    assert seen == list(range(1, 9))  # every event once, in order


async def test_heartbeats_keep_an_idle_stream_alive(bot: Bot, quick: None) -> None:
    run_id = await open_pr(bot)
    async with aiohttp.ClientSession() as session:
        async for stream in tail(session, bot, run_id):
            await stream.trail(1)
            started = time.perf_counter()
            while "heartbeat" not in stream.comments:
                assert await stream.next(timeout=2.0) is not None
            assert time.perf_counter() - started < 2.0


async def test_events_committed_elsewhere_arrive_by_polling(bot: Bot, quick: None) -> None:
    """Another instance's commit does not notify this one: the poll finds it."""
    run_id = await open_pr(bot)
    async with aiohttp.ClientSession() as session:
        async for stream in tail(session, bot, run_id):
            await stream.trail(1)
            command = Command(
                ev.Source("api", "elsewhere-1", "events"),
                [Append(ById(run_id), [ev.NewEvent(ev.NOTE, {"text": "from elsewhere"})])],
            )
            await bot.store.apply(command)  # straight to the store: no notification
            [event] = await stream.trail(1)
            assert event["data"] == {"text": "from elsewhere"}


async def test_an_ended_run_streams_its_trail_and_closes(bot: Bot) -> None:
    run_id = await open_pr(bot)
    await close_pr(bot)
    async with aiohttp.ClientSession() as session:
        async for stream in tail(session, bot, run_id, **{"Last-Event-ID": "1"}):
            events = []
            while (message := await stream.next()) is not None:
                events.append((message.event, message.id))
    assert events[0] == ("trail", "2") and events[-1][0] == "end"


async def test_private_run_tail_needs_its_token(make_bot: Any) -> None:
    bot = await make_bot()
    run_id = await open_pr(bot, 4, repo="octo-org/secret", private=True)
    status, body = await bot.request(
        "GET", f"/api/runs/{run_id}/events", headers={"Accept": "text/event-stream"}
    )
    assert (status, body) == (404, {"error": "no such run"})
    token = run_link_token(SECRET, run_id)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{bot.url}/api/runs/{run_id}/events?format=sse&t={token}") as response,
    ):
        assert response.status == 200
        assert (await Tail(response).trail(1))[0]["seq"] == 1


async def test_shutdown_closes_open_tails_promptly(bot: Bot) -> None:
    run_id = await open_pr(bot)
    async with aiohttp.ClientSession() as session:
        async for stream in tail(session, bot, run_id):
            await stream.trail(1)
            started = time.perf_counter()
            await bot.stop()
            assert time.perf_counter() - started < 5.0
            while (message := await stream.next()) is not None:  # already sent, then EOF
                assert message.event == "run"


async def test_live_tails_are_capped_and_the_slot_comes_back(make_bot) -> None:
    bot = await make_bot(AUDIT_MAX_LIVE_STREAMS="1")
    _, opened = await bot.deliver("pull_request", load_payload("pull_request.opened"))
    url = f"{bot.url}/api/runs/{opened['runs'][-1]}/events"
    accept = {"Accept": "text/event-stream"}
    assert bot.session is not None
    first = await bot.session.get(url, headers=accept)
    assert first.status == 200
    await first.content.readline()  # the stream is open and counted
    async with bot.session.get(url, headers=accept) as second:
        assert second.status == 503 and second.headers["Retry-After"] == "5"
        assert "too many live tails" in (await second.json())["error"]
    first.close()
    for _ in range(200):  # within a poll interval the server notices and frees the slot
        async with bot.session.get(url, headers=accept) as again:
            if again.status == 200:
                break
        await asyncio.sleep(0.05)
    assert again.status == 200
