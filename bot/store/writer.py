"""Carrying out a `Command` inside one store transaction, the same for every store.

The store supplies a `Tx` (its SQL dialect); this module owns the meaning: dedupe by
source id, resolve selectors, give each event the next seq and chain hash, fold it
into the run's projection, and schedule the PR summaries the change affects.

The meaning is written once, as coroutines awaiting the one `Tx` protocol. PostgreSQL's
Tx really awaits its connection; SQLite's writer thread has no event loop, so its Tx's
coroutines never suspend and `apply_now` runs the writer to the end in one step
(`run_to_completion`): the same code, no loop, no thread hop.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import orjson

from bot.ids import new_run_id
from bot.store.base import IdempotencyConflict
from bot.store.rows import iso_time
from bot.trail import events as ev
from bot.trail import intents as it
from bot.trail.money import check_currency_room
from bot.trail.ordered import recorded_after
from bot.trail.state import State, apply, is_open, new_state
from bot.trail.validation import InvalidInput

T = TypeVar("T")


class Tx(Protocol):
    """The operations a store's transaction offers the writer, awaited (SQLite's never
    suspend, so they can also run to completion on its writer thread)."""

    async def find_delivery(self, source_id: str) -> tuple[str | None, str | None] | None: ...

    async def insert_delivery(self, values: Mapping[str, Any]) -> None: ...

    async def run_by_id(self, run_id: str) -> State | None: ...

    async def runs_by_key(self, key: str, open_only: bool) -> list[State]: ...

    async def open_runs_of_pr(self, repo: str, pr: int) -> list[State]: ...

    async def latest_by_head(self, repo: str, head_sha: str, kind: str) -> State | None: ...

    async def insert_run(self, key: str | None, state: State) -> None: ...

    async def update_run(self, state: State) -> None: ...

    async def advance_run(self, state: State) -> None:
        """Store a run's projection after an append (which never changes what its
        `run.opened` set: kind, repository, PR, head, installation, visibility)."""
        ...

    async def insert_events(self, events: Sequence[ev.Event]) -> None: ...

    async def add_spend(self, state: State, events: Sequence[ev.Event]) -> None:
        """Add the spend among a run's new events to the per-day rollup."""
        ...

    async def insert_bot_log(self, at: str, kind: str, source: str, data: str) -> None: ...

    async def touch_outbox(
        self, repo: str, pr: int, installation_id: int | None, due_at: float, now_iso: str
    ) -> None: ...


def fingerprint(command: it.Command) -> str | None:
    """A digest of what an API call asked for, to refuse a reused idempotency key."""
    if command.source.kind != "api":
        return None
    return hashlib.sha256(repr(command.intents).encode()).hexdigest()


class CommandWriter:
    def __init__(self, tx: Tx, now: float, debounce: float) -> None:
        self.tx = tx
        self.now = now
        self.now_iso = iso_time(now)
        self.debounce = debounce
        self.result = it.CommandResult()
        # PRs whose summary this command changes: (lower-case repo, pr) -> (repo, installation)
        self._prs: dict[tuple[str, int], tuple[str, int | None]] = {}
        # The command's sealed events, of every run it touches: inserted in one statement
        # at its end (nothing the writer reads in between looks at the events table).
        self._sealed: list[ev.Event] = []

    async def apply(self, command: it.Command) -> it.CommandResult:
        seen = await self.tx.find_delivery(command.source.id)
        if seen is not None:
            return replayed(command, *seen)
        for intent in command.intents:
            await self._carry_out(intent, command.source)
        self.result.response = command.response
        self.result.outcome = outcome_of(command, self.result.events)
        if self._sealed:
            await self.tx.insert_events(self._sealed)
        await self.tx.insert_delivery(delivery_row(command, self.result, self.now_iso))
        # In key order, so concurrent transactions lock outbox rows in one order.
        for (_, pr), (repo, installation) in sorted(self._prs.items()):
            due = self.now + self.debounce
            await self.tx.touch_outbox(repo, pr, installation, due, self.now_iso)
        self.result.prs = [(repo, pr) for (_, pr), (repo, _) in self._prs.items()]
        return self.result

    async def _carry_out(self, intent: it.Intent, source: ev.Source) -> None:
        if isinstance(intent, it.OpenRun):
            await self._open(intent, source)
        elif isinstance(intent, it.Append):
            for state in await self._resolve(intent.target):
                if intent.require_open and not is_open(state):
                    continue
                if _job_completed(state, intent.unless_job_completed):
                    continue
                await self._append_all(state, intent.events, source)
        elif isinstance(intent, it.BotLog):
            await self.tx.insert_bot_log(
                self.now_iso,
                intent.kind,
                json.dumps(source.as_dict()),
                json.dumps(dict(intent.data), separators=(",", ":")),
            )

    async def _open(self, intent: it.OpenRun, source: ev.Source) -> None:
        existing = await self.tx.runs_by_key(intent.key, open_only=True)
        if existing:
            await self._append_all(existing[0], intent.events, source)
            return
        spec = intent.spec
        run_id = new_run_id(int(self.now * 1000))
        data: dict[str, Any] = {
            "kind": spec.kind,
            "repo": spec.repo,
            "pr": spec.pr,
            "head_sha": spec.head_sha,
            "name": spec.name,
            "installation_id": spec.installation_id,
            "private": spec.private,
            **spec.opened_data,
        }
        opened = ev.NewEvent(ev.RUN_OPENED, data, at=intent.opened_at)
        # The run's row is written once, already holding every event of this command.
        state, sealed = self._seal_onto(new_state(run_id), [opened], source)
        state, more = self._seal_onto(state, intent.events, source)
        sealed += more
        await self.tx.insert_run(intent.key, state)
        self._sealed += sealed
        await self.tx.add_spend(state, sealed)
        self._touched(state, events=len(sealed))
        self.result.opened.append(run_id)

    async def _resolve(self, target: it.Selector) -> list[State]:
        if isinstance(target, it.ById):
            state = await self.tx.run_by_id(target.run_id)
            return [state] if state else []
        if isinstance(target, it.ByKey):
            return (await self.tx.runs_by_key(target.key, open_only=target.open_only))[:1]
        if isinstance(target, it.OpenRunsOfPR):
            return [
                s
                for s in await self.tx.open_runs_of_pr(target.repo, target.pr)
                if (target.kinds is None or s["kind"] in target.kinds)
                and (target.exclude_head_sha is None or s["head_sha"] != target.exclude_head_sha)
            ]
        state = await self.tx.latest_by_head(target.repo, target.head_sha, target.kind)
        return [state] if state else []

    async def _append_all(self, state: State, new_events: Any, source: ev.Source) -> None:
        if new_events:
            state, sealed = self._seal_onto(state, new_events, source)
            self._sealed += sealed
            await self.tx.add_spend(state, sealed)
            await self.tx.advance_run(state)
        self._touched(state, events=len(new_events))

    def _seal_onto(
        self, state: State, new_events: Sequence[ev.NewEvent], source: ev.Source
    ) -> tuple[State, list[ev.Event]]:
        """Chain `new_events` after the run's head and fold them in: the new state and rows."""
        sealed = []
        for index, new in enumerate(new_events):
            if source.kind == "api" and new.type == ev.SPEND:
                _room_for(state, new, index)
            # Never before the run's previous event, even if the clock stepped back.
            recorded_at = recorded_after(self.now_iso, state.get("updated_at"))
            event = ev.seal(
                state["id"], state["seq"] + 1, new, source, recorded_at, state["head_hash"]
            )
            sealed.append(event)
            state = apply(state, event)
        return state, sealed

    def _touched(self, state: State, events: int) -> None:
        if state["id"] not in self.result.runs:
            self.result.runs.append(state["id"])
        self.result.events += events
        if events and state.get("pr") is not None and state.get("repo"):
            repo, pr = str(state["repo"]), int(state["pr"])
            seen = self._prs.get((repo.lower(), pr))
            installation = state.get("installation_id") or (seen[1] if seen else None)
            self._prs[(repo.lower(), pr)] = (seen[0] if seen else repo, installation)


def replayed(
    command: it.Command, response: str | None, stored_fingerprint: str | None
) -> it.CommandResult:
    """The answer to a command whose source id was applied before: what it answered then.

    An API call reusing an idempotency key for a different request is refused instead.
    """
    new_fingerprint = fingerprint(command)
    if stored_fingerprint and new_fingerprint and stored_fingerprint != new_fingerprint:
        raise IdempotencyConflict(command.source.id)
    stored = json.loads(response) if response else {}
    return it.CommandResult(
        outcome="duplicate",
        runs=stored.get("runs", []),
        opened=stored.get("opened", []),
        events=0,
        response=stored.get("response"),
    )


def outcome_of(command: it.Command, events: int) -> str:
    """The delivery's outcome: `recorded` when events were, else why nothing was."""
    if events:
        return "recorded"
    if command.intents and command.outcome == "recorded":
        return "logged" if any(isinstance(i, it.BotLog) for i in command.intents) else "unmatched"
    return command.outcome


def delivery_row(command: it.Command, result: it.CommandResult, now_iso: str) -> dict[str, Any]:
    """The delivery record that makes the command's source id answer `duplicate` from now on."""
    source = command.source
    return {
        "id": source.id,
        "kind": source.kind,
        "event": source.event,
        "action": source.action,
        "received_at": now_iso,
        "outcome": result.outcome,
        "response": _json(
            {"runs": result.runs, "opened": result.opened, "response": command.response}
        ),
        "fingerprint": fingerprint(command),
    }


def _json(value: Any) -> str:
    """orjson's text where it can write the value (nearly always), else the standard
    library's: only ever read back as JSON, never compared as text."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def apply_now(tx: Tx, now: float, debounce: float, command: it.Command) -> it.CommandResult:
    """Carry out `command` over a Tx that never suspends (SQLite's), without an event loop."""
    return run_to_completion(CommandWriter(tx, now, debounce).apply(command))


def run_to_completion(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that awaits nothing real to its end, in the calling thread."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a synchronous Tx suspended: it must not await real I/O")


def _room_for(state: State, new: ev.NewEvent, index: int) -> None:
    """A reporter's spend in a currency new to a run already at the limit is refused
    (`InvalidInput` at ``events[index].currency``), the whole command with it."""
    try:
        check_currency_room(state.get("spend") or {}, str(new.data.get("currency")))
    except InvalidInput as refused:
        raise refused.under(f"events[{index}]") from None


def _job_completed(state: State, job_id: int | None) -> bool:
    if job_id is None:
        return False
    return (state.get("jobs") or {}).get(str(job_id), {}).get("status") == "completed"
