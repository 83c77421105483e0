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
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

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
from bot.store.writer import apply_sync
from bot.trail.events import Event, utc_now
from bot.trail.intents import Command, CommandResult
from bot.trail.state import State, fold

log = logging.getLogger(__name__)
T = TypeVar("T")
_MAX_GROUP = 256


def sqlite_path(url: str) -> Path:
    """`sqlite:///relative/x.db` → relative path; `sqlite:////abs/x.db` → absolute."""
    return Path(url.removeprefix("sqlite:///"))


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

    # -- lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.read_only:
            if not self.path.is_file():
                raise StoreError(f"no database at {self.path}")
            await self._read(schema.check_readable)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        schema.migrate_sqlite(conn)
        if self.serving:
            # A SQLite file belongs to one bot process, so any lease still held is a dead
            # process's (killed mid-delivery): release it now rather than after the lease.
            # A CLI command opened beside a running bot must leave that bot's leases be.
            conn.execute("UPDATE outbox SET claimed_until = NULL, claimed_by = NULL")
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

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=10000")
            return conn
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
            raise StoreError("the database was opened read-only")
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

    def _commit_group(self, conn: sqlite3.Connection, group: list[tuple[Any, Any]]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, _ in group:
                conn.execute("SAVEPOINT job")
                try:
                    outcomes.append((True, job(conn)))
                    conn.execute("RELEASE job")
                except Exception as exc:  # the job's own failure: undo only it
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((False, exc))
            conn.execute("COMMIT")
        except Exception as exc:  # the commit itself failed: nobody is durable
            log.exception("SQLite commit failed")
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            outcomes = [(False, exc)] * len(group)
        assert self._loop is not None
        for (_, future), (ok, value) in zip(group, outcomes, strict=True):
            self._loop.call_soon_threadsafe(_settle, future, ok, value)

    # -- reads -------------------------------------------------------------------

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._read_sync, fn)

    def _read_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        return fn(conn)

    # -- commands ------------------------------------------------------------------

    async def apply(self, command: Command) -> CommandResult:
        now = self.clock()
        return await self._write(
            lambda conn: apply_sync(_SQLiteTx(conn), now, self.debounce, command)
        )

    async def get_run(self, run_id: str) -> State | None:
        def read(conn: sqlite3.Connection) -> State | None:
            row = conn.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
            return orjson.loads(row[0]) if row else None

        return await self._read(read)

    async def list_runs(self, where: RunFilter) -> list[State]:
        clauses, params = [], []
        for column, value in (
            ("repo", where.repo),
            ("pr", where.pr),
            ("kind", where.kind),
            ("status", where.status),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if where.since is not None:
            clauses.append("started_at >= ?")
            params.append(where.since)
        if where.before is not None:
            clauses.append("id < ?")
            params.append(where.before)
        sql = "SELECT state FROM runs"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(where.limit)
        return await self._read(
            lambda conn: [orjson.loads(r[0]) for r in conn.execute(sql, params).fetchall()]
        )

    async def get_events(
        self, run_id: str, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?"
        )
        params = (run_id, after, -1 if limit is None else limit)
        return await self._read(
            lambda conn: [
                event_from_row(row, orjson.loads) for row in conn.execute(sql, params).fetchall()
            ]
        )

    def iter_events(self, run_id: str, after: int = 0, batch: int = 500) -> AsyncIterator[Event]:
        return page_events(self.get_events, run_id, after, batch)

    # -- outbox ------------------------------------------------------------------

    async def claim_outbox(
        self, worker: str, now: float, lease: float, limit: int, due_by: float | None = None
    ) -> list[OutboxItem]:
        def claim(conn: sqlite3.Connection) -> list[OutboxItem]:
            rows = conn.execute(
                "SELECT key, kind, repo, pr, installation_id, version, attempts, due_at "
                f"FROM outbox WHERE {_OUTBOX_CLAIMABLE} ORDER BY due_at LIMIT ?3",
                (now if due_by is None else due_by, now, limit, lease),
            ).fetchall()
            for row in rows:
                conn.execute(
                    "UPDATE outbox SET claimed_until = ?, claimed_by = ? WHERE key = ?",
                    (now + lease, worker, row[0]),
                )
            return [OutboxItem(*row) for row in rows]

        return await self._write(claim)

    async def finish_outbox(self, item: OutboxItem, now: float, debounce: float) -> None:
        def finish(conn: sqlite3.Connection) -> None:
            deleted = conn.execute(
                "DELETE FROM outbox WHERE key = ? AND version = ?", (item.key, item.version)
            ).rowcount
            if not deleted:  # changed while we worked: go round again, after the window
                conn.execute(
                    "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, attempts = 0, "
                    "due_at = ?, last_error = NULL WHERE key = ?",
                    (now + debounce, item.key),
                )

        await self._write(finish)

    async def retry_outbox(self, item: OutboxItem, due_at: float, error: str) -> None:
        await self._write(
            lambda conn: conn.execute(
                "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, "
                "attempts = attempts + 1, due_at = ?, last_error = ?, updated_at = ? "
                "WHERE key = ?",
                (due_at, error[:500], utc_now(), item.key),
            )
        )

    async def fail_outbox(self, item: OutboxItem, reason: str) -> None:
        values = (reason[:500], utc_now(), item.key)

        def fail(conn: sqlite3.Connection) -> None:
            if not conn.execute(_OUTBOX_FAIL, (*values, item.version)).rowcount:
                conn.execute(_OUTBOX_FAIL_CHANGED, values)

        await self._write(fail)

    async def next_outbox_due(self) -> float | None:
        def read(conn: sqlite3.Connection) -> float | None:
            row = conn.execute(
                "SELECT min(max(due_at, coalesce(claimed_until, 0))) FROM outbox "
                "WHERE state = 'pending'"
            ).fetchone()
            return row[0]

        return await self._read(read)

    async def outbox_status(self) -> Mapping[str, Any]:
        def read(conn: sqlite3.Connection) -> Mapping[str, Any]:
            return outbox_status_from(
                conn.execute(OUTBOX_COUNTS).fetchall(),
                conn.execute(OUTBOX_OLDEST).fetchone()[0],
                conn.execute(OUTBOX_FAILED).fetchall(),
                conn.execute(OUTBOX_RETRYING).fetchall(),
            )

        return await self._read(read)

    # -- comments ------------------------------------------------------------------

    async def get_comment(self, repo: str, pr: int) -> CommentRecord | None:
        def read(conn: sqlite3.Connection) -> CommentRecord | None:
            row = conn.execute(
                "SELECT repo, pr, comment_id, body, body_sha, posted_at FROM comments "
                "WHERE repo = ? AND pr = ?",
                (repo, pr),
            ).fetchone()
            return CommentRecord(*row) if row else None

        return await self._read(read)

    async def save_comment(self, repo: str, pr: int, comment_id: int | None, body: str) -> None:
        digest = hashlib.sha256(body.encode()).hexdigest()
        await self._write(
            lambda conn: conn.execute(
                "INSERT INTO comments (repo, pr, comment_id, body, body_sha, posted_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (repo, pr) DO UPDATE SET "
                "comment_id = excluded.comment_id, body = excluded.body, "
                "body_sha = excluded.body_sha, posted_at = excluded.posted_at",
                (repo, pr, comment_id, body, digest, utc_now()),
            )
        )

    async def delivery_counts(self) -> Mapping[str, int]:
        def read(conn: sqlite3.Connection) -> Mapping[str, int]:
            return {
                f"{event or '-'}:{outcome}": count
                for event, outcome, count in conn.execute(
                    "SELECT event, outcome, count(*) FROM deliveries GROUP BY event, outcome"
                )
            }

        return await self._read(read)

    # -- operations: pacing, retention, missed deliveries -----------------------------

    async def defer_outbox(self, item: OutboxItem, due_at: float, reason: str) -> None:
        await self._write(
            lambda conn: conn.execute(
                "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, due_at = ?, "
                "last_error = ?, updated_at = ? WHERE key = ?",
                (due_at, reason[:500], utc_now(), item.key),
            )
        )

    async def prune_runs(
        self,
        now: float,
        retention_days: int | None,
        max_runs_per_repo: int | None,
        limit: int = 500,
    ) -> list[PrunedRun]:
        pruned_at = iso_time(now)

        def prune(conn: sqlite3.Connection) -> list[PrunedRun]:
            idle: list[Any] = []
            crowded: list[Any] = []
            if retention_days is not None:
                idle = conn.execute(
                    f"SELECT {PRUNE_COLUMNS}, e.recorded_at FROM runs r JOIN events e "
                    "ON e.run_id = r.id AND e.seq = r.last_seq WHERE r.is_open = 0 "
                    f"AND e.recorded_at < ? AND NOT {_OPEN_PR} ORDER BY r.id LIMIT ?",
                    (iso_time(now - retention_days * 86400), limit),
                ).fetchall()
            if max_runs_per_repo is not None and len(idle) < limit:
                crowded = conn.execute(
                    f"SELECT {PRUNE_COLUMNS} FROM (SELECT *, row_number() OVER "
                    "(PARTITION BY repo ORDER BY id DESC) AS newer FROM runs) r "
                    f"WHERE r.newer > ? AND r.is_open = 0 AND NOT {_OPEN_PR} "
                    "ORDER BY r.id LIMIT ?",
                    (max_runs_per_repo, limit),
                ).fetchall()
            done = choose_pruned(idle, crowded, retention_days, max_runs_per_repo, pruned_at, limit)
            tx = _SQLiteTx(conn)
            for gone in done:
                conn.execute("DELETE FROM events WHERE run_id = ?", (gone.run_id,))
                conn.execute("DELETE FROM runs WHERE id = ?", (gone.run_id,))
                conn.execute(
                    f"INSERT INTO pruned_runs ({PRUNED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    dataclasses.astuple(gone),
                )
                tx.insert_bot_log(*pruned_log(gone))
            for repo, pr in pruned_prs(done):
                if not conn.execute(
                    "SELECT 1 FROM runs WHERE repo = ? AND pr = ? LIMIT 1", (repo, pr)
                ).fetchone():
                    conn.execute("DELETE FROM comments WHERE repo = ? AND pr = ?", (repo, pr))
                    conn.execute(
                        "DELETE FROM outbox WHERE key = ? AND state = 'failed'",
                        (outbox_key(repo, pr),),
                    )
            return done

        return await self._write(prune)

    async def prune_deliveries(self, received_before: float, limit: int = 5000) -> int:
        before = iso_time(received_before)
        return await self._write(
            lambda conn: conn.execute(_DELIVERIES_PRUNE, (before, limit)).rowcount
        )

    async def pruned_info(self, run_id: str) -> PrunedRun | None:
        def read(conn: sqlite3.Connection) -> PrunedRun | None:
            row = conn.execute(
                f"SELECT {PRUNED_COLUMNS} FROM pruned_runs WHERE run_id = ?",
                (run_id,),
            ).fetchone()
            return PrunedRun(*row) if row else None

        return await self._read(read)

    async def get_state(self, name: str) -> str | None:
        def read(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT value FROM bot_state WHERE name = ?", (name,)).fetchone()
            return row[0] if row else None

        return await self._read(read)

    async def set_state(self, name: str, value: str) -> None:
        await self._write(
            lambda conn: conn.execute(
                "INSERT INTO bot_state (name, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (name, value, utc_now()),
            )
        )

    async def prune_state(self, prefix: str, updated_before: float) -> int:
        return await self._write(
            lambda conn: conn.execute(_STATE_PRUNE, (prefix, iso_time(updated_before))).rowcount
        )

    async def take_write_slot(
        self, installation_id: int | None, now: float, windows: Windows
    ) -> float | None:
        owner = slot_owner(installation_id)
        longest = max(seconds for _, seconds in windows)

        def take(conn: sqlite3.Connection) -> float | None:
            conn.execute(_SLOTS_DELETE_OLD, (owner, now - longest))
            sent = [r[0] for r in conn.execute(_SLOTS_SELECT, (owner,))]
            free = next_free(sent, now, windows)
            if free > now:
                return free
            conn.execute(_SLOTS_INSERT, (owner, now))
            return None

        return await self._write(take)

    async def claim_turn(self, job: str, now: float, interval: float) -> bool:
        def claim(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                _TURN_CLAIM,
                (TURN_PREFIX + job, repr(now), iso_time(now), turn_due_before(now, interval)),
            ).fetchone()
            return row is not None

        return await self._write(claim)

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
        events = list(events)
        if not events:
            raise ValueError("a run needs at least one event")
        run_id = events[0].run_id
        state = fold(run_id, events)

        def insert(conn: sqlite3.Connection) -> State:
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                raise RunExists(run_id)
            tx = _SQLiteTx(conn)
            try:
                tx.insert_run(key, state)
            except sqlite3.IntegrityError:
                raise StoreError(f"an open run already holds the key {key}") from None
            tx.insert_events(events)
            return state

        return await self._write(insert)

    async def rebuild_projection(self, run_id: str) -> tuple[State, State] | None:
        def rebuild(conn: sqlite3.Connection) -> tuple[State, State] | None:
            row = conn.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                return None
            stored = json.loads(row[0])
            rows = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE run_id = ? ORDER BY seq", (run_id,)
            )
            state = fold(run_id, (event_from_row(r, orjson.loads) for r in rows))
            if state != stored:
                _SQLiteTx(conn).update_run(state)
            return stored, state

        return await self._write(rebuild)


# `?n`: SQLite's numbered parameters
_OUTBOX_TOUCH = OUTBOX_TOUCH.replace("$", "?")
_OUTBOX_CLAIMABLE = OUTBOX_CLAIMABLE.replace("$", "?")
_OUTBOX_FAIL = OUTBOX_FAIL.replace("$", "?")
_OUTBOX_FAIL_CHANGED = OUTBOX_FAIL_CHANGED.replace("$", "?")
_STATE_PRUNE = STATE_PRUNE.replace("$", "?")
_DELIVERIES_PRUNE = DELIVERIES_PRUNE.replace("$", "?")
_TURN_CLAIM = TURN_CLAIM.replace("$", "?")
_SLOTS_DELETE_OLD = SLOTS_DELETE_OLD.replace("$", "?")
_SLOTS_SELECT = SLOTS_SELECT.replace("$", "?")
_SLOTS_INSERT = SLOTS_INSERT.replace("$", "?")

# Retention: "its PR still has an open pr run".
_OPEN_PR = (
    "EXISTS (SELECT 1 FROM runs o WHERE o.repo = r.repo AND o.pr = r.pr "
    "AND o.kind = 'pr' AND o.is_open = 1)"
)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class _SQLiteTx:
    """The transaction operations `CommandWriter` needs (a `SyncTx`), in SQLite's dialect."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def find_delivery(self, source_id: str) -> tuple[str | None, str | None] | None:
        row = self.conn.execute(
            "SELECT response, fingerprint FROM deliveries WHERE id = ?", (source_id,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def insert_delivery(self, values: Mapping[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO deliveries (id, kind, event, action, received_at, outcome, response, "
            "fingerprint) VALUES (:id, :kind, :event, :action, :received_at, :outcome, "
            ":response, :fingerprint)",
            values,
        )

    def _states(self, sql: str, params: tuple[Any, ...]) -> list[State]:
        return [orjson.loads(r[0]) for r in self.conn.execute(sql, params).fetchall()]

    def run_by_id(self, run_id: str) -> State | None:
        found = self._states("SELECT state FROM runs WHERE id = ?", (run_id,))
        return found[0] if found else None

    def runs_by_key(self, key: str, open_only: bool) -> list[State]:
        where = "key = ? AND is_open = 1" if open_only else "key = ?"
        return self._states(f"SELECT state FROM runs WHERE {where} ORDER BY id DESC", (key,))

    def open_runs_of_pr(self, repo: str, pr: int) -> list[State]:
        return self._states(
            "SELECT state FROM runs WHERE repo = ? AND pr = ? AND is_open = 1 ORDER BY id",
            (repo, pr),
        )

    def latest_by_head(self, repo: str, head_sha: str, kind: str) -> State | None:
        found = self._states(
            "SELECT state FROM runs WHERE repo = ? AND head_sha = ? AND kind = ? "
            "ORDER BY id DESC LIMIT 1",
            (repo, head_sha, kind),
        )
        return found[0] if found else None

    def insert_run(self, key: str | None, state: State) -> None:
        self.conn.execute(
            "INSERT INTO runs (id, key, kind, repo, pr, head_sha, status, is_open, "
            "installation_id, private, started_at, updated_at, last_seq, head_hash, state) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (state["id"], key, *schema.run_columns(state)),
        )

    def update_run(self, state: State) -> None:
        cols = schema.run_columns(state)
        self.conn.execute(
            "UPDATE runs SET kind = ?, repo = ?, pr = ?, head_sha = ?, status = ?, is_open = ?, "
            "installation_id = ?, private = ?, started_at = ?, updated_at = ?, last_seq = ?, "
            "head_hash = ?, state = ? WHERE id = ?",
            (*cols, state["id"]),
        )

    def insert_events(self, events: Sequence[Event]) -> None:
        self.conn.executemany(
            f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [event_values(event, _dumps) for event in events],
        )

    def insert_bot_log(self, at: str, kind: str, source: str, data: str) -> None:
        self.conn.execute(
            "INSERT INTO bot_log (at, kind, source, data) VALUES (?, ?, ?, ?)",
            (at, kind, source, data),
        )

    def touch_outbox(
        self, repo: str, pr: int, installation_id: int | None, due_at: float, now_iso: str
    ) -> None:
        self.conn.execute(
            _OUTBOX_TOUCH,
            (outbox_key(repo, pr), SUMMARY, repo, pr, installation_id, due_at, now_iso),
        )


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
