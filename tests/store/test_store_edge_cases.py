"""Store behaviour found in review, against SQLite and a real PostgreSQL like the contract."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import asyncpg

from bot.store import open_store_for
from bot.store.base import Store
from bot.store.postgres_schema import POSTGRES_MIGRATIONS
from bot.store.sqlite_schema import SQLITE_MIGRATIONS, migrate_sqlite
from bot.trail import intents as it
from tests.store import test_store_contract as contract
from tests.store.test_store_contract import REPO, append, close, note, open_run

# The contract's fixtures: both stores, and two "instances" on one database.
store_url = contract.store_url
open_store = contract.open_store
store = contract.store
two = contract.two

# -- the outbox ----------------------------------------------------------------------


async def test_one_summary_row_per_pr_however_its_runs_spell_the_repository(
    two: tuple[Store, Store],
) -> None:
    await two[0].apply(open_run(5, "h", repo=REPO))
    await two[1].apply(open_run(5, "h", kind="agent", repo=REPO.lower()))
    # one command changing both runs schedules the PR once
    both = await two[0].apply(append(it.OpenRunsOfPR(REPO.upper(), 5), note("x")))
    assert len(both.runs) == 2 and len(both.prs) == 1

    [item] = await two[1].claim_outbox("w", time.time() + 1, 60.0, 10)
    assert (item.pr, item.repo.lower()) == (5, REPO.lower())
    assert item.version == 3  # every change counted on the one row


async def test_a_pr_that_changed_while_its_row_failed_gets_another_try(store: Store) -> None:
    run_id = (await store.apply(open_run(1, "h"))).opened[0]
    now = time.time() + 1
    [item] = await store.claim_outbox("w", now, 60.0, 10)
    await store.apply(append(it.ById(run_id), note("meanwhile")))

    await store.fail_outbox(item, "GitHub answered 502 (gave up after 15 attempts)")

    status = await store.outbox_status()
    assert (status["pending"], status["failed"]) == (1, 0)
    [again] = await store.claim_outbox("w", now, 60.0, 10)
    assert (again.attempts, again.version) == (0, item.version + 1)
    # failing the row as it now stands gives up for good
    await store.fail_outbox(again, "GitHub answered 404 Not Found")
    status = await store.outbox_status()
    assert (status["pending"], status["failed"]) == (0, 1)

    # the next change revives it from zero, and it is not "retrying" an old failure
    await store.apply(append(it.ById(run_id), note("later")))
    status = await store.outbox_status()
    assert (status["pending"], status["failed"], status["retrying"]) == (1, 0, [])


# -- retention -----------------------------------------------------------------------


async def test_pruning_a_prs_last_runs_forgets_its_comment_record(store: Store) -> None:
    gone = (await store.apply(open_run(1, "a"))).opened[0]
    await store.apply(close(gone, "merged"))
    kept = (await store.apply(open_run(2, "b"))).opened[0]
    await store.apply(close(kept, "merged"))
    await store.apply(open_run(2, "c", kind="review"))  # PR 2 keeps a run
    now = time.time() + 1
    for item in await store.claim_outbox("w", now, 60.0, 10):
        if item.pr == 1:
            await store.fail_outbox(item, "GitHub answered 404 Not Found")
        else:
            await store.finish_outbox(item, now, 0.0)
    await store.save_comment(REPO, 1, 11, "body of PR 1")
    await store.save_comment(REPO.lower(), 2, 12, "body of PR 2")

    pruned = await store.prune_runs(time.time() + 40 * 86400, 30, None)

    assert {p.run_id for p in pruned} == {gone, kept}
    assert await store.get_comment(REPO, 1) is None
    assert (await store.outbox_status())["failures"] == []
    assert (await store.get_comment(REPO, 2)).comment_id == 12  # PR 2 still has a run


async def test_prune_deliveries_forgets_old_records_in_batches(store: Store) -> None:
    for n in range(5):
        await store.apply(open_run(n, "h", delivery=f"d{n}"))
    ids = [f"d{n}" for n in range(5)]

    assert await store.prune_deliveries(time.time() - 60) == 0
    assert await store.known_deliveries(ids) == set(ids)
    assert await store.prune_deliveries(time.time() + 60, limit=3) == 3
    assert await store.prune_deliveries(time.time() + 60, limit=3) == 2
    assert await store.known_deliveries(ids) == set()
    assert await store.delivery_counts() == {}


# -- the bot's own state ---------------------------------------------------------------


async def test_prune_state_forgets_old_values_under_a_prefix_only(store: Store) -> None:
    for name in ("redelivery.asked.a", "redelivery.asked.b_1", "redelivery.askedX", "other"):
        await store.set_state(name, "1")
    assert await store.claim_turn("redelivery.asked.turn", time.time(), 60)

    assert await store.prune_state("redelivery.asked.", time.time() - 60) == 0  # all fresh
    assert await store.prune_state("redelivery.asked.", time.time() + 60) == 2

    assert await store.get_state("redelivery.asked.a") is None
    assert await store.get_state("redelivery.asked.b_1") is None
    assert await store.get_state("redelivery.askedX") == "1"  # a prefix, not a pattern
    assert await store.get_state("other") == "1"
    # a turn's bookkeeping is its own: the job still may not run again within its interval
    assert not await store.claim_turn("redelivery.asked.turn", time.time(), 60)


# -- schema --------------------------------------------------------------------------


async def _sqlite_schema(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()


async def _postgres_schema(url: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(url)
    try:
        columns = await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'public' "
            "ORDER BY table_name, column_name"
        )
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "ORDER BY indexname"
        )
        return [tuple(r) for r in columns] + [tuple(r) for r in indexes]
    finally:
        await conn.close()


async def _apply_first(url: str, count: int) -> None:
    """What an older bot left: its migrations (the first `count`), and a pending row."""
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            for version, script in enumerate(SQLITE_MIGRATIONS[:count], start=1):
                conn.executescript(script)
                conn.execute("INSERT INTO schema_version VALUES (?)", (version,))
        return
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version, script in enumerate(POSTGRES_MIGRATIONS[:count], start=1):
            await conn.execute(script)
            await conn.execute("INSERT INTO schema_version VALUES ($1)", version)
    finally:
        await conn.close()


async def _fresh_url(store_url: str, tmp_path: Path, name: str) -> str:
    if store_url.startswith("sqlite:"):
        return f"sqlite:///{tmp_path}/{name}.db"
    conn = await asyncpg.connect(store_url)
    try:
        database = f"{await conn.fetchval('SELECT current_database()')}_{name}"
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    return store_url.rsplit("/", 1)[0] + "/" + database


async def test_every_older_schema_upgrades_to_the_same_schema_as_a_new_database(
    store_url: str, tmp_path: Path
) -> None:
    migrations = SQLITE_MIGRATIONS if store_url.startswith("sqlite:") else POSTGRES_MIGRATIONS
    assert len(SQLITE_MIGRATIONS) == len(POSTGRES_MIGRATIONS)

    async def target(url: str) -> list[tuple[Any, ...]]:
        if url.startswith("sqlite:"):
            return await _sqlite_schema(Path(url.removeprefix("sqlite:///")))
        return await _postgres_schema(url)

    fresh = await _fresh_url(store_url, tmp_path, "fresh")
    new = open_store_for(fresh)
    await new.open()
    await new.close()
    expected = await target(fresh)

    for count in range(1, len(migrations)):
        url = await _fresh_url(store_url, tmp_path, f"from{count}")
        await _apply_first(url, count)
        upgraded = open_store_for(url)
        await upgraded.open()  # the rest, one migration at a time
        try:
            # the upgraded database works: a command lands, and its summary row with it
            result = await upgraded.apply(open_run(1, "h", note("after the upgrade")))
            assert result.events == 2
            assert (await upgraded.outbox_status())["pending"] == 1
        finally:
            await upgraded.close()
        assert await target(url) == expected, f"upgraded from version {count}"


async def test_upgrading_gives_older_mixed_case_summary_rows_the_shared_key(
    store_url: str, tmp_path: Path
) -> None:
    url = await _fresh_url(store_url, tmp_path, "mixed")
    await _apply_first(url, 5)
    rows = [
        ("summary:Acme/Widgets#1", "Acme/Widgets", 1, "pending"),
        ("summary:Acme/Widgets#2", "Acme/Widgets", 2, "pending"),
        ("summary:acme/widgets#2", "acme/widgets", 2, "failed"),
        ("summary:ACME/Widgets#3", "ACME/Widgets", 3, "failed"),
        ("summary:Acme/Widgets#3", "Acme/Widgets", 3, "pending"),
        ("summary:acme/widgets#3", "acme/widgets", 3, "pending"),
        ("summary:Acme/Widgets#4", "Acme/Widgets", 4, "failed"),
        ("summary:acme/WIDGETS#4", "acme/WIDGETS", 4, "failed"),
    ]
    insert = (
        "INSERT INTO outbox (key, kind, repo, pr, due_at, version, attempts, state, "
        "created_at, updated_at) VALUES ({0}1, 'summary', {0}2, {0}3, 0, 1, 0, {0}4, 'x', 'x')"
    )
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.executemany(insert.format("?"), rows)
    else:
        conn = await asyncpg.connect(url)
        try:
            await conn.executemany(insert.format("$"), rows)
        finally:
            await conn.close()

    upgraded = open_store_for(url)
    await upgraded.open()
    try:
        # one row per PR, under the shared key; a pending one wherever the PR had one
        claimed = await upgraded.claim_outbox("w", time.time(), 60.0, 10)
        assert sorted(item.key for item in claimed) == [
            f"summary:acme/widgets#{pr}" for pr in (1, 2, 3)
        ]
        status = await upgraded.outbox_status()
        assert [f["key"] for f in status["failures"]] == ["summary:acme/widgets#4"]
    finally:
        await upgraded.close()


async def test_processes_starting_together_on_one_sqlite_file_migrate_it_once(
    tmp_path: Path,
) -> None:
    # The bot and a trail command (`audit-bot verify`) starting at the same moment on a
    # file an older bot left: the second waits for the first one's migrations and then
    # finds them done, instead of applying them again from the version it read earlier.
    url = f"sqlite:///{tmp_path}/audit.db"
    await _apply_first(url, 4)
    path = Path(url.removeprefix("sqlite:///"))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # both starters read the version, then queue here
    errors: list[BaseException] = []

    def start() -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        try:
            migrate_sqlite(conn)
        except BaseException as exc:
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    holder.execute("ROLLBACK")
    holder.close()
    for thread in threads:
        thread.join()

    assert errors == []
    with sqlite3.connect(path) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == list(range(1, len(SQLITE_MIGRATIONS) + 1))
