"""GitHub failing: retries, rate limits, permanent failures, pacing — as a user sees them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from gidgethub import sansio

from bot import keys
from bot.github.pacing import DEFAULT_WINDOWS
from bot.store.slots import next_free
from bot.workers.outbox import RATE_LIMIT_FLOOR, PermanentFailure, RetryAt, classify
from tests.support.bot import REPO, Bot, load_payload
from tests.support.fake_github import FakeGitHub

ADMIN = "admin-test-token"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


async def outbox(bot: Bot) -> dict[str, Any]:
    status, body = await bot.request("GET", "/api/outbox", headers=AUTH)
    assert status == 200, body
    return body


async def retrying(bot: Bot) -> list[dict[str, Any]]:
    return (await outbox(bot))["retrying"]


def http_error(status: int, headers: dict[str, str], message: str = "failed") -> Exception:
    """The exception gidgethub 6 raises for this response (its own deciphering)."""
    body = json.dumps({"message": message}).encode()
    try:
        sansio.decipher_response(status, {"content-type": "application/json", **headers}, body)
    except Exception as exc:
        return exc
    raise AssertionError("no exception")


# -- classification, on gidgethub's real exceptions -------------------------------------


def test_classify_honours_retry_after_then_reset_then_a_minute() -> None:
    now = 1_000_000.0
    secondary = http_error(403, {"retry-after": "42"}, "You have exceeded a secondary rate limit")
    assert classify(secondary, 0, now) == RetryAt(42.0, "rate limited (403)")
    primary = http_error(
        403,
        {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000300"},
    )
    assert type(primary).__name__ == "RateLimitExceeded"
    assert classify(primary, 0, now) == RetryAt(301.0, "rate limited (403)")
    too_many = http_error(429, {})
    assert classify(too_many, 0, now) == RetryAt(RATE_LIMIT_FLOOR, "rate limited (429)")
    worded = http_error(403, {}, "You have exceeded a secondary rate limit. Please wait.")
    assert classify(worded, 0, now).delay >= 60  # type: ignore[union-attr]


def test_classify_backs_off_exponentially_with_jitter_and_stops_on_4xx() -> None:
    broken = http_error(502, {})
    delays = [[classify(broken, n, 0).delay for _ in range(50)] for n in (0, 3, 6)]  # type: ignore[union-attr]
    assert all(1.0 <= d <= 2.0 for d in delays[0])
    assert all(8.0 <= d <= 16.0 for d in delays[1])
    assert all(64.0 <= d <= 128.0 for d in delays[2])
    assert len(set(delays[2])) > 1  # jitter spreads retries of many rows
    gone = classify(http_error(404, {}), 0, 0)
    assert isinstance(gone, PermanentFailure) and str(gone) == "GitHub answered 404 Not Found"
    forbidden = classify(http_error(403, {}, "Resource not accessible by integration"), 0, 0)
    assert isinstance(forbidden, PermanentFailure)
    assert isinstance(classify(ConnectionResetError(), 0, 0), RetryAt)


# -- end to end against the fake GitHub ---------------------------------------------------


@pytest.fixture
async def admin_bot(make_bot) -> Bot:
    return await make_bot(AUDIT_ADMIN_TOKEN=ADMIN)


async def test_5xx_is_retried_with_backoff_until_it_goes_through(
    admin_bot: Bot, github: FakeGitHub
) -> None:
    github.fail("POST", r"/issues/2/comments$", 502, times=2)
    await admin_bot.deliver("pull_request", load_payload("pull_request.opened"))
    [row] = await until(lambda: retrying(admin_bot))
    assert (row["repo"], row["pr"], row["reason"]) == (REPO, 2, "GitHub answered 502")
    assert row["attempts"] == 1 and 0 < row["due_at"] - time.time() <= 2.0  # 1–2 s backoff
    await admin_bot.drain_until(lambda: bool(github.comments_on(REPO, 2)))
    assert len(github.comments_on(REPO, 2)) == 1
    assert len(github.writes(r"/issues/2/comments$")) == 3  # two refused, one created
    assert (await outbox(admin_bot))["retrying"] == []


@pytest.mark.parametrize(
    ("status", "headers", "wait"),
    [
        (403, {"retry-after": "120"}, 120),
        (429, {"retry-after": "30"}, 30),
        (429, {}, 60),
        (
            403,
            {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": "in 600 s",  # made absolute when the test runs
            },
            600,
        ),
    ],
)
async def test_rate_limited_write_waits_as_github_says(
    admin_bot: Bot, github: FakeGitHub, status: int, headers: dict[str, str], wait: float
) -> None:
    if "x-ratelimit-reset" in headers:
        headers = {**headers, "x-ratelimit-reset": str(int(time.time()) + 600)}
    github.fail("POST", r"/issues/2/comments$", status, headers=headers)
    await admin_bot.deliver("pull_request", load_payload("pull_request.opened"))
    [row] = await until(lambda: retrying(admin_bot))
    assert row["reason"] == f"rate limited ({status})"
    assert wait - 3 <= row["due_at"] - time.time() <= wait + 2
    assert github.comments_on(REPO, 2) == []


async def test_permanent_failure_is_recorded_visible_and_not_retried(
    admin_bot: Bot, github: FakeGitHub
) -> None:
    github.fail("POST", r"/issues/2/comments$", 404)
    await admin_bot.deliver("pull_request", load_payload("pull_request.opened"))
    body = await until(lambda: _failed(admin_bot))
    [failure] = body["failures"]
    assert (failure["repo"], failure["pr"]) == (REPO, 2)
    assert failure["reason"] == "GitHub answered 404 Not Found"
    assert body["pending"] == 0 and body["failed"] == 1
    await admin_bot.app[keys.OUTBOX].drain()  # nothing left to try
    assert len(github.writes(r"/issues/2/comments$")) == 1
    # The PR's next change tries again (it may have come back), and succeeds.
    await admin_bot.deliver("pull_request", load_payload("pull_request.review_requested"))
    await admin_bot.settle()
    assert len(github.comments_on(REPO, 2)) == 1
    assert (await outbox(admin_bot))["failed"] == 0


async def _failed(bot: Bot) -> dict[str, Any] | None:
    body = await outbox(bot)
    return body if body["failures"] else None


async def test_outbox_list_needs_the_admin_token(admin_bot: Bot, github: FakeGitHub) -> None:
    github.fail("POST", r"/issues/2/comments$", 404)
    await admin_bot.deliver("pull_request", load_payload("pull_request.opened"))
    await until(lambda: _failed(admin_bot))
    status, body = await admin_bot.request("GET", "/api/outbox")
    assert status == 200 and body["failed"] == 1 and "failures" not in body
    assert "AUDIT_ADMIN_TOKEN" in body["note"]
    status, body = await admin_bot.request(
        "GET", "/api/outbox", headers={"Authorization": "Bearer wrong"}
    )
    assert status == 401 and body == {"error": "invalid admin token"}


async def test_deleted_comment_recreated_once_even_when_github_fails(
    bot: Bot, github: FakeGitHub
) -> None:
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    await bot.settle()
    [first] = github.comments_on(REPO, 2)
    github.delete_comment(first["id"])
    github.fail("POST", r"/issues/2/comments$", 502)
    await bot.deliver("pull_request", load_payload("pull_request.review_requested"))
    await bot.drain_until(lambda: bool(github.comments_on(REPO, 2)))
    [again] = github.comments_on(REPO, 2)
    assert again["id"] != first["id"] and "review: octocat" in again["body"]
    writes = len(github.writes())
    await bot.app[keys.OUTBOX].drain()
    await asyncio.sleep(0.2)
    assert len(github.writes()) == writes  # recreated once, then quiet: no loop
    # The next change edits the recreated comment instead of making another.
    await bot.deliver("pull_request", load_payload("pull_request.review_requested", number=2))
    await bot.deliver(
        "workflow_run",
        load_payload(
            "workflow_run.completed",
            repository=load_payload("pull_request.opened")["repository"],
            workflow_run__head_sha=load_payload("pull_request.opened")["pull_request"]["head"][
                "sha"
            ],
        ),
    )
    await bot.settle()
    assert [c["id"] for c in github.comments_on(REPO, 2)] == [again["id"]]


# -- pacing --------------------------------------------------------------------------------


def test_pacing_keeps_to_80_a_minute_and_500_an_hour() -> None:
    sent: list[float] = []
    now = 0.0
    while now < 3600:
        free = next_free(sent, now, DEFAULT_WINDOWS)
        if free > now:
            now = free
            continue
        sent.append(now)
    assert len(sent) == 500
    # Within any 60 s, at most 80 went out.
    assert max(sum(1 for t in sent if start <= t < start + 60) for start in sent) == 80
    assert next_free([0.0] * 80, 0.0, DEFAULT_WINDOWS) == 60.0
    assert next_free([0.0] * 79, 0.0, DEFAULT_WINDOWS) == 0.0


async def test_paced_write_is_deferred_without_sending_or_counting_an_attempt(
    admin_bot: Bot, github: FakeGitHub
) -> None:
    gh = admin_bot.app[keys.GITHUB]
    gh.pacer.windows = ((2, 60.0),)
    for pr in (2, 3, 4):
        await admin_bot.deliver(
            "pull_request", load_payload("pull_request.opened", pull_request__number=pr)
        )
    [row] = await until(lambda: retrying(admin_bot))
    assert row["reason"] == "paced: write budget used up" and row["attempts"] == 0
    assert 50 < row["due_at"] - time.time() <= 60
    assert len(github.writes()) == 2
    gh.pacer.clock = lambda: time.time() + 61  # a minute later
    await admin_bot.drain_until(lambda: len(github.writes()) == 3)
    assert sorted(len(github.comments_on(REPO, pr)) for pr in (2, 3, 4)) == [1, 1, 1]


async def test_instances_sharing_a_database_share_one_write_budget(
    postgres_url: str, make_bot: Any, github: FakeGitHub
) -> None:
    # Two bots behind one load balancer write for the same installation: GitHub counts
    # their writes together, and so do they.
    bots = [await make_bot(DATABASE_URL=postgres_url, AUDIT_ADMIN_TOKEN=ADMIN) for _ in range(2)]
    for bot in bots:
        bot.app[keys.GITHUB].pacer.windows = ((2, 60.0),)
    for pr, bot in zip((2, 3, 4, 5), bots * 2, strict=True):
        await bot.deliver(
            "pull_request", load_payload("pull_request.opened", pull_request__number=pr)
        )
    rows = await until(lambda: _paced_rows(bots[0], 2))
    assert len(github.writes()) == 2  # not two each
    assert all(r["reason"] == "paced: write budget used up" for r in rows)


async def _paced_rows(bot: Bot, count: int) -> list[dict[str, Any]]:
    rows = await retrying(bot)
    return rows if len(rows) == count else []
