"""Missed deliveries: the App asks GitHub to redeliver what it never acknowledged."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import jwt
import pytest

from bot import keys
from bot.github.redelivery import MAX_REQUESTS, check_once
from tests.support.bot import Bot, load_payload
from tests.support.fake_github import FakeGitHub

NOW = time.time()


def attempt(
    number: int, guid: str, code: int, *, hours_ago: float = 1, redelivery: bool = False
) -> dict:
    """One hook delivery attempt as GitHub lists it."""
    at = datetime.fromtimestamp(NOW - hours_ago * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": number,
        "guid": guid,
        "delivered_at": at,
        "redelivery": redelivery,
        "duration": 0.1,
        "status": "OK" if 200 <= code < 300 else f"Invalid HTTP Response: {code}",
        "status_code": code,
        "event": "pull_request",
        "action": "opened",
    }


@pytest.fixture
async def app_bot(make_bot, app_key) -> Bot:
    pem, _ = app_key
    return await make_bot(
        GITHUB_TOKEN="",
        GITHUB_APP_ID="777",
        GITHUB_PRIVATE_KEY=pem,
        AUDIT_REDELIVERY_INTERVAL_SECONDS="0",  # no pass at start racing the test's own
    )


async def test_redelivers_guids_that_never_got_an_ok(
    app_bot: Bot, github: FakeGitHub, app_key
) -> None:
    # The bot committed "recorded-guid" but GitHub timed out waiting for the answer.
    await app_bot.deliver(
        "pull_request", load_payload("pull_request.opened"), delivery="recorded-guid"
    )
    github.hook_deliveries += [
        attempt(9, "too-old", 503, hours_ago=73),  # outside GitHub's window
        attempt(10, "lost", 502),
        attempt(11, "recovered", 0),
        attempt(12, "recovered", 200, redelivery=True),
        attempt(13, "recorded-guid", 0),
        attempt(15, "twice", 0),
        attempt(16, "twice", 500, redelivery=True),
    ]
    github.hook_deliveries += [attempt(100 + i, f"ok-{i}", 200) for i in range(150)]  # 2 pages
    asked = await check_once(app_bot.app, now=NOW)
    assert sorted(asked) == sorted(github.redelivered) == [10, 16]

    _, public = app_key
    calls = [r for r in github.requests if r.path.startswith("/app/hook/deliveries")]
    assert {r.path for r in calls if r.method == "GET"} == {"/app/hook/deliveries"}
    assert len([r for r in calls if r.method == "GET"]) >= 2  # followed the cursor
    for call in calls:
        scheme, token = call.headers["Authorization"].split(" ", 1)
        assert scheme.lower() == "bearer"
        assert jwt.decode(token, public, algorithms=["RS256"])["iss"] == "777"

    # The next pass starts from the high-water mark: nothing seen is asked for again.
    assert await check_once(app_bot.app, now=NOW) == []
    github.hook_deliveries.append(attempt(300, "new-miss", 500))
    assert await check_once(app_bot.app, now=NOW) == [300]


async def test_a_delivery_refused_for_good_is_not_asked_for_forever(
    app_bot: Bot, github: FakeGitHub
) -> None:
    number = 400
    github.hook_deliveries.append(attempt(number, "always-400", 400))
    asked = []
    for _ in range(MAX_REQUESTS + 3):
        asked += await check_once(app_bot.app, now=NOW)
        number += 1  # GitHub's redelivery of it failed again
        github.hook_deliveries.append(attempt(number, "always-400", 400, redelivery=True))
    assert len(asked) == MAX_REQUESTS


async def test_checks_on_start_in_app_mode_only(make_bot, github: FakeGitHub, app_key) -> None:
    github.hook_deliveries.append(attempt(7, "missed-while-down", 0))
    token_bot = await make_bot()  # token mode has no App JWT: no hook deliveries API
    await asyncio.sleep(0.1)
    assert not [r for r in github.requests if r.path.startswith("/app/hook")]
    await token_bot.stop()

    pem, _ = app_key
    await make_bot(GITHUB_TOKEN="", GITHUB_APP_ID="777", GITHUB_PRIVATE_KEY=pem)
    for _ in range(200):
        if github.redelivered:
            break
        await asyncio.sleep(0.02)
    assert github.redelivered == [7]


async def test_a_restarted_bot_looks_for_missed_deliveries_at_once(
    postgres_url: str, make_bot, github: FakeGitHub, app_key
) -> None:
    # Two bots on one database take turns, but one coming back from downtime (here: the
    # second, started within the first's interval) checks at start all the same.
    pem, _ = app_key
    env = {
        "GITHUB_TOKEN": "",
        "GITHUB_APP_ID": "777",
        "GITHUB_PRIVATE_KEY": pem,
        "DATABASE_URL": postgres_url,
        "AUDIT_REDELIVERY_INTERVAL_SECONDS": "3600",
    }

    def listings() -> list:
        return [r for r in github.requests if r.path == "/app/hook/deliveries"]

    async def until_listed(count: int) -> None:
        for _ in range(200):
            if len(listings()) >= count:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{count} listings expected, saw {len(listings())}")

    await make_bot(**env)
    await until_listed(1)
    github.hook_deliveries += [attempt(10, "lost", 502)]  # failed while the next was down
    await make_bot(**env)
    await until_listed(2)
    for _ in range(100):
        if github.writes("/attempts$"):
            break
        await asyncio.sleep(0.02)
    assert [w.path for w in github.writes("/attempts$")] == ["/app/hook/deliveries/10/attempts"]


async def test_instances_sharing_a_store_take_turns_after_the_first_pass(tmp_path) -> None:
    # Two loops of one job on one store, a pass every 0.2 s for a second: taking turns,
    # the job runs about once an interval in all, not once an interval on each.
    from bot.store.sqlite import SQLiteStore
    from bot.workers.periodic import every

    store = SQLiteStore(f"sqlite:///{tmp_path}/turns.db")
    await store.open()
    runs: list[float] = []

    async def job(app: object) -> None:
        runs.append(time.monotonic())

    apps = [{keys.STORE: store}, {keys.STORE: store}]
    contexts = [every("job", 0.2, job)(app) for app in apps]  # type: ignore[arg-type]
    try:
        for context in contexts:
            await anext(context)
        await asyncio.sleep(1.0)
    finally:
        for context in contexts:
            await anext(context, None)
        await store.close()
    assert 1 <= len(runs) <= 6  # each loop alone would run 5 or 6 times: 10-12 in all
