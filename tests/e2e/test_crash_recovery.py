"""Crash and shutdown of the real process: SIGKILL mid-burst, SIGTERM with pending writes.

The bot runs as `python -m bot` (token mode) against the fake GitHub served by this
test process, on a SQLite file in tmp, exactly as an operator would run it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from bot.trail.events import Event, verify_chain
from tests.support.bot import REPO, SECRET, load_payload
from tests.support.bot_process import BotProcess, get_json, signed, wait_settled
from tests.support.fake_github import TOKEN_USER, FakeGitHub

PRS = (2, 3, 4, 5)
DELIVERIES = 200
CONCURRENCY = 16


def head(pr: int) -> str:
    return f"{pr:02d}" * 20


def bot_env(tmp_path: Path, github: FakeGitHub, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path}/audit.db",
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_TOKEN": "ghp_crash_test",
        "GITHUB_API_URL": github.url,
        "PUBLIC_URL": "https://audit.example.test",
        "AUDIT_LOG_FORMAT": "json",
        **extra,
    }


def burst() -> list[tuple[str, str, dict]]:
    """(delivery id, event, payload): each PR opened, then CI jobs spread over the PRs."""
    opened = load_payload("pull_request.opened")
    items = [
        (
            f"open-{pr}",
            "pull_request",
            load_payload(
                "pull_request.opened",
                number=pr,
                pull_request__number=pr,
                pull_request__head__sha=head(pr),
            ),
        )
        for pr in PRS
    ]
    for i in range(DELIVERIES - len(PRS)):
        pr = PRS[i % len(PRS)]
        job = load_payload(
            "workflow_job.in_progress",
            repository=opened["repository"],
            workflow_job__head_sha=head(pr),
            workflow_job__id=10_000 + i,
        )
        items.append((f"job-{i}", "workflow_job", job))
    return items


async def send_all(
    session: aiohttp.ClientSession,
    url: str,
    items: list[tuple[str, str, dict]],
    on_ok: Callable[[int], None] | None = None,
) -> set[str]:
    """Send at CONCURRENCY; return the delivery ids answered 2xx."""
    acknowledged: set[str] = set()
    queue = iter(items)

    async def worker() -> None:
        for delivery, event, payload in queue:
            body, headers = signed(event, payload, delivery)
            try:
                async with session.post(url + "/webhook", data=body, headers=headers) as resp:
                    await resp.read()
                    assert resp.status < 500, resp.status
                    if 200 <= resp.status < 300:
                        acknowledged.add(delivery)
                        if on_ok is not None:
                            on_ok(len(acknowledged))
            except (TimeoutError, aiohttp.ClientError):
                pass  # the bot died under this request: GitHub would mark it failed

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return acknowledged


async def test_sigkill_mid_burst_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, github: FakeGitHub
) -> None:
    env = bot_env(tmp_path, github, AUDIT_COMMENT_DEBOUNCE_SECONDS="0.05")
    bot = await BotProcess(env, tmp_path / "bot.log").start()
    # Slow comment writes, so the kill lands while the outbox holds a claimed row and
    # GitHub may already have the comment the bot has not recorded yet.
    github.slow("POST", r"/comments$", 0.2)
    github.slow("PATCH", r"/issues/comments/", 0.2)
    items = burst()
    timeout = aiohttp.ClientTimeout(total=20)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            first = await send_all(session, bot.url, items[: len(PRS)])
            assert first == {d for d, _, _ in items[: len(PRS)]}
            kill_at = len(items) // 2

            def maybe_kill(count: int) -> None:
                alive = bot.proc is not None and bot.proc.poll() is None
                # Kill while GitHub is answering a write, or at the latest near the end.
                writing = count >= kill_at and github.in_flight
                if alive and (writing or count >= len(items) - 20):
                    bot.kill()

            first |= await send_all(session, bot.url, items[len(PRS) :], maybe_kill)
            assert bot.proc is not None and bot.proc.returncode == -9
            assert kill_at <= len(first) < len(items), "the kill should land mid-burst"

            await bot.start()  # same database
            missed = [item for item in items if item[0] not in first]
            again = await send_all(session, bot.url, missed)  # GitHub redelivering
            assert again == {d for d, _, _ in missed}
            await wait_settled(session, bot.url)

            source_ids: Counter[str] = Counter()
            for pr in PRS:
                listed = await get_json(session, f"{bot.url}/api/runs?repo={REPO}&pr={pr}")
                [run] = listed["runs"]
                trail = await get_json(session, f"{bot.url}/api/runs/{run['id']}/events")
                events = [Event.from_dict(e) for e in trail["events"]]
                assert verify_chain(events, run["id"]) is None
                assert events[-1].hash == run["head_hash"]
                source_ids.update(e.source["id"] for e in events)

                [comment] = github.comments_on(REPO, pr)  # exactly one, whatever happened
                assert comment["user"]["login"] == TOKEN_USER
                assert f"`{run['head_hash'][:12]}`" in comment["body"]
                assert run["id"] in comment["body"]
                summary = await get_json(session, f"{bot.url}/api/summary?repo={REPO}&pr={pr}")
                assert summary["body"] == comment["body"]
                assert summary["comment_id"] == comment["id"]
            # Every delivery (all got a 2xx in the end) is in its trail exactly once.
            assert source_ids == Counter({d: 1 for d, _, _ in items})
    finally:
        bot.stop_quietly()


async def test_sigterm_flushes_pending_writes_and_exits_0(
    tmp_path: Path, github: FakeGitHub
) -> None:
    # A long debounce: without the flush on shutdown nothing would be posted yet.
    env = bot_env(tmp_path, github, AUDIT_COMMENT_DEBOUNCE_SECONDS="60")
    bot = await BotProcess(env, tmp_path / "bot.log").start()
    try:
        async with aiohttp.ClientSession() as session:
            for pr in PRS:
                payload = load_payload("pull_request.opened", number=pr, pull_request__number=pr)
                body, headers = signed("pull_request", payload, f"term-{pr}")
                async with session.post(bot.url + "/webhook", data=body, headers=headers) as r:
                    assert r.status == 200
        assert github.comments_on(REPO, 2) == []
        started = time.monotonic()
        assert await bot.terminate() == 0
        assert time.monotonic() - started < 10
        assert all(len(github.comments_on(REPO, pr)) == 1 for pr in PRS)
        lines = [line for line in bot.log().splitlines() if line.strip()]
        entries = [json.loads(line) for line in lines]  # one JSON object a line
        assert any(e.get("delivery") == "term-2" for e in entries)
    finally:
        bot.stop_quietly()


@pytest.mark.parametrize("grace", ["1"])
async def test_sigterm_during_a_github_outage_exits_within_the_grace(
    tmp_path: Path, github: FakeGitHub, grace: str
) -> None:
    env = bot_env(
        tmp_path, github, AUDIT_COMMENT_DEBOUNCE_SECONDS="60", AUDIT_SHUTDOWN_GRACE_SECONDS=grace
    )
    bot = await BotProcess(env, tmp_path / "bot.log").start()
    github.fail("POST", r"/comments$", 502, times=1000)
    try:
        async with aiohttp.ClientSession() as session:
            body, headers = signed("pull_request", load_payload("pull_request.opened"), "outage")
            async with session.post(bot.url + "/webhook", data=body, headers=headers) as r:
                assert r.status == 200
            started = time.monotonic()
            assert await bot.terminate() == 0
            assert time.monotonic() - started < float(grace) + 5
            assert github.comments_on(REPO, 2) == []
            # The write was not lost: the next start delivers it once GitHub is back.
            github.failures.clear()
            await bot.start()
            await wait_settled(session, bot.url)
            assert len(github.comments_on(REPO, 2)) == 1
    finally:
        bot.stop_quietly()


async def test_sigterm_is_bounded_even_with_a_stalled_upload(
    tmp_path: Path, github: FakeGitHub
) -> None:
    """A client that stops sending mid-body cannot hold the shutdown past its bound.

    (aiohttp stops reading request bodies once shutdown starts, so such a request
    cannot finish; requests whose body has arrived are answered before the exit.)
    """
    grace = 5.0
    env = bot_env(
        tmp_path,
        github,
        AUDIT_COMMENT_DEBOUNCE_SECONDS="60",
        AUDIT_SHUTDOWN_GRACE_SECONDS=str(grace),
    )
    bot = await BotProcess(env, tmp_path / "bot.log").start()
    host, port = bot.url.removeprefix("http://").split(":")
    try:
        async with aiohttp.ClientSession() as session:
            body, headers = signed("pull_request", load_payload("pull_request.opened"), "done")
            async with session.post(bot.url + "/webhook", data=body, headers=headers) as r:
                assert r.status == 200
        body, headers = signed("pull_request", load_payload("pull_request.opened"), "stalled")
        _, writer = await asyncio.open_connection(host, int(port))
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            f"POST /webhook HTTP/1.1\r\nHost: {host}\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:100]
        )
        await writer.drain()
        await asyncio.sleep(0.3)  # its handler now waits for a body that never comes
        started = time.monotonic()
        assert await bot.terminate() == 0
        # The stalled request costs at most grace / 5; the flush itself is quick.
        assert time.monotonic() - started < grace / 5 + 2
        assert len(github.comments_on(REPO, 2)) == 1  # the acknowledged one was flushed
        writer.close()
    finally:
        bot.stop_quietly()
