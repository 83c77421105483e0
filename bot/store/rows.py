"""Pure helpers both stores share: rows to objects, and answers shaped from rows.

The SQL differs by dialect (placeholders, `lower(repo)` against `COLLATE NOCASE`,
locks); what a row means and how an answer is built from it does not, so it is
written here once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.store.base import SUMMARY, PrunedRun
from bot.trail.events import Event, format_time

EVENT_COLUMNS = "run_id, seq, type, at, recorded_at, source, data, prev_hash, hash"


def event_from_row(row: Sequence[Any], loads: Callable[[str], Any]) -> Event:
    """An `events` row (in `EVENT_COLUMNS` order) as an Event; `loads` parses its JSON."""
    run_id, seq, type_, at, recorded_at, source, data, prev_hash, hash_ = row
    return Event(
        run_id=run_id,
        seq=seq,
        type=type_,
        at=at,
        recorded_at=recorded_at,
        source=loads(source),
        data=loads(data),
        prev_hash=prev_hash,
        hash=hash_,
    )


def outbox_key(repo: str, pr: int) -> str:
    """The one outbox row of a PR's summary. GitHub compares repository names
    case-insensitively and runs may spell one differently (a webhook's `full_name`,
    a reporter's `repo`): one key for all spellings, or two rows could post two comments."""
    return f"{SUMMARY}:{repo.lower()}#{pr}"


# `Tx.touch_outbox` in both dialects (`$n` numbered parameters; SQLite reads them as `?n`):
# ($1 key, $2 kind, $3 repo, $4 pr, $5 installation, $6 due_at, $7 now). A pending row keeps
# its due time (the debounce runs from the first change) and its attempts; a failed one is
# pending again from zero attempts, its old error cleared. The version tells a worker that
# its row changed meanwhile.
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


# A due time never lies further ahead than this (the worker's longest backoff, rate-limit
# wait or pacing delay is capped at it). A row due later, or a lease ending later than a
# lease from now, was written by a clock that has since stepped back: it is due now,
# else the PR's comment would stop updating for as long as the step.
MAX_DUE_AHEAD = 900.0
# The rows `claim_outbox` may take ($1 due by, $2 now, $4 lease), in both dialects.
OUTBOX_CLAIMABLE = (
    f"state = 'pending' AND (due_at <= $1 OR due_at > $2 + {MAX_DUE_AHEAD}) "
    "AND (claimed_until IS NULL OR claimed_until < $2 OR claimed_until > $2 + $4)"
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


def event_values(event: Event, dumps: Callable[[Any], str]) -> tuple[Any, ...]:
    """An Event as an `events` row in `EVENT_COLUMNS` order; `dumps` writes its JSON."""
    return (
        event.run_id,
        event.seq,
        event.type,
        event.at,
        event.recorded_at,
        dumps(event.source),
        dumps(event.data),
        event.prev_hash,
        event.hash,
    )


# outbox_status: the same statements in both dialects, then `outbox_status_from` shapes the rows
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


def outbox_status_from(
    counts: Iterable[Sequence[Any]],
    oldest: float | None,
    failed: Iterable[Sequence[Any]],
    retrying: Iterable[Sequence[Any]],
) -> Mapping[str, Any]:
    """`Store.outbox_status` from the rows of the four statements above."""
    by_state = {state: count for state, count in counts}
    return {
        "pending": by_state.get("pending", 0),
        "failed": by_state.get("failed", 0),
        "oldest_due_at": oldest,
        "failures": [
            {"key": key, "repo": repo, "pr": pr, "reason": err, "at": at}
            for key, repo, pr, err, at in failed
        ],
        "retrying": [
            {"key": key, "repo": repo, "pr": pr, "reason": err, "attempts": n, "due_at": due}
            for key, repo, pr, err, n, due in retrying
        ],
    }


# Retention. The selections differ by dialect (how repositories compare); both return
# `PRUNE_COLUMNS`, the idle one followed by the last event's `recorded_at`.
PRUNE_COLUMNS = "r.id, r.repo, r.pr, r.kind, r.last_seq, r.head_hash"
PRUNED_COLUMNS = "run_id, repo, pr, kind, last_seq, head_hash, pruned_at, reason"


def iso_time(ts: float) -> str:
    """An epoch time as the trail writes times."""
    return format_time(datetime.fromtimestamp(ts, UTC))


def choose_pruned(
    idle: Iterable[Sequence[Any]],
    crowded: Iterable[Sequence[Any]],
    retention_days: int | None,
    max_runs_per_repo: int | None,
    pruned_at: str,
    limit: int,
) -> list[PrunedRun]:
    """The runs to remove, each once and at most `limit`, idle ones first, with why."""
    chosen: dict[str, PrunedRun] = {}
    for *columns, last_recorded in idle:
        reason = (
            f"retention: no event for over {retention_days} days (last recorded {last_recorded})"
        )
        chosen[columns[0]] = PrunedRun(*columns, pruned_at, reason)
    reason = f"retention: beyond the newest {max_runs_per_repo} runs of the repository"
    for columns in crowded:
        chosen.setdefault(columns[0], PrunedRun(*columns, pruned_at, reason))
    return list(chosen.values())[:limit]


def pruned_prs(gone: Iterable[PrunedRun]) -> list[tuple[str, int]]:
    """The PRs (each once, whatever the repository's case) some removed runs belonged to."""
    prs: dict[tuple[str, int], tuple[str, int]] = {}
    for run in gone:
        if run.pr is not None:
            prs.setdefault((run.repo.lower(), run.pr), (run.repo, run.pr))
    return list(prs.values())


def pruned_log(gone: PrunedRun) -> tuple[str, str, str, str]:
    """The bot-level log entry (at, kind, source, data) that records a removal."""
    return (
        gone.pruned_at,
        "retention.pruned",
        json.dumps({"kind": "bot", "id": "retention"}),
        json.dumps(dataclasses.asdict(gone), separators=(",", ":")),
    )


async def page_events(
    get_events: Callable[[str, int, int], Awaitable[list[Event]]],
    run_id: str,
    after: int,
    batch: int,
) -> AsyncIterator[Event]:
    """`Store.iter_events` over a store's `get_events`: keyset pages of `batch`."""
    while True:
        events = await get_events(run_id, after, batch)
        for event in events:
            yield event
        if len(events) < batch:
            return
        after = events[-1].seq


# `Store.claim_turn`: one row per periodic job in bot_state; the upsert only takes the
# turn when the last claim is old enough, and RETURNING says whether it did.
# ($1 name, $2 now as text, $3 now as ISO time, $4 `turn_due_before`)
TURN_PREFIX = "turn:"
TURN_DRIFT = 0.9  # a pass a little early (timer drift) still counts as the next one
TURN_CLAIM = (
    "INSERT INTO bot_state (name, value, updated_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
    "updated_at = excluded.updated_at "
    "WHERE CAST(bot_state.value AS double precision) <= $4 RETURNING name"
)


def turn_due_before(now: float, interval: float) -> float:
    """The latest time a previous claim may carry for a new one to succeed at `now`."""
    return now - interval * TURN_DRIFT


# `Store.prune_deliveries` ($1 ISO time, $2 limit)
DELIVERIES_PRUNE = (
    "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE received_at < $1 LIMIT $2)"
)


# `Store.prune_state` ($1 prefix, $2 ISO time): a prefix match that needs no LIKE escaping.
STATE_PRUNE = "DELETE FROM bot_state WHERE substr(name, 1, length($1)) = $1 AND updated_at < $2"


# `Store.take_write_slot`: token mode has no installation id; 0 is no installation's.
SLOTS_DELETE_OLD = "DELETE FROM write_slots WHERE installation = $1 AND at <= $2"
SLOTS_SELECT = "SELECT at FROM write_slots WHERE installation = $1 ORDER BY at"
SLOTS_INSERT = "INSERT INTO write_slots (installation, at) VALUES ($1, $2)"


def slot_owner(installation_id: int | None) -> int:
    return installation_id or 0
