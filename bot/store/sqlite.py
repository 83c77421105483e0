"""The embedded default store: one SQLite file in WAL mode, `synchronous=FULL`.

All writes go through one writer thread that group-commits: commands that arrive
while a transaction is being written are applied together, each inside its own
savepoint, and acknowledged only after the shared COMMIT (and its fsync) returns. A
2xx therefore always means "on disk", and a burst of deliveries pays for one fsync,
not one each. Reads use their own connections, which WAL lets run beside the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson

from bot.store import base, rows, sql, sqlite_path
from bot.store import log as tlog
from bot.store import sqlite_schema as schema
from bot.store.base import (
    Cap,
    CheckpointRecord,
    CommentRecord,
    LeafRecord,
    LogHead,
    OutboxItem,
    PrunedRun,
    RunFilter,
    StoreHealth,
    StoreUnavailable,
)
from bot.store.slots import Windows, next_free
from bot.store.sqlite_faults import Checkpointer, FileIdentity, storage_fault
from bot.store.tx import SqlTx, prune_runs
from bot.store.writer import apply_now, run_to_completion
from bot.trail.events import Event, utc_now
from bot.trail.intents import Command, CommandResult
from bot.trail.spend_rollup import Bucket, SpendQuery, buckets_from_rows
from bot.trail.state import State, fold

log = logging.getLogger(__name__)
T = TypeVar("T")
_MAX_GROUP = 256
WRITER_CACHE_KIB = 32 * 1024


class SQLiteStore:
    def __init__(
        self, url: str, *, debounce: float = 2.0, serving: bool = False, read_only: bool = False
    ) -> None:
        self.path = sqlite_path(url)
        self.debounce = debounce
        # The writer's clock (event times, due times); tests inject one that steps back.
        self.clock: Callable[[], float] = time.time
        self.serving = serving
        # read_only: `audit-bot verify` and `export` read a database (a live one, or a
        # backup kept as evidence) without migrating it or writing anything to it.
        self.read_only = read_only
        self._jobs: queue.SimpleQueue[tuple[Callable[[sqlite3.Connection], Any], Any] | None] = (
            queue.SimpleQueue()
        )
        self._writer: threading.Thread | None = None
        self._readers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sqlite-read")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.health = StoreHealth()
        # The writer's fault seam: called on the writer thread before each COMMIT
        # ("commit") and each WAL checkpoint ("checkpoint"); whatever it raises is the
        # storage failing there. None in production; tests inject ENOSPC and the like.
        self.fault: Callable[[str], None] | None = None
        self.identity = FileIdentity(self.path)
        self.wal_checkpoints = Checkpointer(self.identity.wal, self.health, self._inject)

    # -- lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.read_only:
            if not self.path.is_file():
                raise base.StoreError(f"no database at {self.path}")
            await self._read(schema.check_readable)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        # The writer's page cache (the default is 2 MB): the indexes every delivery
        # touches stay in memory rather than being read back from the file each time.
        conn.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
        schema.migrate_sqlite(conn)
        if self.serving:
            # A SQLite file belongs to one bot process, so any lease still held is a dead
            # process's (killed mid-delivery): release it now rather than after the lease.
            # A CLI command opened beside a running bot must leave that bot's leases be.
            conn.execute("UPDATE outbox SET claimed_until = NULL, claimed_by = NULL")
        self.identity.record()
        self._writer = threading.Thread(
            target=self._write_loop, args=(conn,), name="sqlite-writer", daemon=True
        )
        self._writer.start()

    async def close(self) -> None:
        if self._writer is not None:
            self._jobs.put(None)
            await asyncio.get_running_loop().run_in_executor(None, self._writer.join)
            self._writer = None
        self._readers.shutdown(wait=True)
        with self._lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    def _connect(self, mode: str | None = None) -> sqlite3.Connection:
        """A connection to the file at the path. `mode` "ro" or "rw" opens it by URI,
        which never creates a file (the writer's first open, with no mode, may)."""
        mode = "ro" if self.read_only else mode
        if mode is not None:
            uri = f"{self.path.resolve().as_uri()}?mode={mode}"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=10000")
            if mode == "ro":
                return conn
        else:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA foreign_keys=ON")
        # Each command runs in a savepoint, whose undo journal would otherwise be a
        # temporary file: a write and a seek per statement, for data that never needs
        # to outlive the transaction. Durability is the WAL's job and is unchanged.
        conn.execute("PRAGMA temp_store=MEMORY")
        return conn

    # -- the writer thread ---------------------------------------------------------

    async def _write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        if self.read_only:
            raise base.StoreError("the database was opened read-only")
        if self._writer is None:
            raise RuntimeError("store is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._jobs.put((job, future))
        return await future

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        try:
            while True:
                first = self._jobs.get()
                if first is None:
                    return
                group = [first]
                stop = False
                while len(group) < _MAX_GROUP:
                    try:
                        nxt = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    group.append(nxt)
                self._commit_group(conn, group)
                if stop:
                    return
        finally:
            conn.close()

    def _inject(self, stage: str) -> None:
        if self.fault is not None:
            self.fault(stage)

    def _commit_group(self, conn: sqlite3.Connection, group: list[tuple[Any, Any]]) -> None:
        try:
            outcomes = self._transaction(conn, group)
        except StoreUnavailable as exc:  # nobody in the group is durable; logged once
            with contextlib.suppress(sqlite3.Error, OSError):
                conn.execute("ROLLBACK")
            outcomes = [(False, exc)] * len(group)
        except Exception as exc:  # the commit itself failed: nobody is durable
            log.exception("SQLite commit failed")
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            outcomes = [(False, exc)] * len(group)
        else:
            self.health.write_succeeded()
            self.wal_checkpoints.after_commit(conn)
        assert self._loop is not None
        # One wake-up of the event loop for the whole group, not one per job.
        settled = [
            (future, ok, value) for (_, future), (ok, value) in zip(group, outcomes, strict=True)
        ]
        self._loop.call_soon_threadsafe(_settle_all, settled)

    def _transaction(
        self, conn: sqlite3.Connection, group: list[tuple[Any, Any]]
    ) -> list[tuple[bool, Any]]:
        """One transaction of the group's jobs, each in a savepoint; StoreUnavailable
        when the storage fails or the file is not the one at the path any more (before
        writing, and again after COMMIT: nothing is acknowledged into a lost file)."""
        self._check_file()
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, _ in group:
                conn.execute("SAVEPOINT job")
                try:
                    outcomes.append((True, job(conn)))
                    conn.execute("RELEASE job")
                except Exception as exc:
                    if storage_fault(exc):
                        raise
                    # the job's own failure: undo only it
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((False, exc))
            self._inject("commit")
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            reason = storage_fault(exc)
            if reason is None:
                raise
            self.health.write_failed(reason)
            raise StoreUnavailable(f"storage unavailable: {reason}") from None
        self._check_file()
        return outcomes

    def _check_file(self) -> None:
        lost = self.identity.check()
        if lost is not None:
            self.health.file_gone(lost)
            raise StoreUnavailable(f"storage unavailable: {lost}")

    def check_health(self) -> str | None:
        """Why writes cannot be acknowledged now, or None (a stat at most once a second)."""
        if not self.read_only and self._writer is not None:
            lost = self.identity.check_cached()
            if lost is not None:
                self.health.file_gone(lost)
        return self.health.problem

    # -- reads -------------------------------------------------------------------

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._read_sync, fn)

    def _read_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._reader()
            self._local.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        return fn(conn)

    def _reader(self) -> sqlite3.Connection:
        """A reader connection to the file the writer opened, never a new one.

        `mode=rw` never creates the file, and its device and inode (and its `-wal`'s) are
        checked before and after the open: after an unlink or a replacement, a reader
        would otherwise open an empty database at the path ("no such table") or a WAL
        nobody writes. A lost file is the store's fault path: StoreUnavailable, a 503
        and `/readyz` red, one log line, no traceback.
        """
        self._check_reader_file()
        try:
            conn = self._connect("rw")
        except sqlite3.Error as exc:
            reason = storage_fault(exc) or str(exc)
            self._check_reader_file()  # the file went away: say so, not "cannot open"
            raise StoreUnavailable(f"storage unavailable: {reason}") from None
        try:
            self._check_reader_file()
        except StoreUnavailable:
            conn.close()
            raise
        return conn

    def _check_reader_file(self) -> None:
        if self.read_only:
            return  # `mode=ro` by itself: a read-only store has no writer's file to match
        lost = self.identity.check()
        if lost is not None:
            self.health.file_gone(lost)
            raise StoreUnavailable(f"storage unavailable: {lost}")

    # -- commands ------------------------------------------------------------------

    async def apply(self, command: Command) -> CommandResult:
        now = self.clock()
        return await self._write(lambda conn: apply_now(_tx(conn), now, self.debounce, command))

    async def get_run(self, run_id: str) -> State | None:
        def read(conn: sqlite3.Connection) -> State | None:
            row = conn.execute(Q(sql.RUN_STATE), (run_id,)).fetchone()
            return orjson.loads(row[0]) if row else None

        return await self._read(read)

    async def list_runs(self, where: RunFilter) -> list[State]:
        query, params = sql.runs_query(where)
        return await self._read(
            lambda conn: [orjson.loads(r[0]) for r in conn.execute(Q(query), params).fetchall()]
        )

    async def spend(self, query: SpendQuery) -> list[Bucket]:
        statement, params = sql.coarse_spend_query(query) or sql.spend_query(query)
        found = await self._read(lambda conn: conn.execute(Q(statement), params).fetchall())
        return buckets_from_rows(query.interval, query.by, found)

    async def spend_private_scopes(self, query: SpendQuery) -> list[tuple[str, int | None]]:
        statement, params = sql.spend_private_query(query)
        found = await self._read(lambda conn: conn.execute(Q(statement), params).fetchall())
        return [(str(repo), pr) for repo, pr in found]

    async def get_events(
        self, run_id: str, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        params = (run_id, after, -1 if limit is None else limit)
        return await self._read(
            lambda conn: [
                rows.event_from_row(row, orjson.loads)
                for row in conn.execute(Q(sql.EVENTS_PAGE), params).fetchall()
            ]
        )

    def iter_events(self, run_id: str, after: int = 0, batch: int = 500) -> AsyncIterator[Event]:
        return rows.page_events(self.get_events, run_id, after, batch)

    # -- outbox ------------------------------------------------------------------

    async def claim_outbox(
        self, worker: str, now: float, lease: float, limit: int, due_by: float | None = None
    ) -> list[OutboxItem]:
        def claim(conn: sqlite3.Connection) -> list[OutboxItem]:
            due = conn.execute(
                f"SELECT {sql.OUTBOX_COLUMNS} FROM outbox WHERE {Q(sql.OUTBOX_CLAIMABLE)} "
                "ORDER BY due_at LIMIT ?3",
                (now if due_by is None else due_by, now, limit, lease),
            ).fetchall()
            for row in due:
                conn.execute(
                    "UPDATE outbox SET claimed_until = ?, claimed_by = ? WHERE key = ?",
                    (now + lease, worker, row[0]),
                )
            return [OutboxItem(*row) for row in due]

        return await self._write(claim)

    async def finish_outbox(self, item: OutboxItem, now: float, debounce: float) -> None:
        def finish(conn: sqlite3.Connection) -> None:
            if not conn.execute(Q(sql.OUTBOX_FINISH), (item.key, item.version)).rowcount:
                conn.execute(Q(sql.OUTBOX_FINISH_CHANGED), (now + debounce, item.key))

        await self._write(finish)

    async def retry_outbox(self, item: OutboxItem, due_at: float, error: str) -> None:
        values = (due_at, error[:500], utc_now(), item.key)
        await self._write(lambda conn: conn.execute(Q(sql.OUTBOX_RETRY), values))

    async def fail_outbox(self, item: OutboxItem, reason: str) -> None:
        values = (reason[:500], utc_now(), item.key)

        def fail(conn: sqlite3.Connection) -> None:
            if not conn.execute(Q(sql.OUTBOX_FAIL), (*values, item.version)).rowcount:
                conn.execute(Q(sql.OUTBOX_FAIL_CHANGED), values)

        await self._write(fail)

    async def next_outbox_due(self) -> float | None:
        return await self._read(lambda conn: conn.execute(Q(sql.OUTBOX_NEXT_DUE)).fetchone()[0])

    async def outbox_status(self) -> Mapping[str, Any]:
        def read(conn: sqlite3.Connection) -> Mapping[str, Any]:
            return rows.outbox_status_from(
                conn.execute(sql.OUTBOX_COUNTS).fetchall(),
                conn.execute(sql.OUTBOX_OLDEST).fetchone()[0],
                conn.execute(sql.OUTBOX_FAILED).fetchall(),
                conn.execute(sql.OUTBOX_RETRYING).fetchall(),
            )

        return await self._read(read)

    # -- comments ------------------------------------------------------------------

    async def get_comment(self, repo: str, pr: int) -> CommentRecord | None:
        def read(conn: sqlite3.Connection) -> CommentRecord | None:
            row = conn.execute(Q(sql.COMMENT_GET), (repo, pr)).fetchone()
            return CommentRecord(*row) if row else None

        return await self._read(read)

    async def save_comment(self, repo: str, pr: int, comment_id: int | None, body: str) -> None:
        digest = hashlib.sha256(body.encode()).hexdigest()
        values = (repo, pr, comment_id, body, digest, utc_now())
        await self._write(lambda conn: conn.execute(Q(sql.COMMENT_SAVE), values))

    async def delivery_counts(self) -> Mapping[str, int]:
        def read(conn: sqlite3.Connection) -> Mapping[str, int]:
            counts = conn.execute(sql.DELIVERY_COUNTS)
            return {f"{event or '-'}:{outcome}": count for event, outcome, count in counts}

        return await self._read(read)

    # -- operations: pacing, retention, missed deliveries -----------------------------

    async def defer_outbox(self, item: OutboxItem, due_at: float, reason: str) -> None:
        values = (due_at, reason[:500], utc_now(), item.key)
        await self._write(lambda conn: conn.execute(Q(sql.OUTBOX_DEFER), values))

    async def prune_runs(
        self, now: float, retention_days: Cap, max_runs_per_repo: Cap, limit: int = 500
    ) -> list[PrunedRun]:
        def prune(conn: sqlite3.Connection) -> list[PrunedRun]:
            db = SQLiteDb(conn)
            return run_to_completion(
                prune_runs(db, Q, now, retention_days, max_runs_per_repo, limit)
            )

        return await self._write(prune)

    async def prune_deliveries(self, received_before: float, limit: int = 5000) -> int:
        values = (rows.iso_time(received_before), limit)
        return await self._write(
            lambda conn: conn.execute(Q(sql.DELIVERIES_PRUNE), values).rowcount
        )

    async def pruned_info(self, run_id: str) -> PrunedRun | None:
        def read(conn: sqlite3.Connection) -> PrunedRun | None:
            row = conn.execute(Q(sql.PRUNED_GET), (run_id,)).fetchone()
            return PrunedRun(*row) if row else None

        return await self._read(read)

    async def get_state(self, name: str) -> str | None:
        def read(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(Q(sql.STATE_GET), (name,)).fetchone()
            return row[0] if row else None

        return await self._read(read)

    async def set_state(self, name: str, value: str) -> None:
        values = (name, value, utc_now())
        await self._write(lambda conn: conn.execute(Q(sql.STATE_SET), values))

    async def prune_state(self, prefix: str, updated_before: float) -> int:
        values = (prefix, rows.iso_time(updated_before))
        return await self._write(lambda conn: conn.execute(Q(sql.STATE_PRUNE), values).rowcount)

    async def put_session(self, record: base.SessionRecord) -> None:
        values = dataclasses.astuple(record)
        await self._write(lambda conn: conn.execute(Q(sql.SESSION_PUT), values))

    async def get_session(self, key: str) -> base.SessionRecord | None:
        def read(conn: sqlite3.Connection) -> base.SessionRecord | None:
            row = conn.execute(Q(sql.SESSION_GET), (key,)).fetchone()
            return base.SessionRecord(*row) if row else None

        return await self._read(read)

    async def take_session(self, key: str) -> base.SessionRecord | None:
        def take(conn: sqlite3.Connection) -> base.SessionRecord | None:
            row = conn.execute(Q(sql.SESSION_TAKE), (key,)).fetchone()
            return base.SessionRecord(*row) if row else None

        return await self._write(take)

    async def touch_session(self, key: str, seen_at: int) -> None:
        await self._write(lambda conn: conn.execute(Q(sql.SESSION_TOUCH), (key, seen_at)))

    async def prune_sessions(self, seen_before: int, created_before: int) -> int:
        values = (seen_before, created_before)
        return await self._write(lambda conn: conn.execute(Q(sql.SESSION_PRUNE), values).rowcount)

    async def take_write_slot(
        self, installation_id: int | None, now: float, windows: Windows
    ) -> float | None:
        owner = rows.slot_owner(installation_id)
        longest = max(seconds for _, seconds in windows)

        def take(conn: sqlite3.Connection) -> float | None:
            conn.execute(Q(sql.SLOTS_DELETE_OLD), (owner, now - longest))
            sent = [r[0] for r in conn.execute(Q(sql.SLOTS_SELECT), (owner,))]
            free = next_free(sent, now, windows)
            if free > now:
                return free
            conn.execute(Q(sql.SLOTS_INSERT), (owner, now))
            return None

        return await self._write(take)

    async def claim_turn(self, job: str, now: float, interval: float) -> bool:
        values = (
            rows.TURN_PREFIX + job,
            repr(now),
            rows.iso_time(now),
            rows.turn_due_before(now, interval),
        )
        return await self._write(
            lambda conn: conn.execute(Q(sql.TURN_CLAIM), values).fetchone() is not None
        )

    async def known_deliveries(self, ids: Sequence[str]) -> set[str]:
        wanted = list(dict.fromkeys(ids))

        def read(conn: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(
                    r[0]
                    for r in conn.execute(f"SELECT id FROM deliveries WHERE id IN ({marks})", chunk)
                )
            return found

        return await self._read(read)

    # -- trail tools -----------------------------------------------------------------

    async def import_run(self, events: Sequence[Event], key: str | None = None) -> State:
        events, state = rows.imported(events)
        run_id = state["id"]

        def insert(conn: sqlite3.Connection) -> State:
            if conn.execute(Q(sql.RUN_EXISTS), (run_id,)).fetchone():
                raise base.RunExists(run_id)
            tx = _tx(conn)
            try:
                run_to_completion(tx.insert_run(key, state))
            except sqlite3.IntegrityError:
                raise base.StoreError(f"an open run already holds the key {key}") from None
            run_to_completion(tx.insert_events(events))
            run_to_completion(tx.add_spend(state, events))
            return state

        return await self._write(insert)

    async def rebuild_projection(self, run_id: str) -> tuple[State, State] | None:
        def rebuild(conn: sqlite3.Connection) -> tuple[State, State] | None:
            row = conn.execute(Q(sql.RUN_STATE), (run_id,)).fetchone()
            if row is None:
                return None
            stored = json.loads(row[0])
            trail = conn.execute(Q(sql.EVENTS_OF_RUN), (run_id,))
            state = fold(run_id, (rows.event_from_row(r, orjson.loads) for r in trail))
            if state != stored:
                run_to_completion(_tx(conn).update_run(state))
            return stored, state

        return await self._write(rebuild)

    # -- the transparency log (bot.store.log) -------------------------------------------

    async def integrate(self, batch_limit: int) -> LogHead:
        return await self._write(
            lambda conn: run_to_completion(tlog.integrate(SQLiteDb(conn), Q, batch_limit))
        )

    async def log_size(self) -> int:
        return await self._read(lambda conn: conn.execute(tlog.HEAD_SIZE).fetchone()[0])

    async def get_nodes(self, addresses: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return await self._read(
            lambda conn: run_to_completion(tlog.get_nodes(SQLiteDb(conn), Q, addresses))
        )

    async def save_checkpoint(self, size: int, root: bytes, note: str) -> None:
        values = (size, root.hex(), note, utc_now())
        await self._write(lambda conn: conn.execute(Q(tlog.CHECKPOINT_INSERT), values))

    async def latest_checkpoint(self) -> CheckpointRecord | None:
        def read(conn: sqlite3.Connection) -> CheckpointRecord | None:
            row = conn.execute(tlog.CHECKPOINT_LATEST).fetchone()
            return tlog.checkpoint_record(row) if row else None

        return await self._read(read)

    async def checkpoints(self) -> list[CheckpointRecord]:
        return await self._read(
            lambda conn: [tlog.checkpoint_record(r) for r in conn.execute(tlog.CHECKPOINTS)]
        )

    async def leaf_index(self, run_id: str, seq: int) -> int | None:
        return await self._read(
            lambda conn: conn.execute(Q(tlog.LEAF_INDEX), (run_id, seq)).fetchone()[0]
        )

    async def covering_size(self, events: Sequence[tuple[str, int]]) -> int | None:
        return await self._read(
            lambda conn: run_to_completion(tlog.covering_size(SQLiteDb(conn), Q, events))
        )

    async def log_leaves(self, start: int, limit: int) -> list[LeafRecord]:
        return await self._read(
            lambda conn: [tlog.leaf_record(r) for r in conn.execute(Q(tlog.LEAVES), (start, limit))]
        )


# SQLite's dialect: `?n` parameters, `COLLATE NOCASE` repository columns, one writer.
Q = sql.Dialect(parameter="?", case_fold="{}")


def _settle_all(settled: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in settled:
        _settle(future, ok, value)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class SQLiteDb:
    """A SQLite connection seen as a `tx.Db`: coroutines that never suspend (they run
    to completion on the writer thread), so the shared transaction code runs here too."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        return self.conn.execute(query, args).fetchall()

    async def fetchrow(self, query: str, *args: Any) -> Any:
        return self.conn.execute(query, args).fetchone()

    async def fetchval(self, query: str, *args: Any) -> Any:
        row = self.conn.execute(query, args).fetchone()
        return row[0] if row else None

    async def execute(self, query: str, *args: Any) -> int:
        return self.conn.execute(query, args).rowcount

    async def executemany(self, query: str, args: Iterable[Sequence[Any]]) -> int:
        return self.conn.executemany(query, args).rowcount


def _tx(conn: sqlite3.Connection) -> SqlTx:
    """The writer's Tx on the writer thread's connection."""
    return SqlTx(SQLiteDb(conn), Q, _dumps, orjson.loads)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
