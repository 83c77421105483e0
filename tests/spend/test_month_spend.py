"""Month-to-date spend for the monthly budget, from the rollups on both stores: calendar
months in UTC (the last millisecond of a month and the first of the next fall apart),
exact decimals, per currency, this PR's part, private runs counted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.render.summary import SummaryOptions
from bot.store import open_store_for
from bot.trail import events as ev
from bot.trail import intents as it
from bot.workers.outbox import OutboxWorker

REPO = "Acme/Budgeted"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/audit.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Any]:
    store = open_store_for(store_url, debounce=0.0)
    await store.open()
    yield store
    await store.close()


def spend(amount: str, currency: str, at: str) -> ev.NewEvent:
    return ev.NewEvent(ev.SPEND, {"amount": amount, "currency": currency}, at=at)


async def run(store: Any, repo: str, pr: int, private: bool, *events: ev.NewEvent) -> None:
    spec = it.RunSpec("agent", repo, pr, uuid.uuid4().hex[:12], private=private)
    source = ev.Source("api", str(uuid.uuid4()), "test", None)
    await store.apply(it.Command(source, [it.OpenRun(f"k{uuid.uuid4()}", spec, list(events))]))


def worker(store: Any, moment: str) -> OutboxWorker:
    at = datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp()
    return OutboxWorker(
        store, None, debounce=0.0, options=lambda r, p: SummaryOptions(), clock=lambda: at
    )


async def test_month_to_date_is_the_utc_calendar_month_exactly(store: Any) -> None:
    tag = uuid.uuid4().hex[:6]  # PostgreSQL's database is shared between tests
    repo = f"{REPO}-{tag}"
    await run(
        store,
        repo,
        1,
        False,
        spend("100", "USD", "2026-11-30T23:59:59.999Z"),  # November: not counted
        spend("0.1", "USD", "2026-12-01T00:00:00.000Z"),
        spend("0.000000000000000001", "USD", "2026-12-31T23:59:59.999Z"),
        spend("7", "EUR", "2026-12-02T10:00:00.000Z"),
    )
    await run(store, repo, 2, True, spend("0.2", "USD", "2026-12-03T08:00:00.000Z"))  # private
    await run(store, repo.lower(), 2, False, spend("0.3", "USD", "2026-12-03T09:00:00Z"))
    await run(store, f"{repo}-other", 2, False, spend("50", "USD", "2026-12-03T09:00:00Z"))
    await run(store, repo, 3, False, spend("60", "USD", "2027-01-01T00:00:00.000Z"))  # January

    month = await worker(store, "2026-12-15T12:00:00").month_spend(repo, 2, {"USD": Decimal("0.6")})
    assert month.month == "2026-12"
    assert month.spent == {"USD": Decimal("0.600000000000000001"), "EUR": Decimal("7")}
    assert month.this_pr == {"USD": Decimal("0.5")}  # its private and public runs
    assert month.pr_over() == ["USD"]  # one atto over the limit
    assert month.before_pr("USD") == Decimal("0.100000000000000001")

    # On 1 January at midnight UTC the month starts from what January holds.
    january = await worker(store, "2027-01-01T00:00:00").month_spend(
        repo, 3, {"USD": Decimal("60")}
    )
    assert (january.month, january.spent, january.pr_over()) == ("2027-01", {"USD": 60}, [])
