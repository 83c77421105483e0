"""The store for several bot instances: one PostgreSQL database shared through asyncpg.

The meaning of a command is `CommandWriter`'s, as for SQLite; what this module adds is
what makes it hold with many writers on many machines:

- run rows are read `FOR UPDATE`, so two transactions appending to one run queue up
  and each takes the next seq (the primary key on (run_id, seq) is the backstop);
- at most one open run per key is a partial unique index; a transaction that loses
  the race to open a run is retried whole and then finds the winner's run;
- a delivery id is a primary key; a concurrent duplicate fails on it, and its retry
  answers `duplicate` like any redelivery;
- outbox rows are claimed with `FOR UPDATE SKIP LOCKED` and a lease, so exactly one
  instance delivers each;
- serialization failures and deadlocks are retried with a short jittered backoff.

Reads page by keyset (`iter_events` holds no connection between pages), so a slow
reader of a long trail costs neither memory nor a pooled connection.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bot.store import sqlite_schema as schema
from bot.store.base import (
    SUMMARY,
    CommentRecord,
    OutboxItem,
    PrunedRun,
    RunExists,
    RunFilter,
    StoreError,
)
from bot.store.postgres_schema import check_readable, migrate_postgres
from bot.store.rows import (
    DELIVERIES_PRUNE,
    EVENT_COLUMNS,
    OUTBOX_CLAIMABLE,
    OUTBOX_COUNTS,
    OUTBOX_FAIL,
    OUTBOX_FAIL_CHANGED,
    OUTBOX_FAILED,
    OUTBOX_OLDEST,
    OUTBOX_RETRYING,
    OUTBOX_TOUCH,
    PRUNE_COLUMNS,
    PRUNED_COLUMNS,
    SLOTS_DELETE_OLD,
    SLOTS_INSERT,
    SLOTS_SELECT,
    STATE_PRUNE,
    TURN_CLAIM,
    TURN_PREFIX,
    choose_pruned,
    event_from_row,
    event_values,
    iso_time,
    outbox_key,
    outbox_status_from,
    page_events,
    pruned_log,
    pruned_prs,
    slot_owner,
    turn_due_before,
)
from bot.store.slots import Windows, next_free
from bot.store.writer import CommandWriter
from bot.trail.events import Event, utc_now
from bot.trail.intents import Command, CommandResult
from bot.trail.state import State, fold, new_state
from bot.trail.state import apply as apply_event

log = logging.getLogger(__name__)

# Conflicts another transaction caused: run the whole command again.
_RETRY_CONFLICT = (
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.UniqueViolationError,
)
# The connection went away mid-transaction: the commit may or may not have happened,
# and running again is safe because a command that did commit answers `duplicate`.
_RETRY_CONNECTION = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.PostgresConnectionError,
    ConnectionError,
)
_MAX_ATTEMPTS = 12
_OUTBOX_COLUMNS = "key, kind, repo, pr, installation_id, version, attempts, due_at"


class PostgresStore:
    def __init__(
        self, url: str, *, debounce: float = 2.0, pool_size: int = 10, read_only: bool = False
    ) -> None:
        self.url = url
        self.debounce = debounce
        # The writer's clock (event times, due times); tests inject one that steps back.
        self.clock: Callable[[], float] = time.time
        self.pool_size = pool_size
        self.read_only = read_only  # verify, export: no migration, read-only transactions
        self._pool: asyncpg.Pool | None = None

    # -- lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        try:
            conn = await asyncpg.connect(self.url)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {_where(self.url)}: {exc}") from None
        try:
            await (check_readable(conn) if self.read_only else migrate_postgres(conn))
        finally:
            await conn.close()
        self._pool = await asyncpg.create_pool(
            self.url,
            min_size=1,
            max_size=self.pool_size,
            reset=_no_session_state,
            server_settings={"default_transaction_read_only": "on"} if self.read_only else None,
        )

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    # -- commands ------------------------------------------------------------------

    async def apply(self, command: Command) -> CommandResult:
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    writer = CommandWriter(_PostgresTx(conn), self.clock(), self.debounce)
                    return await writer.apply(command)
            except _RETRY_CONFLICT + _RETRY_CONNECTION as exc:
                if attempt == _MAX_ATTEMPTS:
                    raise StoreError(
                        f"command {command.source.id} still conflicting after {attempt} attempts"
                    ) from exc
                log.debug("retrying command %s after %s", command.source.id, type(exc).__name__)
                await asyncio.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))
        raise AssertionError("unreachable")

    # -- reads -------------------------------------------------------------------

    async def get_run(self, run_id: str) -> State | None:
        text = await self.pool.fetchval("SELECT state FROM runs WHERE id = $1", run_id)
        return json.loads(text) if text is not None else None

    async def list_runs(self, where: RunFilter) -> list[State]:
        clauses: list[str] = []
        params: list[Any] = []

        def param(value: Any) -> str:
            params.append(value)
            return f"${len(params)}"

        if where.repo is not None:
            clauses.append(f"lower(repo) = lower({param(where.repo)})")
        for column, value in (("pr", where.pr), ("kind", where.kind), ("status", where.status)):
            if value is not None:
                clauses.append(f"{column} = {param(value)}")
        if where.since is not None:
            clauses.append(f"started_at >= {param(where.since)}")
        if where.before is not None:
            clauses.append(f"id < {param(where.before)}")
        sql = "SELECT state FROM runs"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY id DESC LIMIT {param(where.limit)}"
        return [json.loads(r[0]) for r in await self.pool.fetch(sql, *params)]

    async def get_events(
        self, run_id: str, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        rows = await self.pool.fetch(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE run_id = $1 AND seq > $2 "
            "ORDER BY seq LIMIT $3",
            run_id,
            after,
            limit,  # NULL: no limit
        )
        return [event_from_row(row, json.loads) for row in rows]

    def iter_events(self, run_id: str, after: int = 0, batch: int = 500) -> AsyncIterator[Event]:
        return page_events(self.get_events, run_id, after, batch)

    # -- outbox ------------------------------------------------------------------

    async def claim_outbox(
        self, worker: str, now: float, lease: float, limit: int, due_by: float | None = None
    ) -> list[OutboxItem]:
        # SKIP LOCKED: rows another instance is claiming right now are left to it; a row
        # it claimed and committed fails the lease test when re-checked under the lock.
        rows = await self.pool.fetch(
            f"""
            WITH picked AS (
                SELECT key FROM outbox
                WHERE {OUTBOX_CLAIMABLE}
                ORDER BY due_at LIMIT $3
                FOR UPDATE SKIP LOCKED
            )
            UPDATE outbox AS o SET claimed_until = $2 + $4, claimed_by = $5
            FROM picked WHERE o.key = picked.key
            RETURNING {", ".join("o." + c for c in _OUTBOX_COLUMNS.split(", "))}
            """,
            now if due_by is None else due_by,
            now,
            limit,
            lease,
            worker,
        )
        return sorted((OutboxItem(*row) for row in rows), key=lambda item: item.due_at)

    async def finish_outbox(self, item: OutboxItem, now: float, debounce: float) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            deleted = await conn.execute(
                "DELETE FROM outbox WHERE key = $1 AND version = $2", item.key, item.version
            )
            if deleted == "DELETE 0":  # changed while we worked: go round again, after the window
                await conn.execute(
                    "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, attempts = 0, "
                    "due_at = $1, last_error = NULL WHERE key = $2",
                    now + debounce,
                    item.key,
                )

    async def retry_outbox(self, item: OutboxItem, due_at: float, error: str) -> None:
        await self.pool.execute(
            "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, "
            "attempts = attempts + 1, due_at = $1, last_error = $2, updated_at = $3 "
            "WHERE key = $4",
            due_at,
            error[:500],
            utc_now(),
            item.key,
        )

    async def fail_outbox(self, item: OutboxItem, reason: str) -> None:
        values = (reason[:500], utc_now(), item.key)
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.execute(OUTBOX_FAIL, *values, item.version) == "UPDATE 0":
                await conn.execute(OUTBOX_FAIL_CHANGED, *values)

    async def next_outbox_due(self) -> float | None:
        value = await self.pool.fetchval(
            "SELECT min(greatest(due_at, coalesce(claimed_until, 0))) FROM outbox "
            "WHERE state = 'pending'"
        )
        return None if value is None else float(value)

    async def outbox_status(self) -> Mapping[str, Any]:
        async with self.pool.acquire() as conn:
            return outbox_status_from(
                await conn.fetch(OUTBOX_COUNTS),
                await conn.fetchval(OUTBOX_OLDEST),
                await conn.fetch(OUTBOX_FAILED),
                await conn.fetch(OUTBOX_RETRYING),
            )

    # -- comments ------------------------------------------------------------------

    async def get_comment(self, repo: str, pr: int) -> CommentRecord | None:
        row = await self.pool.fetchrow(
            "SELECT repo, pr, comment_id, body, body_sha, posted_at FROM comments "
            "WHERE lower(repo) = lower($1) AND pr = $2",
            repo,
            pr,
        )
        return CommentRecord(*row) if row else None

    async def save_comment(self, repo: str, pr: int, comment_id: int | None, body: str) -> None:
        digest = hashlib.sha256(body.encode()).hexdigest()
        await self.pool.execute(
            "INSERT INTO comments (repo, pr, comment_id, body, body_sha, posted_at) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (lower(repo), pr) DO UPDATE SET "
            "comment_id = excluded.comment_id, body = excluded.body, "
            "body_sha = excluded.body_sha, posted_at = excluded.posted_at",
            repo,
            pr,
            comment_id,
            body,
            digest,
            utc_now(),
        )

    async def delivery_counts(self) -> Mapping[str, int]:
        rows = await self.pool.fetch(
            "SELECT event, outcome, count(*) FROM deliveries GROUP BY event, outcome"
        )
        return {f"{event or '-'}:{outcome}": count for event, outcome, count in rows}

    # -- operations (outbox pacing, retention, missed deliveries) ------------------

    async def defer_outbox(self, item: OutboxItem, due_at: float, reason: str) -> None:
        await self.pool.execute(
            "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, due_at = $1, "
            "last_error = $2, updated_at = $3 WHERE key = $4",
            due_at,
            reason[:500],
            utc_now(),
            item.key,
        )

    async def prune_runs(
        self,
        now: float,
        retention_days: int | None,
        max_runs_per_repo: int | None,
        limit: int = 500,
    ) -> list[PrunedRun]:
        pruned_at = iso_time(now)
        async with self.pool.acquire() as conn, conn.transaction():
            idle: list[Any] = []
            crowded: list[Any] = []
            if retention_days is not None:
                idle = await conn.fetch(
                    f"SELECT {PRUNE_COLUMNS}, e.recorded_at FROM runs r JOIN events e "
                    "ON e.run_id = r.id AND e.seq = r.last_seq WHERE r.is_open = 0 "
                    f"AND e.recorded_at < $1 AND NOT {_OPEN_PR} ORDER BY r.id LIMIT $2",
                    iso_time(now - retention_days * 86400),
                    limit,
                )
            if max_runs_per_repo is not None and len(idle) < limit:
                crowded = await conn.fetch(
                    f"SELECT {PRUNE_COLUMNS} FROM (SELECT *, row_number() OVER "
                    "(PARTITION BY lower(repo) ORDER BY id DESC) AS newer FROM runs) r "
                    f"WHERE r.newer > $1 AND r.is_open = 0 AND NOT {_OPEN_PR} "
                    "ORDER BY r.id LIMIT $2",
                    max_runs_per_repo,
                    limit,
                )
            done = []
            tx = _PostgresTx(conn)
            for gone in choose_pruned(
                idle, crowded, retention_days, max_runs_per_repo, pruned_at, limit
            ):
                # Another instance pruning (or appending to) the same run holds its lock:
                # leave it to them rather than wait or remove it twice.
                if not await conn.fetchval(
                    "SELECT 1 FROM runs WHERE id = $1 AND is_open = 0 FOR UPDATE SKIP LOCKED",
                    gone.run_id,
                ):
                    continue
                await conn.execute("DELETE FROM events WHERE run_id = $1", gone.run_id)
                await conn.execute("DELETE FROM runs WHERE id = $1", gone.run_id)
                await conn.execute(
                    f"INSERT INTO pruned_runs ({PRUNED_COLUMNS}) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    *dataclasses.astuple(gone),
                )
                await tx.insert_bot_log(*pruned_log(gone))
                done.append(gone)
            for repo, pr in pruned_prs(done):
                if not await conn.fetchval(
                    "SELECT 1 FROM runs WHERE lower(repo) = lower($1) AND pr = $2 LIMIT 1",
                    repo,
                    pr,
                ):
                    await conn.execute(
                        "DELETE FROM comments WHERE lower(repo) = lower($1) AND pr = $2", repo, pr
                    )
                    await conn.execute(
                        "DELETE FROM outbox WHERE key = $1 AND state = 'failed'",
                        outbox_key(repo, pr),
                    )
        return done

    async def prune_deliveries(self, received_before: float, limit: int = 5000) -> int:
        done = await self.pool.execute(DELIVERIES_PRUNE, iso_time(received_before), limit)
        return int(done.split()[-1])

    async def pruned_info(self, run_id: str) -> PrunedRun | None:
        row = await self.pool.fetchrow(
            f"SELECT {PRUNED_COLUMNS} FROM pruned_runs WHERE run_id = $1",
            run_id,
        )
        return PrunedRun(*row) if row else None

    async def get_state(self, name: str) -> str | None:
        value = await self.pool.fetchval("SELECT value FROM bot_state WHERE name = $1", name)
        return None if value is None else str(value)

    async def set_state(self, name: str, value: str) -> None:
        await self.pool.execute(
            "INSERT INTO bot_state (name, value, updated_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            name,
            value,
            utc_now(),
        )

    async def prune_state(self, prefix: str, updated_before: float) -> int:
        done = await self.pool.execute(STATE_PRUNE, prefix, iso_time(updated_before))
        return int(done.split()[-1])

    async def take_write_slot(
        self, installation_id: int | None, now: float, windows: Windows
    ) -> float | None:
        owner = slot_owner(installation_id)
        longest = max(seconds for _, seconds in windows)
        async with self.pool.acquire() as conn, conn.transaction():
            # One installation's takes queue behind each other, whichever instance asks.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                f"audit-bot write slots {owner}",
            )
            await conn.execute(SLOTS_DELETE_OLD, owner, now - longest)
            sent = [r[0] for r in await conn.fetch(SLOTS_SELECT, owner)]
            free = next_free(sent, now, windows)
            if free > now:
                return free
            await conn.execute(SLOTS_INSERT, owner, now)
            return None

    async def claim_turn(self, job: str, now: float, interval: float) -> bool:
        claimed = await self.pool.fetchval(
            TURN_CLAIM,
            TURN_PREFIX + job,
            repr(now),
            iso_time(now),
            turn_due_before(now, interval),
        )
        return claimed is not None

    async def known_deliveries(self, ids: Sequence[str]) -> set[str]:
        rows = await self.pool.fetch(
            "SELECT id FROM deliveries WHERE id = ANY($1::text[])", list(dict.fromkeys(ids))
        )
        return {row[0] for row in rows}

    # -- trail tools (audit-bot import / rebuild) ----------------------------------

    async def import_run(self, events: Sequence[Event], key: str | None = None) -> State:
        events = list(events)
        if not events:
            raise ValueError("a run needs at least one event")
        run_id = events[0].run_id
        state = fold(run_id, events)
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                if await conn.fetchval("SELECT 1 FROM runs WHERE id = $1", run_id):
                    raise RunExists(run_id)
                tx = _PostgresTx(conn)
                await tx.insert_run(key, state)
                await tx.insert_events(events)
        except asyncpg.exceptions.UniqueViolationError as exc:
            if exc.constraint_name == "runs_pkey":  # imported meanwhile by someone else
                raise RunExists(run_id) from None
            raise StoreError(f"an open run already holds the key {key}") from None
        return state

    async def rebuild_projection(self, run_id: str) -> tuple[State, State] | None:
        async with self.pool.acquire() as conn, conn.transaction():
            text = await conn.fetchval("SELECT state FROM runs WHERE id = $1 FOR UPDATE", run_id)
            if text is None:
                return None
            stored = json.loads(text)
            # a cursor: the fold holds one event at a time, however long the trail
            rows = conn.cursor(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE run_id = $1 ORDER BY seq",
                run_id,
                prefetch=500,
            )
            state = new_state(run_id)
            async for row in rows:
                state = apply_event(state, event_from_row(row, json.loads))
            if state != stored:
                await _PostgresTx(conn).update_run(state)
        return stored, state


# Retention: "its PR still has an open pr run".
_OPEN_PR = (
    "EXISTS (SELECT 1 FROM runs o WHERE lower(o.repo) = lower(r.repo) AND o.pr = r.pr "
    "AND o.kind = 'pr' AND o.is_open = 1)"
)


def _where(url: str) -> str:
    """host:port/database of a URL, without its credentials (for messages and logs)."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


async def _no_session_state(conn: asyncpg.Connection) -> None:
    """Skip the pool's reset query on release: the store never leaves session state
    behind (no LISTEN, no session settings or advisory locks, transactions always
    closed), so a round trip per use would buy nothing."""


class _PostgresTx:
    """The transaction operations `CommandWriter` needs, in PostgreSQL's dialect.

    Every read of a run locks its row until the commit, so the state the writer
    extends is the latest and no one else can extend it meanwhile.
    """

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def find_delivery(self, source_id: str) -> tuple[str | None, str | None] | None:
        row = await self.conn.fetchrow(
            "SELECT response, fingerprint FROM deliveries WHERE id = $1", source_id
        )
        return (row[0], row[1]) if row else None

    async def insert_delivery(self, values: Mapping[str, Any]) -> None:
        await self.conn.execute(
            "INSERT INTO deliveries (id, kind, event, action, received_at, outcome, response, "
            "fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            values["id"],
            values["kind"],
            values["event"],
            values["action"],
            values["received_at"],
            values["outcome"],
            values["response"],
            values["fingerprint"],
        )

    async def _states(self, sql: str, *params: Any) -> list[State]:
        return [json.loads(r[0]) for r in await self.conn.fetch(sql, *params)]

    async def run_by_id(self, run_id: str) -> State | None:
        found = await self._states("SELECT state FROM runs WHERE id = $1 FOR UPDATE", run_id)
        return found[0] if found else None

    async def runs_by_key(self, key: str, open_only: bool) -> list[State]:
        where = "key = $1 AND is_open = 1" if open_only else "key = $1"
        return await self._states(
            f"SELECT state FROM runs WHERE {where} ORDER BY id DESC FOR UPDATE", key
        )

    async def open_runs_of_pr(self, repo: str, pr: int) -> list[State]:
        return await self._states(
            "SELECT state FROM runs WHERE lower(repo) = lower($1) AND pr = $2 AND is_open = 1 "
            "ORDER BY id FOR UPDATE",
            repo,
            pr,
        )

    async def latest_by_head(self, repo: str, head_sha: str, kind: str) -> State | None:
        found = await self._states(
            "SELECT state FROM runs WHERE lower(repo) = lower($1) AND head_sha = $2 "
            "AND kind = $3 ORDER BY id DESC LIMIT 1 FOR UPDATE",
            repo,
            head_sha,
            kind,
        )
        return found[0] if found else None

    async def insert_run(self, key: str | None, state: State) -> None:
        await self.conn.execute(
            "INSERT INTO runs (id, key, kind, repo, pr, head_sha, status, is_open, "
            "installation_id, private, started_at, updated_at, last_seq, head_hash, state) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            state["id"],
            key,
            *schema.run_columns(state),
        )

    async def update_run(self, state: State) -> None:
        await self.conn.execute(
            "UPDATE runs SET kind = $1, repo = $2, pr = $3, head_sha = $4, status = $5, "
            "is_open = $6, installation_id = $7, private = $8, started_at = $9, "
            "updated_at = $10, last_seq = $11, head_hash = $12, state = $13 WHERE id = $14",
            *schema.run_columns(state),
            state["id"],
        )

    async def insert_events(self, events: Sequence[Event]) -> None:
        await self.conn.executemany(
            f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [event_values(event, _compact_json) for event in events],
        )

    async def insert_bot_log(self, at: str, kind: str, source: str, data: str) -> None:
        await self.conn.execute(
            "INSERT INTO bot_log (at, kind, source, data) VALUES ($1, $2, $3, $4)",
            at,
            kind,
            source,
            data,
        )

    async def touch_outbox(
        self, repo: str, pr: int, installation_id: int | None, due_at: float, now_iso: str
    ) -> None:
        await self.conn.execute(
            OUTBOX_TOUCH,
            outbox_key(repo, pr),
            SUMMARY,
            repo,
            pr,
            installation_id,
            due_at,
            now_iso,
        )


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
