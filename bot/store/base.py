"""The store contracts shared by the SQLite and PostgreSQL stores, one per concern.

`TrailStore` (the audit trail), `OutboxStore` (GitHub side effects waiting to be made)
and `OpsStore` (the bot's own running state) are what a consumer asks for when it needs
one concern; `Store` combines them with the lifecycle, for the app that opens it.

Every write goes through `apply(command)`: one transaction that holds the event rows,
the run projections, the delivery record and the outbox rows it causes. A command
whose `source.id` was applied before changes nothing and reports `duplicate`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.trail.events import Event
from bot.trail.intents import Command, CommandResult
from bot.trail.spend_rollup import Bucket, SpendQuery
from bot.trail.state import State

SUMMARY = "summary"  # outbox kind: refresh a PR's summary comment

_log = logging.getLogger("bot.store")

Cap = int | None  # a retention bound (days, runs per repository); None: no bound of that kind


class StoreError(Exception):
    """The store could not do what was asked (not a caller's mistake)."""


class StoreUnavailable(StoreError):
    """The store cannot write now (disk full, I/O error, read-only or replaced file).

    Nothing of the request was stored. The error middleware answers it 503 with
    `Retry-After: retry_after`; the store has already logged it (once per interval).
    """

    def __init__(self, reason: str, retry_after: int = 5) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class StoreHealth:
    """What the store's writer last learned about the storage, for `/readyz`.

    `write_failure`: the last commit failed (cleared by the next one that succeeds).
    `checkpoint_failure`: WAL checkpoints fail while the WAL grows (cleared by one that
    succeeds). `gone`: the database file was replaced or removed under the bot (never
    cleared: only a restart opens the file at its path again). Each distinct failure
    is logged once per `interval` seconds, without a traceback.
    """

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.write_failure: str | None = None
        self.checkpoint_failure: str | None = None
        self.gone: str | None = None
        self.failed_writes = 0
        self.failed_at = float("-inf")  # `clock()` of the last failed write
        self._logged: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def problem(self) -> str | None:
        """Why the store is not ready, or None."""
        return self.gone or self.write_failure or self.checkpoint_failure

    def report(self, reason: str, what: str = "storage write failed", key: str = "") -> None:
        """Log `what: reason` unless the same failure (`key`, by default the line) was
        logged within the interval."""
        line = f"{what}: {reason}"
        key = key or line
        now = self.clock()
        with self._lock:
            last = self._logged.get(key)
            if last is not None and now - last < self.interval:
                return
            self._logged[key] = now
        _log.error("%s", line)

    def write_failed(self, reason: str, key: str = "") -> None:
        """A write failed; `key` names the kind of failure for the log (default: reason)."""
        self.failed_writes += 1
        self.failed_at = self.clock()
        self.write_failure = reason
        self.report(reason, "storage write failed, answering 503 until a write succeeds", key)

    def write_succeeded(self) -> None:
        if self.write_failure is not None:
            _log.warning(
                "storage writes succeed again (after %d failed: %s)",
                self.failed_writes,
                self.write_failure,
            )
            self.write_failure = None
            self.failed_writes = 0

    def checkpoint_failed(self, reason: str, growth: str) -> None:
        """Checkpoints fail (`reason`) and the WAL has grown past its bound (`growth`)."""
        self.checkpoint_failure = f"WAL checkpoints fail ({reason}); {growth}"
        self.report(f"{reason}; {growth}", "WAL checkpoint failed", key=f"checkpoint: {reason}")

    def checkpoint_succeeded(self) -> None:
        if self.checkpoint_failure is not None:
            _log.warning("WAL checkpoints succeed again (was: %s)", self.checkpoint_failure)
            self.checkpoint_failure = None

    def file_gone(self, reason: str) -> None:
        if self.gone is None:
            self.gone = reason
        # one failure whatever it is called (removed, then replaced): one line an interval
        self.report(reason, "database file lost, refusing writes until restarted", "file lost")


class IdempotencyConflict(Exception):
    """A source id (delivery or idempotency key) came back with a different request."""


class RunExists(StoreError):
    """`import_run` found a run with that ID already stored (nothing was written)."""


@dataclass(frozen=True)
class OutboxItem:
    """A pending GitHub side effect, claimed by one worker at a time."""

    key: str
    kind: str
    repo: str
    pr: int
    installation_id: int | None
    version: int
    attempts: int
    due_at: float


@dataclass(frozen=True)
class CommentRecord:
    """What the bot last posted (or, in dry run, would have posted) on a PR."""

    repo: str
    pr: int
    comment_id: int | None
    body: str
    body_sha: str
    posted_at: str


@dataclass(frozen=True)
class PrunedRun:
    """A run retention removed: what it was, when and why (its API answers 410)."""

    run_id: str
    repo: str
    pr: int | None
    kind: str
    last_seq: int
    head_hash: str
    private: int | None  # 0 public, 1 private, None unknown (pruned before version 8)
    pruned_at: str
    reason: str


@dataclass(frozen=True)
class SessionRecord:
    """A stored session of "Sign in with GitHub", or a sign-in under way (`kind` "login").

    `key` is a digest of what the browser holds; `sealed` is encrypted by
    `bot.auth.sessions` (the store never sees a user token in clear); times are epoch
    seconds."""

    key: str
    kind: str
    login: str
    sealed: str = field(repr=False)
    created_at: int
    seen_at: int


@dataclass(frozen=True)
class RunFilter:
    repo: str | None = None
    pr: int | None = None
    kind: str | None = None
    status: str | None = None
    since: str | None = None  # runs started at or after this ISO time
    before: str | None = None  # cursor: run ids strictly older than this one
    limit: int = 50
    # Whose read this is: None for the bot's own reads (every run); otherwise only public
    # runs, plus non-public runs whose lower-case repository matches one of these SQL
    # LIKE patterns (`bot.http.access.Reader.scope`). The rule is applied in the query,
    # so a page and its cursor are made of readable runs only.
    readable: tuple[str, ...] | None = None


class TrailStore(Protocol):
    """The audit trail: commands applied in one transaction each, runs and events read.

    What handlers, the read API, the pages and the trail commands (export, import,
    verify, rebuild) need; the delivery records are here because they are how a
    command is applied once.
    """

    async def apply(self, command: Command) -> CommandResult: ...

    async def get_run(self, run_id: str) -> State | None: ...

    async def list_runs(self, where: RunFilter) -> list[State]: ...

    async def get_events(
        self, run_id: str, after: int = 0, limit: int | None = None
    ) -> list[Event]: ...

    def iter_events(
        self, run_id: str, after: int = 0, batch: int = 500
    ) -> AsyncIterator[Event]: ...

    async def spend(self, query: SpendQuery) -> list[Bucket]:
        """The per-day rollup summed into buckets (`bot.trail.spend_rollup`), exactly."""
        ...

    async def spend_private_scopes(self, query: SpendQuery) -> list[tuple[str, int | None]]:
        """The private (repository, PR) pairs with spend in the query's scope and days."""
        ...

    async def known_deliveries(self, ids: Sequence[str]) -> set[str]:
        """Which of these delivery (source) ids have been applied."""
        ...

    async def delivery_counts(self) -> Mapping[str, int]: ...

    async def import_run(self, events: Sequence[Event], key: str | None = None) -> State:
        """Store a whole run, its events as given and their fold, in one transaction.

        The caller has verified the chain (`verify_chain`); the store folds the events
        into the projection and returns it. Raises `RunExists` when a run with that ID
        is stored, and `StoreError` when an open run already holds `key`; either way
        nothing is written. No outbox row: importing never posts to GitHub.
        """
        ...

    async def rebuild_projection(self, run_id: str) -> tuple[State, State] | None:
        """Recompute a run's projection from its events, in one transaction.

        Returns (stored before, folded now), equal when nothing changed, or None for an
        unknown run. The fold is written only when it differs.
        """
        ...


class OutboxStore(Protocol):
    """GitHub side effects waiting to be made: outbox rows leased to one worker at a
    time, and the record of the comment each PR last got."""

    async def claim_outbox(
        self, worker: str, now: float, lease: float, limit: int, due_by: float | None = None
    ) -> list[OutboxItem]:
        """Lease up to `limit` pending rows due by `due_by` (default `now`) to `worker`.

        Rows leased to another worker (lease not yet expired at `now`) are never
        returned, so `drain()` can ignore the debounce window without stealing.
        """
        ...

    async def finish_outbox(self, item: OutboxItem, now: float, debounce: float) -> None: ...

    async def retry_outbox(self, item: OutboxItem, due_at: float, error: str) -> None: ...

    async def defer_outbox(self, item: OutboxItem, due_at: float, reason: str) -> None:
        """Release a claimed row until `due_at` without counting an attempt (paced)."""
        ...

    async def fail_outbox(self, item: OutboxItem, reason: str) -> None: ...

    async def next_outbox_due(self) -> float | None: ...

    async def outbox_status(self) -> Mapping[str, Any]:
        """`pending` and `failed` counts, `oldest_due_at` (epoch s) of the pending rows,
        `failures` (given up: key, repo, pr, reason, at) and `retrying` (pending rows
        with a last error: key, repo, pr, reason, attempts, due_at), each at most 100.
        """
        ...

    async def get_comment(self, repo: str, pr: int) -> CommentRecord | None: ...

    async def save_comment(self, repo: str, pr: int, comment_id: int | None, body: str) -> None: ...


class OpsStore(Protocol):
    """The bot's own running state: named values, write slots (pacing), periodic job
    turns, and retention (pruning runs, delivery records and old named values)."""

    async def get_state(self, name: str) -> str | None:
        """A small named value the bot keeps for itself (e.g. a high-water mark)."""
        ...

    async def set_state(self, name: str, value: str) -> None: ...

    async def prune_state(self, prefix: str, updated_before: float) -> int:
        """Forget the named values starting with `prefix` last set before that epoch time
        (per-item bookkeeping that is useless once old); returns how many went."""
        ...

    async def take_write_slot(
        self, installation_id: int | None, now: float, windows: tuple[tuple[int, float], ...]
    ) -> float | None:
        """Count a GitHub write for the installation at `now`, if its budget allows.

        `windows` are (writes, seconds) limits. None when the write was counted; else
        nothing is counted and the answer is when a slot frees. Atomic across instances
        sharing the store, so together they keep to one budget.
        """
        ...

    async def claim_turn(self, job: str, now: float, interval: float) -> bool:
        """Whether this instance runs the periodic `job` now, as one atomic check-and-set.

        True when no instance sharing the store started it within the last `interval`
        seconds (give or take a tenth, for timer drift); the caller's claim is then
        recorded, so of several instances only one runs each pass.
        """
        ...

    async def prune_runs(
        self, now: float, retention_days: Cap, max_runs_per_repo: Cap, limit: int = 500
    ) -> list[PrunedRun]:
        """Remove up to `limit` whole runs (events + projection) that retention allows.

        A run may go when it has ended, its PR (if any) has no open `pr` run, and
        either its last event was recorded over `retention_days` before `now` or it is
        older than the newest `max_runs_per_repo` runs of its repository. Each removal
        is recorded in `pruned_runs` and the bot-level log in the same transaction.
        A PR left without runs loses its comment record and a given-up outbox row too
        (the comment on GitHub stays, found again by its marker if the PR comes back).
        """
        ...

    async def prune_deliveries(self, received_before: float, limit: int = 5000) -> int:
        """Forget up to `limit` delivery records (the dedupe of webhooks and idempotency
        keys) received before that epoch time; returns how many went."""
        ...

    async def pruned_info(self, run_id: str) -> PrunedRun | None: ...


@dataclass(frozen=True)
class LogHead:
    """The transparency log's tree after an integration: its size and root."""

    size: int
    root: bytes


@dataclass(frozen=True)
class CheckpointRecord:
    """A signed checkpoint the bot published (every one is kept)."""

    size: int
    root: bytes
    note: str
    created_at: str


@dataclass(frozen=True)
class LeafRecord:
    """One leaf of the log, and the hash its event has now (None once retention removed
    the event): `verify --log` compares the two."""

    index: int
    run_id: str
    seq: int
    hash: str
    event_hash: str | None


class LogStore(Protocol):
    """The transparency log (`bot.trail.merkle`): leaves in the order the store gives,
    perfect-subtree nodes, and the signed checkpoints. Never pruned."""

    async def integrate(self, batch_limit: int) -> LogHead:
        """Append up to `batch_limit` committed events not yet logged, in one transaction.

        The log's head is locked for the transaction (PostgreSQL: a row lock), so two
        instances integrating at once queue up and one size never gets two roots.
        """
        ...

    async def log_size(self) -> int: ...

    async def get_nodes(self, addresses: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored hashes of these (level, index) nodes, in one query."""
        ...

    async def save_checkpoint(self, size: int, root: bytes, note: str) -> None:
        """Keep a published checkpoint; a second one for the same size is ignored."""
        ...

    async def latest_checkpoint(self) -> CheckpointRecord | None: ...

    async def checkpoints(self) -> list[CheckpointRecord]:
        """Every stored checkpoint, smallest size first."""
        ...

    async def leaf_index(self, run_id: str, seq: int) -> int | None: ...

    async def covering_size(self, events: Sequence[tuple[str, int]]) -> int | None:
        """The smallest tree size that holds every (run id, seq) event given (0 for none),
        in one query; None while one of them is not integrated yet."""
        ...

    async def log_leaves(self, start: int, limit: int) -> list[LeafRecord]: ...


class SessionStore(Protocol):
    """Sessions of "Sign in with GitHub", shared by every instance on the store."""

    async def put_session(self, record: SessionRecord) -> None:
        """Insert or replace (login, sealed, seen_at) the record under its key."""
        ...

    async def get_session(self, key: str) -> SessionRecord | None: ...

    async def take_session(self, key: str) -> SessionRecord | None:
        """Delete the record and return it: at most one caller gets it (single use)."""
        ...

    async def touch_session(self, key: str, seen_at: int) -> None:
        """Move the idle clock forward (never back)."""
        ...

    async def prune_sessions(self, seen_before: int, created_before: int) -> int:
        """Forget records idle since `seen_before` or made before `created_before`."""
        ...


class Store(TrailStore, OutboxStore, OpsStore, LogStore, SessionStore, Protocol):
    """The whole store, opened once by the app: every narrow contract above, plus its
    lifecycle. Code that needs one concern should ask for that protocol instead."""

    health: StoreHealth

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def check_health(self) -> str | None:
        """Why the store cannot take writes now (None: it can); cheap, for `/readyz`."""
        ...
