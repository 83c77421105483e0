"""The SQL both stores run inside a transaction, written once over either connection.

`Db` is the part of a connection this code uses: asyncpg's connection as it is, and
SQLite's behind `SQLiteDb` (coroutines that never suspend, run to completion on its
writer thread). `SqlTx` is the writer's `Tx`; `prune_runs` is retention's removal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from bot.store import sql
from bot.store.base import SUMMARY, Cap, PrunedRun
from bot.store.rows import (
    advanced_columns,
    choose_pruned,
    event_values,
    iso_time,
    outbox_key,
    pruned_log,
    pruned_prs,
    run_columns,
)
from bot.store.sql import Dialect
from bot.trail.events import Event
from bot.trail.spend_rollup import rollup_rows
from bot.trail.state import State


class Db(Protocol):
    """A connection inside a transaction, as the shared statements are run on it."""

    async def fetch(self, query: str, *args: Any) -> list[Any]: ...

    async def fetchrow(self, query: str, *args: Any) -> Any: ...

    async def fetchval(self, query: str, *args: Any) -> Any: ...

    async def execute(self, query: str, *args: Any) -> Any: ...

    async def executemany(self, query: str, args: Iterable[Sequence[Any]]) -> Any: ...


class SqlTx:
    """The transaction operations `CommandWriter` needs (its `Tx`), in either dialect.

    In PostgreSQL every read of a run locks its row until the commit (`Dialect.lock`),
    so the state the writer extends is the latest and no one else can extend it
    meanwhile; SQLite's single writer needs no lock.
    """

    def __init__(
        self,
        db: Db,
        dialect: Dialect,
        dumps: Callable[[Any], str],
        loads: Callable[[str], Any],
    ) -> None:
        self.db = db
        self.q = dialect
        self.dumps = dumps
        self.loads = loads

    async def find_delivery(self, source_id: str) -> tuple[str | None, str | None] | None:
        row = await self.db.fetchrow(self.q(sql.DELIVERY_FIND), source_id)
        return (row[0], row[1]) if row else None

    async def insert_delivery(self, values: Mapping[str, Any]) -> None:
        row = [values[column] for column in sql.DELIVERY_COLUMNS]
        await self.db.execute(self.q(sql.DELIVERY_INSERT), *row)

    async def _states(self, statement: str, *params: Any) -> list[State]:
        return [self.loads(r[0]) for r in await self.db.fetch(self.q(statement), *params)]

    async def run_by_id(self, run_id: str) -> State | None:
        found = await self._states(sql.RUN_STATE_LOCKED, run_id)
        return found[0] if found else None

    async def runs_by_key(self, key: str, open_only: bool) -> list[State]:
        return await self._states(sql.RUNS_BY_OPEN_KEY if open_only else sql.RUNS_BY_KEY, key)

    async def open_runs_of_pr(self, repo: str, pr: int) -> list[State]:
        return await self._states(sql.OPEN_RUNS_OF_PR, repo, pr)

    async def latest_by_head(self, repo: str, head_sha: str, kind: str) -> State | None:
        found = await self._states(sql.LATEST_BY_HEAD, repo, head_sha, kind)
        return found[0] if found else None

    async def insert_run(self, key: str | None, state: State) -> None:
        await self.db.execute(self.q(sql.RUN_INSERT), state["id"], key, *run_columns(state))

    async def update_run(self, state: State) -> None:
        await self.db.execute(self.q(sql.RUN_UPDATE), *run_columns(state), state["id"])

    async def advance_run(self, state: State) -> None:
        await self.db.execute(self.q(sql.RUN_ADVANCE), *advanced_columns(state), state["id"])

    async def insert_events(self, events: Sequence[Event]) -> None:
        rows = [event_values(event, self.dumps) for event in events]
        await self.db.executemany(self.q(sql.EVENTS_INSERT), rows)

    async def add_spend(self, state: State, events: Sequence[Event]) -> None:
        """Add the spend among `events` (of the run `state`) to the per-day rollup."""
        for row in rollup_rows(state, events):
            await self.db.execute(self.q(sql.SPEND_ADD), *row.values())
            marks = row.marks()
            added = self.q(sql.SPEND_MARKS_ADD)
            new = {r[0] for r in await self.db.fetch(added, row.run_id, row.currency, *marks)}
            counted = [1 if mark in new else 0 for mark in marks]
            await self.db.execute(self.q(sql.SPEND_ROLLUP_ADD), *row.coarse_values(counted))

    async def insert_bot_log(self, at: str, kind: str, source: str, data: str) -> None:
        await self.db.execute(self.q(sql.BOT_LOG_INSERT), at, kind, source, data)

    async def touch_outbox(
        self, repo: str, pr: int, installation_id: int | None, due_at: float, now_iso: str
    ) -> None:
        key = outbox_key(repo, pr)
        touch = self.q(sql.OUTBOX_TOUCH)
        await self.db.execute(touch, key, SUMMARY, repo, pr, installation_id, due_at, now_iso)


async def prune_runs(
    db: Db, q: Dialect, now: float, retention_days: Cap, max_runs: Cap, limit: int
) -> list[PrunedRun]:
    """`Store.prune_runs` inside the caller's transaction: choose, then remove each run."""
    idle: list[Any] = []
    crowded: list[Any] = []
    if retention_days is not None:
        before = iso_time(now - retention_days * 86400)
        idle = await db.fetch(q(sql.PRUNE_IDLE), before, limit)
    if max_runs is not None and len(idle) < limit:
        crowded = await db.fetch(q(sql.PRUNE_CROWDED), max_runs, limit)
    done = []
    for gone in choose_pruned(idle, crowded, retention_days, max_runs, iso_time(now), limit):
        if not await db.fetchval(q(sql.PRUNE_TAKE_RUN), gone.run_id):
            continue  # another instance holds it (PostgreSQL): theirs to remove
        await db.execute(q(sql.PRUNE_EVENTS), gone.run_id)
        await db.execute(q(sql.PRUNE_SPEND), gone.run_id)
        await db.execute(q(sql.PRUNE_RUN), gone.run_id)
        await db.execute(q(sql.PRUNED_INSERT), *dataclasses.astuple(gone))
        await db.execute(q(sql.BOT_LOG_INSERT), *pruned_log(gone))
        done.append(gone)
    for repo, pr in pruned_prs(done):
        if not await db.fetchval(q(sql.PR_HAS_RUNS), repo, pr):
            await db.execute(q(sql.COMMENT_DELETE), repo, pr)
            await db.execute(q(sql.OUTBOX_FAILED_DELETE), outbox_key(repo, pr))
    return done
