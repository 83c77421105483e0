"""Every SQL statement both stores run, written once.

Statements are written as PostgreSQL spells them (`$n` numbered parameters); where the
dialects differ, a `{hole}` names the difference and each store's `Dialect` fills it:
how repository names compare (`COLLATE NOCASE` columns in SQLite, `lower(repo)`
indexes in PostgreSQL), the row locks only PostgreSQL takes, and SQLite's `?n`
parameters. A statement only one store runs stays in that store's module.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any

from bot.store.base import RunFilter
from bot.store.migrations import SPEND_COUNTERS
from bot.store.rows import EVENT_COLUMNS, PRUNE_COLUMNS, PRUNED_COLUMNS
from bot.trail.spend_rollup import SpendQuery


@dataclass(frozen=True)
class Dialect:
    """What differs between the stores' SQL, filled into the `{holes}` of a statement."""

    parameter: str  # how `$n` is written: "$" (PostgreSQL) or "?" (SQLite's `?n`)
    case_fold: str  # how a repository name is compared: "{}" or "lower({})"
    lock: str = ""  # appended to reads of rows the transaction will change
    skip_locked: str = ""  # appended to a read that leaves rows others hold to them
    greatest: str = "max"  # the two-argument maximum
    _holes: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fold = self.case_fold.format
        holes = {
            "repo": fold("repo"),
            "repo_param": fold("$1"),
            "o_repo": fold("o.repo"),
            "r_repo": fold("r.repo"),
            "lock": self.lock,
            "skip_locked": self.skip_locked,
            "greatest": self.greatest,
        }
        object.__setattr__(self, "_holes", holes)

    @functools.cache  # noqa: B019 - two dialects, a few dozen statements, for the process
    def __call__(self, statement: str) -> str:
        """`statement` in this dialect."""
        return statement.format(**self._holes).replace("$", self.parameter)


# -- runs and events ---------------------------------------------------------------

RUN_STATE = "SELECT state FROM runs WHERE id = $1"
RUN_STATE_LOCKED = RUN_STATE + "{lock}"
RUN_EXISTS = "SELECT 1 FROM runs WHERE id = $1"
RUNS_BY_KEY = "SELECT state FROM runs WHERE key = $1 ORDER BY id DESC{lock}"
RUNS_BY_OPEN_KEY = "SELECT state FROM runs WHERE key = $1 AND is_open = 1 ORDER BY id DESC{lock}"
OPEN_RUNS_OF_PR = (
    "SELECT state FROM runs WHERE {repo} = {repo_param} AND pr = $2 AND is_open = 1 "
    "ORDER BY id{lock}"
)
LATEST_BY_HEAD = (
    "SELECT state FROM runs WHERE {repo} = {repo_param} AND head_sha = $2 AND kind = $3 "
    "ORDER BY id DESC LIMIT 1{lock}"
)
RUN_INSERT = (
    "INSERT INTO runs (id, key, kind, repo, pr, head_sha, status, is_open, "
    "installation_id, private, started_at, updated_at, last_seq, head_hash, state) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
)
RUN_UPDATE = (
    "UPDATE runs SET kind = $1, repo = $2, pr = $3, head_sha = $4, status = $5, "
    "is_open = $6, installation_id = $7, private = $8, started_at = $9, "
    "updated_at = $10, last_seq = $11, head_hash = $12, state = $13 WHERE id = $14"
)
# An append: only what events after `run.opened` change (the columns and indexes
# written at open stay as they are, so SQLite leaves their indexes alone)
RUN_ADVANCE = (
    "UPDATE runs SET status = $1, is_open = $2, updated_at = $3, last_seq = $4, "
    "head_hash = $5, state = $6 WHERE id = $7"
)
# $3 is the page size: NULL (PostgreSQL) or -1 (SQLite) for no limit
EVENTS_PAGE = (
    f"SELECT {EVENT_COLUMNS} FROM events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
)
EVENTS_OF_RUN = f"SELECT {EVENT_COLUMNS} FROM events WHERE run_id = $1 ORDER BY seq"
EVENTS_INSERT = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
BOT_LOG_INSERT = "INSERT INTO bot_log (at, kind, source, data) VALUES ($1, $2, $3, $4)"


def runs_query(where: RunFilter) -> tuple[str, list[Any]]:
    """`Store.list_runs`: the statement and its parameters for a filter, newest first."""
    clauses: list[str] = []
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    if where.repo is not None:
        param(where.repo)  # always $1: `repo_param`
        clauses.append("{repo} = {repo_param}")
    for column, value in (("pr", where.pr), ("kind", where.kind), ("status", where.status)):
        if value is not None:
            clauses.append(f"{column} = {param(value)}")
    if where.since is not None:
        clauses.append(f"started_at >= {param(where.since)}")
    if where.before is not None:
        clauses.append(f"id < {param(where.before)}")
    if where.readable is not None:
        clauses.append(_readable(where.readable, param))
    sql = "SELECT state FROM runs"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += f" ORDER BY id DESC LIMIT {param(where.limit)}"
    return sql, params


def _readable(patterns: tuple[str, ...], param: Any) -> str:
    """The read rule as a clause: public runs, plus those of repositories `patterns` match.

    `private = 0` is written as a literal so the partial indexes of migration 8
    (`runs_public`, `runs_public_repo`) serve it: an anonymous page reads public rows
    only, however many private runs there are. Unknown visibility (NULL) is private.
    """
    if not patterns:
        return PUBLIC
    names = [name for name in map(like_literal, patterns) if name is not None]
    globs = [p for p in patterns if like_literal(p) is None]
    matches = [f"lower(repo) LIKE {param(p)} ESCAPE '\\'" for p in globs]
    if names:  # one IN list however many: a signed-in user may read thousands
        matches.append(f"lower(repo) IN ({', '.join(param(n) for n in names)})")
    return f"({PUBLIC} OR {' OR '.join(matches)})"


def like_literal(pattern: str) -> str | None:
    """The one name a LIKE pattern (escape `\\`) matches, or None if it has wildcards."""
    name: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            name.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "%_":
            return None
        else:
            name.append(char)
    return None if escaped else "".join(name)


PUBLIC = "private = 0"


# -- deliveries (the dedupe of webhooks and idempotency keys) ------------------------

DELIVERY_COLUMNS = (
    "id",
    "kind",
    "event",
    "action",
    "received_at",
    "outcome",
    "response",
    "fingerprint",
)
DELIVERY_FIND = "SELECT response, fingerprint FROM deliveries WHERE id = $1"
DELIVERY_INSERT = (
    "INSERT INTO deliveries (id, kind, event, action, received_at, outcome, response, "
    "fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)
DELIVERY_COUNTS = "SELECT event, outcome, count(*) FROM deliveries GROUP BY event, outcome"
# `Store.prune_deliveries` ($1 ISO time, $2 limit)
DELIVERIES_PRUNE = (
    "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE received_at < $1 LIMIT $2)"
)


# -- the outbox --------------------------------------------------------------------

# A due time never lies further ahead than this (the worker's longest backoff, rate-limit
# wait or pacing delay is capped at it). A row due later, or a lease ending later than a
# lease from now, was written by a clock that has since stepped back: it is due now,
# else the PR's comment would stop updating for as long as the step.
MAX_DUE_AHEAD = 900.0
# How far past those bounds a time must lie to count as a clock step. Without it, two
# instances claiming together misread each other's fresh lease as one: the one whose
# `now` was taken a few milliseconds before the other's claim took the row as well, and
# the PR got two comments.
CLOCK_STEP = 60.0
# The rows `claim_outbox` may take ($1 due by, $2 now, $4 lease), in both dialects.
OUTBOX_CLAIMABLE = (
    f"state = 'pending' AND (due_at <= $1 OR due_at > $2 + {MAX_DUE_AHEAD + CLOCK_STEP}) "
    "AND (claimed_until IS NULL OR claimed_until < $2 "
    f"OR claimed_until > $2 + $4 + {CLOCK_STEP})"
)


# An `OutboxItem`'s fields, in order (the claim differs by dialect: SKIP LOCKED or one writer)
OUTBOX_COLUMNS = "key, kind, repo, pr, installation_id, version, attempts, due_at"
# `Tx.touch_outbox` ($1 key, $2 kind, $3 repo, $4 pr, $5 installation, $6 due_at, $7 now).
# A pending row keeps its due time (the debounce runs from the first change) and its
# attempts; a failed one is pending again from zero attempts, its old error cleared. The
# version tells a worker that its row changed meanwhile.
OUTBOX_TOUCH = (
    "INSERT INTO outbox (key, kind, repo, pr, installation_id, due_at, version, "
    "attempts, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, 0, "
    "'pending', $7, $7) ON CONFLICT (key) DO UPDATE SET version = outbox.version + 1, "
    "installation_id = coalesce(excluded.installation_id, outbox.installation_id), "
    "due_at = CASE WHEN outbox.state = 'pending' THEN outbox.due_at "
    "ELSE excluded.due_at END, state = 'pending', attempts = CASE WHEN "
    "outbox.state = 'pending' THEN outbox.attempts ELSE 0 END, last_error = CASE WHEN "
    "outbox.state = 'pending' THEN outbox.last_error END, updated_at = $7"
)
# `Store.finish_outbox`: done, unless the row changed while the worker posted; then it
# goes round again after the debounce window ($1 due_at, $2 key).
OUTBOX_FINISH = "DELETE FROM outbox WHERE key = $1 AND version = $2"
OUTBOX_FINISH_CHANGED = (
    "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, attempts = 0, "
    "due_at = $1, last_error = NULL WHERE key = $2"
)
# `Store.retry_outbox` ($1 due_at, $2 error, $3 now, $4 key)
OUTBOX_RETRY = (
    "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, "
    "attempts = attempts + 1, due_at = $1, last_error = $2, updated_at = $3 "
    "WHERE key = $4"
)
# `Store.defer_outbox` ($1 due_at, $2 reason, $3 now, $4 key): no attempt counted
OUTBOX_DEFER = (
    "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, due_at = $1, "
    "last_error = $2, updated_at = $3 WHERE key = $4"
)
# `Store.fail_outbox` ($1 reason, $2 now, $3 key, $4 version): give up on the row, unless
# its PR changed while the worker tried: then the change gets tries of its own (as
# `touch_outbox` would have given it had the row already failed), the reason kept.
OUTBOX_FAIL = (
    "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, state = 'failed', "
    "attempts = attempts + 1, last_error = $1, updated_at = $2 WHERE key = $3 AND version = $4"
)
OUTBOX_FAIL_CHANGED = (
    "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, attempts = 0, "
    "last_error = $1, updated_at = $2 WHERE key = $3"
)
OUTBOX_NEXT_DUE = (
    "SELECT min({greatest}(due_at, coalesce(claimed_until, 0))) FROM outbox WHERE state = 'pending'"
)
# outbox_status: then `rows.outbox_status_from` shapes the rows
OUTBOX_COUNTS = "SELECT state, count(*) FROM outbox GROUP BY state"
OUTBOX_OLDEST = "SELECT min(due_at) FROM outbox WHERE state = 'pending'"
OUTBOX_FAILED = (
    "SELECT key, repo, pr, last_error, updated_at FROM outbox "
    "WHERE state = 'failed' ORDER BY updated_at DESC LIMIT 100"
)
OUTBOX_RETRYING = (
    "SELECT key, repo, pr, last_error, attempts, due_at FROM outbox "
    "WHERE state = 'pending' AND last_error IS NOT NULL ORDER BY due_at LIMIT 100"
)
OUTBOX_FAILED_DELETE = "DELETE FROM outbox WHERE key = $1 AND state = 'failed'"


# -- comments ----------------------------------------------------------------------

COMMENT_GET = (
    "SELECT repo, pr, comment_id, body, body_sha, posted_at FROM comments "
    "WHERE {repo} = {repo_param} AND pr = $2"
)
COMMENT_SAVE = (
    "INSERT INTO comments (repo, pr, comment_id, body, body_sha, posted_at) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT ({repo}, pr) DO UPDATE SET "
    "comment_id = excluded.comment_id, body = excluded.body, "
    "body_sha = excluded.body_sha, posted_at = excluded.posted_at"
)
COMMENT_DELETE = "DELETE FROM comments WHERE {repo} = {repo_param} AND pr = $2"


# -- retention ---------------------------------------------------------------------

# "its PR still has an open pr run"
_OPEN_PR = (
    "EXISTS (SELECT 1 FROM runs o WHERE {o_repo} = {r_repo} AND o.pr = r.pr "
    "AND o.kind = 'pr' AND o.is_open = 1)"
)
# ($1 last event recorded before, $2 limit): `PRUNE_COLUMNS` and that last `recorded_at`
PRUNE_IDLE = (
    f"SELECT {PRUNE_COLUMNS}, e.recorded_at FROM runs r JOIN events e "
    "ON e.run_id = r.id AND e.seq = r.last_seq WHERE r.is_open = 0 "
    f"AND e.recorded_at < $1 AND NOT {_OPEN_PR} ORDER BY r.id LIMIT $2"
)
# ($1 runs kept per repository, $2 limit)
PRUNE_CROWDED = (
    f"SELECT {PRUNE_COLUMNS} FROM (SELECT *, row_number() OVER "
    "(PARTITION BY {repo} ORDER BY id DESC) AS newer FROM runs) r "
    f"WHERE r.newer > $1 AND r.is_open = 0 AND NOT {_OPEN_PR} "
    "ORDER BY r.id LIMIT $2"
)
# Another instance pruning (or appending to) the same run holds its lock: leave it to them.
PRUNE_TAKE_RUN = "SELECT 1 FROM runs WHERE id = $1 AND is_open = 0{skip_locked}"
PRUNE_EVENTS = "DELETE FROM events WHERE run_id = $1"
PRUNE_RUN = "DELETE FROM runs WHERE id = $1"
PRUNED_INSERT = (
    f"INSERT INTO pruned_runs ({PRUNED_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)
PRUNED_GET = f"SELECT {PRUNED_COLUMNS} FROM pruned_runs WHERE run_id = $1"
PR_HAS_RUNS = "SELECT 1 FROM runs WHERE {repo} = {repo_param} AND pr = $2 LIMIT 1"


# -- the bot's own state: named values, job turns, write slots -----------------------

STATE_GET = "SELECT value FROM bot_state WHERE name = $1"
STATE_SET = (
    "INSERT INTO bot_state (name, value, updated_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
    "updated_at = excluded.updated_at"
)
# `Store.prune_state` ($1 prefix, $2 ISO time): a prefix match that needs no LIKE escaping.
STATE_PRUNE = "DELETE FROM bot_state WHERE substr(name, 1, length($1)) = $1 AND updated_at < $2"
# `Store.claim_turn`: one row per periodic job in bot_state; the upsert only takes the
# turn when the last claim is old enough, and RETURNING says whether it did.
# ($1 name, $2 now as text, $3 now as ISO time, $4 `rows.turn_due_before`)
TURN_CLAIM = (
    "INSERT INTO bot_state (name, value, updated_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
    "updated_at = excluded.updated_at "
    "WHERE CAST(bot_state.value AS double precision) <= $4 RETURNING name"
)
# `Store.take_write_slot`: token mode has no installation id; 0 is no installation's.
SLOTS_DELETE_OLD = "DELETE FROM write_slots WHERE installation = $1 AND at <= $2"
SLOTS_SELECT = "SELECT at FROM write_slots WHERE installation = $1 ORDER BY at"
SLOTS_INSERT = "INSERT INTO write_slots (installation, at) VALUES ($1, $2)"


# -- the per-day spend rollup (`bot.trail.spend_rollup`) -------------------------------

SPEND_COLUMNS = (
    "run_id, day, month, category, model, currency, repo, pr, kind, private, hi, units, nano, atto"
)
# `Tx.add_spend`: one spend event's amount added to its (run, day, category, model,
# currency) row, in the transaction that inserts the event
SPEND_ADD = (
    f"INSERT INTO spend_daily ({SPEND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
    "$9, $10, $11, $12, $13, $14) ON CONFLICT (run_id, day, category, model, currency) "
    "DO UPDATE SET hi = spend_daily.hi + excluded.hi, "
    "units = spend_daily.units + excluded.units, nano = spend_daily.nano + excluded.nano, "
    "atto = spend_daily.atto + excluded.atto"
)
# a run's marks go with it; its spend stays in both rollups (history outlives retention)
PRUNE_SPEND = "DELETE FROM spend_marks WHERE run_id = $1"
# ($1 run, $2 currency, $3…$11 the nine marks): the marks new to the run come back
SPEND_MARKS_ADD = (
    "INSERT INTO spend_marks (run_id, mark, currency) VALUES "
    + ", ".join(f"($1, ${n}, $2)" for n in range(3, 12))
    + " ON CONFLICT DO NOTHING RETURNING mark"
)
_ROLLUP_COLUMNS = (
    "repo_key, day, kind, category, model, currency, private, repo, month, "
    "hi, units, nano, atto, " + ", ".join(SPEND_COUNTERS)
)
_ADDED = ("hi", "units", "nano", "atto", *SPEND_COUNTERS)
SPEND_ROLLUP_ADD = (
    f"INSERT INTO spend_rollup ({_ROLLUP_COLUMNS}) VALUES ("
    + ", ".join(f"${n}" for n in range(1, 23))
    + ") ON CONFLICT (repo_key, day, kind, category, model, currency, private) DO UPDATE SET "
    + ", ".join(f"{c} = spend_rollup.{c} + excluded.{c}" for c in _ADDED)
)

_SPEND_BUCKET = {"day": "day", "week": "day - (day + 3) % 7", "month": "month", "all": "0"}
_SPEND_KEY = {
    "kind": "kind",
    "category": "category",
    "model": "model",
    "repo": "{repo}",
    "pr": "pr",
    "run": "run_id",
}


def _spend_where(query: SpendQuery, params: list[Any]) -> str:
    """The rows a spend query covers: its scope, days, currency and what it may read."""

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    clauses = []
    if query.repo is not None:
        param(query.repo)  # always $1: `repo_param`
        clauses.append("{repo} = {repo_param}")
    elif query.owner is not None:
        owner = query.owner.lower()
        clauses.append(f"{{repo}} >= {param(owner + '/')} AND {{repo}} < {param(owner + '0')}")
    clauses.append(f"day >= {param(query.since_day)} AND day < {param(query.until_day)}")
    if query.currency is not None:
        clauses.append(f"currency = {param(query.currency)}")
    if not query.all_private:
        readable = ["private = 0"]
        if query.private_repos:  # an IN list: a signed-in user may read thousands
            names = ", ".join(param(repo.lower()) for repo in query.private_repos)
            readable.append(f"{{repo}} IN ({names})")
        readable += [
            f"({{repo}} = {param(repo.lower())} AND pr = {param(pr)})"
            for repo, pr in query.private_prs
        ]
        clauses.append("(" + " OR ".join(readable) + ")")
    return " AND ".join(clauses)


def spend_query(query: SpendQuery) -> tuple[str, list[Any]]:
    """The spend buckets: (bucket, key, repo, currency, hi, units, nano, atto, runs)."""
    params: list[Any] = []
    where = _spend_where(query, params)
    bucket = _SPEND_BUCKET[query.interval]
    key = _SPEND_KEY[query.by]
    repo = "{repo}" if query.by in ("pr", "run") else "NULL"
    statement = (
        f"SELECT {bucket}, {key}, {repo}, currency, sum(hi), sum(units), sum(nano), "
        f"sum(atto), count(DISTINCT run_id) FROM spend_daily WHERE {where} "
        "GROUP BY 1, 2, 3, 4"
    )
    return statement, params


def spend_private_query(query: SpendQuery) -> tuple[str, list[Any]]:
    """The private (repository, PR) pairs a spend query would cover if it could read them."""
    params: list[Any] = []
    where = _spend_where(dataclasses.replace(query, all_private=True), params)
    return f"SELECT DISTINCT {{repo}}, pr FROM spend_daily WHERE {where} AND private = 1", params


_COARSE_BY = {"kind": "r", "repo": "r", "category": "c", "model": "m"}
_PERIOD_OF = {"day": "d", "week": "w", "month": "m"}


def coarse_spend_query(query: SpendQuery) -> tuple[str, list[Any]] | None:
    """`spend_query` over the coarse rollup, when it can answer (else None): grouped by
    kind, category, model or repository, in day, week or month buckets, with private
    rows either all readable or readable per repository (not per PR)."""
    if query.by not in _COARSE_BY or query.interval not in _PERIOD_OF or query.private_prs:
        return None
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    clauses = []
    if query.repo is not None:
        clauses.append(f"repo_key = {param(query.repo.lower())}")
    elif query.owner is not None:
        owner = query.owner.lower()
        clauses.append(f"repo_key >= {param(owner + '/')} AND repo_key < {param(owner + '0')}")
    clauses.append(f"day >= {param(query.since_day)} AND day < {param(query.until_day)}")
    if query.currency is not None:
        clauses.append(f"currency = {param(query.currency)}")
    if not query.all_private:
        readable = ["private = 0"]
        if query.private_repos:
            names = ", ".join(param(repo.lower()) for repo in query.private_repos)
            readable.append(f"repo_key IN ({names})")
        clauses.append("(" + " OR ".join(readable) + ")")
    key = "repo_key" if query.by == "repo" else query.by
    runs = f"{_COARSE_BY[query.by]}_{_PERIOD_OF[query.interval]}"
    statement = (
        f"SELECT {_SPEND_BUCKET[query.interval]}, {key}, NULL, currency, sum(hi), "
        f"sum(units), sum(nano), sum(atto), sum({runs}) FROM spend_rollup "
        f"WHERE {' AND '.join(clauses)} GROUP BY 1, 2, 3, 4"
    )
    return statement, params


# -- sessions of "Sign in with GitHub" (migration 10) ---------------------------------

SESSION_COLUMNS = "id, kind, login, sealed, created_at, seen_at"
SESSION_PUT = (
    f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) "
    "ON CONFLICT (id) DO UPDATE SET login = excluded.login, sealed = excluded.sealed, "
    "seen_at = excluded.seen_at"
)
SESSION_GET = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"
SESSION_TAKE = f"DELETE FROM sessions WHERE id = $1 RETURNING {SESSION_COLUMNS}"
SESSION_TOUCH = "UPDATE sessions SET seen_at = $2 WHERE id = $1 AND seen_at < $2"
SESSION_PRUNE = "DELETE FROM sessions WHERE seen_at < $1 OR created_at < $2"
