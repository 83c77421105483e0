"""The wall clock stepping back an hour: the PR's comment keeps updating, runs stay ordered.

The clock is injected into the store (event and due times) and the outbox worker;
the fake GitHub and the OIDC issuer keep real time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bot import keys
from bot.trail.events import parse_time
from tests.support.bot import HEAD, REPO, Bot
from tests.support.fake_github import FakeGitHub
from tests.support.oidc_issuer import LocalIssuer
from tests.support.reporter_kit import oidc_env, post, token_for

HOUR = 3600.0


class SteppingClock:
    """Real time plus an offset the test moves."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def _spend(bot: Bot, token: str, amount: str) -> str:
    status, opened = await post(bot, "/api/runs", {"kind": "review", "head_sha": HEAD}, token)
    assert status == 201, opened
    event = {"type": "spend", "amount": amount, "currency": "USD", "category": "llm"}
    status, answer = await post(bot, f"/api/runs/{opened['id']}/events", {"events": [event]}, token)
    assert status == 201, answer
    return str(opened["id"])


async def _comment_with(github: FakeGitHub, text: str, within: float) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        bodies = [c["body"] for c in github.comments_on(REPO, 2)]
        if bodies and text in bodies[0]:
            return bodies[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no comment with {text!r} within {within} s: {bodies}")


async def test_a_clock_stepping_back_an_hour_keeps_the_comment_updating(
    make_bot: Any, github: FakeGitHub, issuer: LocalIssuer
) -> None:
    # A long debounce: the first change's row is still pending when the clock steps back.
    bot = await make_bot(AUDIT_COMMENT_DEBOUNCE_SECONDS="20", **oidc_env(issuer))
    clock = SteppingClock()
    bot.store.clock = clock
    bot.app[keys.OUTBOX].clock = clock
    token = token_for(issuer)

    first = await _spend(bot, token, "1")
    clock.offset = -HOUR  # before the row was delivered: it is due 20 s ahead of the old clock
    # Due an hour and 20 s ahead of the new clock, beyond the longest backoff: due now.
    await _comment_with(github, "\n**1.00 USD** spent by 1 run", within=15)

    second = await _spend(bot, token, "2")
    # (changes after the step wait out their debounce as usual; drain delivers them now)
    await bot.drain_until(lambda: "3.00 USD" in github.comments_on(REPO, 2)[0]["body"])

    assert second > first  # the run created after the step still sorts as the newer one
    status, closed = await post(bot, f"/api/runs/{first}/close", {"status": "succeeded"}, token)
    assert status in (200, 201), closed
    await bot.drain_until(lambda: "✅ succeeded" in github.comments_on(REPO, 2)[0]["body"])

    for run_id in (first, second):
        events = [e async for e in bot.store.iter_events(run_id)]
        recorded = [parse_time(e.recorded_at) for e in events]
        assert len(recorded) >= 2 and recorded == sorted(recorded)  # never before the last
    run = await bot.store.get_run(first)
    assert run is not None and run["ended_at"] is not None
    assert parse_time(run["ended_at"]) >= parse_time(run["started_at"])

    status, ready = await bot.request("GET", "/readyz")
    assert status == 200, ready
