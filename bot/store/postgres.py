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
import functools
import hashlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg

from bot.store import log as tlog
from bot.store import sql
from bot.store.base import (
    Cap,
    CheckpointRecord,
    CommentRecord,
    LeafRecord,
    LogHead,
    OutboxItem,
    PrunedRun,
    RunExists,
    RunFilter,
    SessionRecord,
    StoreError,
    StoreHealth,
    StoreUnavailable,
)
from bot.store.postgres_schema import check_readable, migrate_postgres
from bot.store.rows import (
    TURN_PREFIX,
    event_from_row,
    imported,
    iso_time,
    outbox_status_from,
    page_events,
    slot_owner,
    turn_due_before,
)
from bot.store.slots import Windows, next_free
from bot.store.tx import SqlTx, prune_runs
from bot.store.writer import CommandWriter
from bot.trail.events import Event, utc_now
from bot.trail.intents import Command, CommandResult
from bot.trail.spend_rollup import Bucket, SpendQuery, buckets_from_rows
from bot.trail.state import State, new_state
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
    # the server ended the session (shutdown, pg_terminate_backend): nothing committed
    asyncpg.exceptions.OperatorInterventionError,
    # a pooled session the server terminated, used again before asyncpg noticed: the
    # statement never started, so running the command again is safe
    asyncpg.exceptions.InternalClientError,
    ConnectionError,
)
_MAX_ATTEMPTS = 12
_UNHEALTHY_FOR = 30.0  # seconds /readyz stays 503 after a failed write with none since
# The server cannot write now (disk full, I/O error, a read-only standby after a
# failover): answered 503 with Retry-After, like SQLite's storage faults.
_UNAVAILABLE = (
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.PostgresSystemError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.exceptions.CannotConnectNowError,
)


W = TypeVar("W", bound=Callable[..., Any])


def _writes(method: W) -> W:
    """A write the outbox worker makes: a server that cannot write raises StoreUnavailable
    (logged once per interval by the store's health), not a driver error."""

    @functools.wraps(method)
    async def write(self: PostgresStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        except _UNAVAILABLE + _RETRY_CONNECTION as exc:
            raise self.unavailable(exc) from None

    return write  # type: ignore[return-value]


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
        self.health = StoreHealth()

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

    def check_health(self) -> str | None:
        """Why the last write failed, or None: cleared by the next command that commits,
        or 30 s after the last failure, so an instance taken out of rotation for it is
        tried again (every instance shares the server; none can test it alone)."""
        if self.health.clock() - self.health.failed_at > _UNHEALTHY_FOR:
            return None
        return self.health.problem

    async def apply(self, command: Command) -> CommandResult:
        try:
            result = await self._apply(command)
        except _UNAVAILABLE + _RETRY_CONNECTION as exc:
            raise self.unavailable(exc) from None
        self.health.write_succeeded()
        return result

    def unavailable(self, exc: BaseException) -> StoreUnavailable:
        reason = f"{type(exc).__name__}: {exc}"
        self.health.write_failed(reason, key=type(exc).__name__)  # the text names the statement
        return StoreUnavailable(f"storage unavailable: {reason}")

    async def _apply(self, command: Command) -> CommandResult:
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    writer = CommandWriter(_tx(conn), self.clock(), self.debounce)
                    return await writer.apply(command)
            except _RETRY_CONFLICT + _RETRY_CONNECTION as exc:
                if attempt == _MAX_ATTEMPTS and isinstance(exc, _RETRY_CONNECTION):
                    raise
                if attempt == _MAX_ATTEMPTS:
                    raise StoreError(
                        f"command {command.source.id} still conflicting after {attempt} attempts"
                    ) from exc
                log.debug("retrying command %s after %s", command.source.id, type(exc).__name__)
                await asyncio.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))
        raise AssertionError("unreachable")

    # -- reads -------------------------------------------------------------------

    async def get_run(self, run_id: str) -> State | None:
        text = await self.pool.fetchval(Q(sql.RUN_STATE), run_id)
        return json.loads(text) if text is not None else None

    async def list_runs(self, where: RunFilter) -> list[State]:
        query, params = sql.runs_query(where)
        return [json.loads(r[0]) for r in await self.pool.fetch(Q(query), *params)]

    async def spend(self, query: SpendQuery) -> list[Bucket]:
        statement, params = sql.coarse_spend_query(query) or sql.spend_query(query)
        found = await self.pool.fetch(Q(statement), *params)
        return buckets_from_rows(query.interval, query.by, found)

    async def spend_private_scopes(self, query: SpendQuery) -> list[tuple[str, int | None]]:
        statement, params = sql.spend_private_query(query)
        return [(str(r[0]), r[1]) for r in await self.pool.fetch(Q(statement), *params)]

    async def get_events(
        self, run_id: str, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        rows = await self.pool.fetch(Q(sql.EVENTS_PAGE), run_id, after, limit)  # NULL: no limit
        return [event_from_row(row, json.loads) for row in rows]

    def iter_events(self, run_id: str, after: int = 0, batch: int = 500) -> AsyncIterator[Event]:
        return page_events(self.get_events, run_id, after, batch)

    # -- outbox ------------------------------------------------------------------

    @_writes
    async def claim_outbox(
        self, worker: str, now: float, lease: float, limit: int, due_by: float | None = None
    ) -> list[OutboxItem]:
        # SKIP LOCKED: rows another instance is claiming right now are left to it; a row
        # it claimed and committed fails the lease test when re-checked under the lock.
        rows = await self.pool.fetch(
            f"""
            WITH picked AS (
                SELECT key FROM outbox
                WHERE {sql.OUTBOX_CLAIMABLE}
                ORDER BY due_at LIMIT $3
                FOR UPDATE SKIP LOCKED
            )
            UPDATE outbox AS o SET claimed_until = $2 + $4, claimed_by = $5
            FROM picked WHERE o.key = picked.key
            RETURNING {", ".join("o." + c for c in sql.OUTBOX_COLUMNS.split(", "))}
            """,
            now if due_by is None else due_by,
            now,
            limit,
            lease,
            worker,
        )
        return sorted((OutboxItem(*row) for row in rows), key=lambda item: item.due_at)

    @_writes
    async def finish_outbox(self, item: OutboxItem, now: float, debounce: float) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            deleted = await conn.execute(Q(sql.OUTBOX_FINISH), item.key, item.version)
            if deleted == "DELETE 0":  # changed while we worked: go round again, after the window
                await conn.execute(Q(sql.OUTBOX_FINISH_CHANGED), now + debounce, item.key)

    @_writes
    async def retry_outbox(self, item: OutboxItem, due_at: float, error: str) -> None:
        await self.pool.execute(Q(sql.OUTBOX_RETRY), due_at, error[:500], utc_now(), item.key)

    @_writes
    async def fail_outbox(self, item: OutboxItem, reason: str) -> None:
        values = (reason[:500], utc_now(), item.key)
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.execute(Q(sql.OUTBOX_FAIL), *values, item.version) == "UPDATE 0":
                await conn.execute(Q(sql.OUTBOX_FAIL_CHANGED), *values)

    async def next_outbox_due(self) -> float | None:
        value = await self.pool.fetchval(Q(sql.OUTBOX_NEXT_DUE))
        return None if value is None else float(value)

    async def outbox_status(self) -> Mapping[str, Any]:
        async with self.pool.acquire() as conn:
            return outbox_status_from(
                await conn.fetch(sql.OUTBOX_COUNTS),
                await conn.fetchval(sql.OUTBOX_OLDEST),
                await conn.fetch(sql.OUTBOX_FAILED),
                await conn.fetch(sql.OUTBOX_RETRYING),
            )

    # -- comments ------------------------------------------------------------------

    async def get_comment(self, repo: str, pr: int) -> CommentRecord | None:
        row = await self.pool.fetchrow(Q(sql.COMMENT_GET), repo, pr)
        return CommentRecord(*row) if row else None

    @_writes
    async def save_comment(self, repo: str, pr: int, comment_id: int | None, body: str) -> None:
        digest = hashlib.sha256(body.encode()).hexdigest()
        values = (repo, pr, comment_id, body, digest, utc_now())
        await self.pool.execute(Q(sql.COMMENT_SAVE), *values)

    async def delivery_counts(self) -> Mapping[str, int]:
        rows = await self.pool.fetch(sql.DELIVERY_COUNTS)
        return {f"{event or '-'}:{outcome}": count for event, outcome, count in rows}

    # -- operations (outbox pacing, retention, missed deliveries) ------------------

    @_writes
    async def defer_outbox(self, item: OutboxItem, due_at: float, reason: str) -> None:
        await self.pool.execute(Q(sql.OUTBOX_DEFER), due_at, reason[:500], utc_now(), item.key)

    async def prune_runs(
        self, now: float, retention_days: Cap, max_runs_per_repo: Cap, limit: int = 500
    ) -> list[PrunedRun]:
        async with self.pool.acquire() as conn, conn.transaction():
            return await prune_runs(conn, Q, now, retention_days, max_runs_per_repo, limit)

    async def prune_deliveries(self, received_before: float, limit: int = 5000) -> int:
        done = await self.pool.execute(Q(sql.DELIVERIES_PRUNE), iso_time(received_before), limit)
        return int(done.split()[-1])

    async def pruned_info(self, run_id: str) -> PrunedRun | None:
        row = await self.pool.fetchrow(Q(sql.PRUNED_GET), run_id)
        return PrunedRun(*row) if row else None

    async def get_state(self, name: str) -> str | None:
        value = await self.pool.fetchval(Q(sql.STATE_GET), name)
        return None if value is None else str(value)

    async def set_state(self, name: str, value: str) -> None:
        await self.pool.execute(Q(sql.STATE_SET), name, value, utc_now())

    async def prune_state(self, prefix: str, updated_before: float) -> int:
        done = await self.pool.execute(Q(sql.STATE_PRUNE), prefix, iso_time(updated_before))
        return int(done.split()[-1])

    async def put_session(self, record: SessionRecord) -> None:
        await self.pool.execute(Q(sql.SESSION_PUT), *dataclasses.astuple(record))

    async def get_session(self, key: str) -> SessionRecord | None:
        row = await self.pool.fetchrow(Q(sql.SESSION_GET), key)
        return SessionRecord(*row) if row else None

    async def take_session(self, key: str) -> SessionRecord | None:
        row = await self.pool.fetchrow(Q(sql.SESSION_TAKE), key)
        return SessionRecord(*row) if row else None

    async def touch_session(self, key: str, seen_at: int) -> None:
        await self.pool.execute(Q(sql.SESSION_TOUCH), key, seen_at)

    async def prune_sessions(self, seen_before: int, created_before: int) -> int:
        done = await self.pool.execute(Q(sql.SESSION_PRUNE), seen_before, created_before)
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
            await conn.execute(Q(sql.SLOTS_DELETE_OLD), owner, now - longest)
            sent = [r[0] for r in await conn.fetch(Q(sql.SLOTS_SELECT), owner)]
            free = next_free(sent, now, windows)
            if free > now:
                return free
            await conn.execute(Q(sql.SLOTS_INSERT), owner, now)
            return None

    async def claim_turn(self, job: str, now: float, interval: float) -> bool:
        values = (TURN_PREFIX + job, repr(now), iso_time(now), turn_due_before(now, interval))
        return await self.pool.fetchval(Q(sql.TURN_CLAIM), *values) is not None

    async def known_deliveries(self, ids: Sequence[str]) -> set[str]:
        rows = await self.pool.fetch(
            "SELECT id FROM deliveries WHERE id = ANY($1::text[])", list(dict.fromkeys(ids))
        )
        return {row[0] for row in rows}

    # -- trail tools (audit-bot import / rebuild) ----------------------------------

    async def import_run(self, events: Sequence[Event], key: str | None = None) -> State:
        events, state = imported(events)
        run_id = state["id"]
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                if await conn.fetchval(Q(sql.RUN_EXISTS), run_id):
                    raise RunExists(run_id)
                tx = _tx(conn)
                await tx.insert_run(key, state)
                await tx.insert_events(events)
                await tx.add_spend(state, events)
        except asyncpg.exceptions.UniqueViolationError as exc:
            if exc.constraint_name == "runs_pkey":  # imported meanwhile by someone else
                raise RunExists(run_id) from None
            raise StoreError(f"an open run already holds the key {key}") from None
        return state

    async def rebuild_projection(self, run_id: str) -> tuple[State, State] | None:
        async with self.pool.acquire() as conn, conn.transaction():
            text = await conn.fetchval(Q(sql.RUN_STATE_LOCKED), run_id)
            if text is None:
                return None
            stored = json.loads(text)
            # a cursor: the fold holds one event at a time, however long the trail
            rows = conn.cursor(Q(sql.EVENTS_OF_RUN), run_id, prefetch=500)
            state = new_state(run_id)
            async for row in rows:
                state = apply_event(state, event_from_row(row, json.loads))
            if state != stored:
                await _tx(conn).update_run(state)
        return stored, state

    # -- the transparency log (bot.store.log) -------------------------------------------

    async def integrate(self, batch_limit: int) -> LogHead:
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    return await tlog.integrate(conn, Q, batch_limit)
            except _RETRY_CONFLICT as exc:
                if attempt == _MAX_ATTEMPTS:
                    raise StoreError("log integration still conflicting") from exc
                await asyncio.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))
        raise AssertionError("unreachable")

    async def log_size(self) -> int:
        return int(await self.pool.fetchval(tlog.HEAD_SIZE))

    async def get_nodes(self, addresses: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        async with self.pool.acquire() as conn:
            return await tlog.get_nodes(conn, Q, addresses)

    async def save_checkpoint(self, size: int, root: bytes, note: str) -> None:
        await self.pool.execute(Q(tlog.CHECKPOINT_INSERT), size, root.hex(), note, utc_now())

    async def latest_checkpoint(self) -> CheckpointRecord | None:
        row = await self.pool.fetchrow(tlog.CHECKPOINT_LATEST)
        return tlog.checkpoint_record(row) if row else None

    async def checkpoints(self) -> list[CheckpointRecord]:
        return [tlog.checkpoint_record(r) for r in await self.pool.fetch(tlog.CHECKPOINTS)]

    async def leaf_index(self, run_id: str, seq: int) -> int | None:
        value = await self.pool.fetchval(Q(tlog.LEAF_INDEX), run_id, seq)
        return None if value is None else int(value)

    async def covering_size(self, events: Sequence[tuple[str, int]]) -> int | None:
        async with self.pool.acquire() as conn:
            return await tlog.covering_size(conn, Q, events)

    async def log_leaves(self, start: int, limit: int) -> list[LeafRecord]:
        rows = await self.pool.fetch(Q(tlog.LEAVES), start, limit)
        return [tlog.leaf_record(r) for r in rows]


# PostgreSQL's dialect: `lower(repo)` indexes, row locks for many writers.
Q = sql.Dialect(
    parameter="$",
    case_fold="lower({})",
    lock=" FOR UPDATE",
    skip_locked=" FOR UPDATE SKIP LOCKED",
    greatest="greatest",
)


def _where(url: str) -> str:
    """host:port/database of a URL, without its credentials (for messages and logs)."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


async def _no_session_state(conn: asyncpg.Connection) -> None:
    """Skip the pool's reset query on release: the store never leaves session state
    behind (no LISTEN, no session settings or advisory locks, transactions always
    closed), so a round trip per use would buy nothing."""


def _tx(conn: asyncpg.Connection) -> SqlTx:
    """The writer's Tx on a connection inside a transaction."""
    return SqlTx(conn, Q, _compact_json, json.loads)


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
