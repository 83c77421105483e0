"""The per-day spend rollup on both stores: kept by the writer, backfilled by migration 7,
summed exactly, private rows counted only when the query may read them."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.store import open_store_for
from bot.store.base import RunFilter
from bot.trail.spend_rollup import (
    SpendQuery,
    amount_from_parts,
    amount_parts,
    epoch_day,
    totals,
    week_start,
)
from tests.spend.fixture import OTHER_OWNER, PRIVATE, PUBLIC, commands, expected_totals

YEAR = (epoch_day(date(2026, 1, 1)), epoch_day(date(2027, 1, 1)))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/audit.db"
    return str(request.getfixturevalue("postgres_url"))


async def filled(url: str) -> Any:
    store = open_store_for(url, debounce=0.0)
    await store.open()
    for command in commands():
        await store.apply(command)
    return store


def query(**kw: Any) -> SpendQuery:
    return SpendQuery(since_day=YEAR[0], until_day=YEAR[1], **kw)


def as_totals(buckets: Any) -> dict[str, Decimal]:
    return {t["currency"]: Decimal(t["amount"]) for t in totals(buckets)}


def test_amount_parts_round_trip_exactly() -> None:
    huge = "123456789012345678901234567890.123456789012345678"
    for text in ("0", "0.1", "1.000000000000000001", huge):
        assert amount_from_parts(*amount_parts(Decimal(text))) == Decimal(text)
    assert week_start(epoch_day(date(2026, 11, 8))) == epoch_day(
        date(2026, 11, 2)
    )  # a Sunday belongs to the week that began the Monday before


async def test_buckets_and_totals_are_exact_and_private_is_left_out(store_url: str) -> None:
    store = await filled(store_url)
    try:
        public = await store.spend(query(repo=PUBLIC, interval="month", by="kind"))
        assert as_totals(public) == expected_totals({PUBLIC})
        got = {(b.start.isoformat(), b.key, b.currency): (str(b.amount), b.runs) for b in public}
        assert got == {
            ("2026-10-01", "pr", "USD"): ("1.300000000000000001", 1),
            ("2026-10-01", "review", "EUR"): ("2.5", 1),
            ("2026-11-01", "review", "USD"): ("0.333333333333333333", 1),
            ("2026-11-01", "pr", "USD"): ("123456789012345678.5", 1),
            ("2026-11-01", "pr", "USDC"): ("0.05", 1),
        }
        # the owner without private access: the public repository only
        owner = await store.spend(query(owner="acme", interval="week", by="repo"))
        assert as_totals(owner) == expected_totals({PUBLIC})
        # with private access (admin), the private repository too; never Other/Thing
        everything = await store.spend(query(owner="Acme", by="repo", all_private=True))
        assert as_totals(everything) == expected_totals({PUBLIC, PRIVATE})
        assert {b.key.lower() for b in everything} == {PUBLIC.lower(), PRIVATE.lower()}
        # a reader of the private repository (reporter credential) or of its PR (link token)
        for grant in ({"private_repos": (PRIVATE,)}, {"private_prs": ((PRIVATE, 7),)}):
            buckets = await store.spend(query(repo=PRIVATE, **grant))
            assert as_totals(buckets) == expected_totals({PRIVATE})
        assert await store.spend(query(repo=PRIVATE, private_prs=((PRIVATE, 8),))) == []
        scopes = await store.spend_private_scopes(query(owner="acme"))
        assert [(repo.lower(), pr) for repo, pr in scopes] == [(PRIVATE.lower(), 7)]
        # currency filter, by model, by PR, one day
        usd = await store.spend(query(repo=PUBLIC, currency="USD", by="model", interval="day"))
        assert {b.currency for b in usd} == {"USD"}
        assert {b.key for b in usd} == {"gpt-4o", "(none)", "claude"}
        prs = await store.spend(query(repo=PUBLIC, by="pr", interval="month"))
        assert {b.key.lower() for b in prs} == {"acme/widgets#1", "acme/widgets#2"}
        assert OTHER_OWNER not in {b.key for b in everything}
    finally:
        await store.close()


SPEND_MIGRATION = 9  # the spend rollup's migration, in both dialects


async def test_migration_backfills_the_rollup_from_stored_events(store_url: str) -> None:
    store = await filled(store_url)
    asked = [
        query(owner="acme", interval=interval, by=by, all_private=True)
        for interval in ("day", "week", "month")
        for by in ("kind", "category", "model", "repo", "pr")
    ]
    before = [await store.spend(q) for q in asked]
    await store.close()
    statements = [
        "DROP TABLE spend_daily",
        "DROP TABLE spend_rollup",
        "DROP TABLE spend_marks",
        "DROP TABLE sessions",  # migration 10 (later ones run again after this one)
        f"DELETE FROM schema_version WHERE version >= {SPEND_MIGRATION}",
    ]
    if store_url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()
    else:
        conn = await asyncpg.connect(store_url)
        for statement in statements:
            await conn.execute(statement)
        await conn.close()
    again = open_store_for(store_url, debounce=0.0)
    await again.open()
    try:
        after = [await again.spend(q) for q in asked]
        assert after == before and all(len(buckets) > 3 for buckets in after)
    finally:
        await again.close()


async def test_the_coarse_rollup_answers_what_the_per_run_rows_answer(store_url: str) -> None:
    """by kind, category, model or repository the coarse table answers; by PR (or with a
    PR's token) the per-run rows do: the figures, runs counted once a bucket, agree."""
    store = await filled(store_url)
    try:
        from bot.store import sql

        for interval in ("day", "week", "month"):
            for by in ("kind", "category", "model", "repo"):
                q = query(owner="acme", interval=interval, by=by, all_private=True)
                assert sql.coarse_spend_query(q) is not None
                coarse = await store.spend(q)
                # a PR grant that opens nothing new forces the per-run rows
                fine = await store.spend(
                    dataclasses.replace(q, all_private=False, private_prs=(("x/y", 1),))
                )
                public = await store.spend(dataclasses.replace(q, all_private=False))
                assert [(b.start, b.key.lower(), b.currency, b.amount, b.runs) for b in public] == [
                    (b.start, b.key.lower(), b.currency, b.amount, b.runs) for b in fine
                ], (interval, by)
                assert len(coarse) >= len(public)
    finally:
        await store.close()


async def test_retention_removes_a_runs_events_not_its_spend_history(store_url: str) -> None:
    import time

    from bot.trail import events as ev
    from bot.trail import intents as it

    store = await filled(store_url)
    try:
        q = query(owner="other", by="pr", interval="month")
        before = await store.spend(q)
        [run] = await store.list_runs(RunFilter(repo=OTHER_OWNER))
        source = ev.Source("api", "close-it", "close", None)
        closed = ev.NewEvent(ev.RUN_CLOSED, {"status": "closed"})
        await store.apply(it.Command(source, [it.Append(it.ById(run["id"]), [closed])]))
        gone = await store.prune_runs(time.time() + 400 * 86400, 30, None)
        assert run["id"] in {g.run_id for g in gone}
        assert await store.get_run(run["id"]) is None
        assert await store.spend(q) == before and before  # the spend history stays
        kinds = await store.spend(dataclasses.replace(q, by="kind"))
        assert [b.amount for b in kinds] == [b.amount for b in before]
    finally:
        await store.close()
