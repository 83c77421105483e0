"""Pure helpers both stores share: rows to objects, objects to rows, answers from rows.

The statements are in `bot.store.sql`; what a row means and how an answer is built
from it is written here once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from bot.store.base import SUMMARY, PrunedRun
from bot.trail.events import Event, format_time
from bot.trail.state import State, fold

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


def outbox_status_from(
    counts: Iterable[Sequence[Any]],
    oldest: float | None,
    failed: Iterable[Sequence[Any]],
    retrying: Iterable[Sequence[Any]],
) -> Mapping[str, Any]:
    """`Store.outbox_status` from the rows of `sql.OUTBOX_COUNTS`, `OUTBOX_OLDEST`,
    `OUTBOX_FAILED` and `OUTBOX_RETRYING`."""
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
PRUNE_COLUMNS = "r.id, r.repo, r.pr, r.kind, r.last_seq, r.head_hash, r.private"
PRUNED_COLUMNS = "run_id, repo, pr, kind, last_seq, head_hash, private, pruned_at, reason"


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


# `Store.claim_turn`: one row per periodic job in bot_state (`sql.TURN_CLAIM`).
TURN_PREFIX = "turn:"
TURN_DRIFT = 0.9  # a pass a little early (timer drift) still counts as the next one


def turn_due_before(now: float, interval: float) -> float:
    """The latest time a previous claim may carry for a new one to succeed at `now`."""
    return now - interval * TURN_DRIFT


def slot_owner(installation_id: int | None) -> int:
    """The write slots' owner: token mode has no installation id; 0 is no installation's."""
    return installation_id or 0


def run_columns(state: State) -> tuple[Any, ...]:
    """The projection's indexed columns, in table order after `id` and `key`."""
    return (
        state["kind"],
        state["repo"],
        state["pr"],
        state["head_sha"],
        state["status"],
        1 if state["ended_at"] is None else 0,
        state["installation_id"],
        None if state["private"] is None else int(bool(state["private"])),
        state["started_at"],
        state["updated_at"],
        state["seq"],
        state["head_hash"],
        orjson.dumps(state).decode(),
    )


def advanced_columns(state: State) -> tuple[Any, ...]:
    """`sql.RUN_ADVANCE`'s values before the run's id: what an append can change."""
    return (
        state["status"],
        1 if state["ended_at"] is None else 0,
        state["updated_at"],
        state["seq"],
        state["head_hash"],
        orjson.dumps(state).decode(),
    )


def imported(events: Sequence[Event]) -> tuple[list[Event], State]:
    """`Store.import_run`'s input as a list, with its fold (the projection to store)."""
    events = list(events)
    if not events:
        raise ValueError("a run needs at least one event")
    return events, fold(events[0].run_id, events)
