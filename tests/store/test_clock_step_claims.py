"""Outbox rows written before the wall clock stepped back are not stuck behind it.

On every store of the contract tests (their fixtures are imported, hence F811).
"""

# ruff: noqa: F811

from __future__ import annotations

import time

from bot.store.base import Store
from bot.store.sql import MAX_DUE_AHEAD
from bot.workers.outbox import outbox_lag
from tests.store.test_store_contract import (  # noqa: F401  (fixtures)
    open_run,
    open_store,
    store,
    store_url,
)

HOUR = 3600.0


async def test_a_row_due_beyond_the_longest_backoff_is_due_now(store: Store) -> None:
    now = time.time()
    await store.apply(open_run(1, "h"))  # due at about `now`
    back = now - HOUR
    [row] = await store.claim_outbox("a", back, 120.0, 8)
    assert row.pr == 1


async def test_a_lease_ending_beyond_one_lease_from_now_has_lapsed(store: Store) -> None:
    now = time.time() + 1
    await store.apply(open_run(1, "h"))
    [claimed] = await store.claim_outbox("a", now, 120.0, 8)
    assert await store.claim_outbox("b", now + 60, 120.0, 8) == []  # a's lease holds
    [again] = await store.claim_outbox("b", now - HOUR, 120.0, 8)  # the clock stepped back
    assert again.key == claimed.key


async def test_a_row_due_within_the_longest_backoff_still_waits(store: Store) -> None:
    now = time.time() + 1
    await store.apply(open_run(1, "h"))
    [claimed] = await store.claim_outbox("a", now, 120.0, 8)
    await store.retry_outbox(claimed, now + MAX_DUE_AHEAD - 60, "GitHub answered 502")
    assert await store.claim_outbox("a", now, 120.0, 8) == []


def test_readiness_sees_a_row_whose_due_time_the_clock_left_behind() -> None:
    now = 1_800_000_000.0
    assert outbox_lag({"oldest_due_at": now - 30}, now) == 30
    assert outbox_lag({"oldest_due_at": now + 60}, now) == 0  # a backoff: not overdue
    assert outbox_lag({"oldest_due_at": now + HOUR}, now) == HOUR - MAX_DUE_AHEAD


async def test_a_lease_taken_a_moment_after_anothers_now_still_holds(store: Store) -> None:
    """Two instances claim together: b took its `now` 50 ms before a's claim. a's fresh
    lease ends 50 ms beyond one lease from b's now, which is no clock step; b gets nothing
    (taking it gave the PR a second comment)."""
    now = time.time() + 1
    await store.apply(open_run(1, "h"))
    [claimed] = await store.claim_outbox("a", now, 120.0, 8)
    assert claimed.pr == 1
    assert await store.claim_outbox("b", now - 0.05, 120.0, 8) == []
