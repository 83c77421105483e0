"""Carrying out a `Command` inside one store transaction, the same for every store.

The store supplies a `Tx` (its SQL dialect); this module owns the meaning: dedupe by
source id, resolve selectors, give each event the next seq and chain hash, fold it
into the run's projection, and schedule the PR summaries the change affects.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.ids import new_run_id
from bot.store.base import IdempotencyConflict
from bot.trail import events as ev
from bot.trail import intents as it
from bot.trail.state import State, apply, is_open, new_state


class Tx(Protocol):
    def find_delivery(self, source_id: str) -> tuple[str | None, str | None] | None: ...

    def insert_delivery(self, values: Mapping[str, Any]) -> None: ...

    def run_by_id(self, run_id: str) -> State | None: ...

    def runs_by_key(self, key: str, open_only: bool) -> list[State]: ...

    def open_runs_of_pr(self, repo: str, pr: int) -> list[State]: ...

    def latest_by_head(self, repo: str, head_sha: str, kind: str) -> State | None: ...

    def insert_run(self, key: str | None, state: State) -> None: ...

    def update_run(self, state: State) -> None: ...

    def insert_event(self, event: ev.Event) -> None: ...

    def insert_bot_log(self, at: str, kind: str, source: str, data: str) -> None: ...

    def touch_outbox(
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
        self.now_iso = ev.format_time(_from_timestamp(now))
        self.debounce = debounce
        self.result = it.CommandResult()
        self._prs: dict[tuple[str, int], int | None] = {}

    def apply(self, command: it.Command) -> it.CommandResult:
        source = command.source
        seen = self.tx.find_delivery(source.id)
        if seen is not None:
            response, stored_fingerprint = seen
            new_fingerprint = fingerprint(command)
            if stored_fingerprint and new_fingerprint and stored_fingerprint != new_fingerprint:
                raise IdempotencyConflict(source.id)
            stored = json.loads(response) if response else {}
            return it.CommandResult(
                duplicate=True,
                outcome="duplicate",
                runs=stored.get("runs", []),
                opened=stored.get("opened", []),
                events=0,
                response=stored.get("response"),
            )
        for intent in command.intents:
            if isinstance(intent, it.OpenRun):
                self._open(intent, source)
            elif isinstance(intent, it.Append):
                for state in self._resolve(intent.target):
                    if intent.require_open and not is_open(state):
                        continue
                    self._append_all(state, intent.events, source)
            elif isinstance(intent, it.BotLog):
                self.tx.insert_bot_log(
                    self.now_iso,
                    intent.kind,
                    json.dumps(source.as_dict()),
                    json.dumps(dict(intent.data), separators=(",", ":")),
                )
        outcome = "recorded" if self.result.events else command.outcome
        if not self.result.events and command.intents and command.outcome == "recorded":
            if any(isinstance(i, it.BotLog) for i in command.intents):
                outcome = "logged"
            else:
                outcome = "unmatched"
        self.result.response = command.response
        self.result.outcome = outcome
        self.tx.insert_delivery(
            {
                "id": source.id,
                "kind": source.kind,
                "event": source.event,
                "action": source.action,
                "received_at": self.now_iso,
                "outcome": outcome,
                "response": json.dumps(
                    {
                        "runs": self.result.runs,
                        "opened": self.result.opened,
                        "response": command.response,
                    }
                ),
                "fingerprint": fingerprint(command),
            }
        )
        for (repo, pr), installation in self._prs.items():
            self.tx.touch_outbox(repo, pr, installation, self.now + self.debounce, self.now_iso)
        self.result.prs = list(self._prs)
        return self.result

    def _open(self, intent: it.OpenRun, source: ev.Source) -> None:
        existing = self.tx.runs_by_key(intent.key, open_only=True)
        if existing:
            state = existing[0]
        else:
            spec = intent.spec
            run_id = new_run_id(int(self.now * 1000))
            state = new_state(run_id)
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
            event = ev.seal(run_id, 1, opened, source, self.now_iso, ev.GENESIS_HASH)
            state = apply(state, event)
            self.tx.insert_run(intent.key, state)
            self.tx.insert_event(event)
            self._touched(state, events=1)
            self.result.opened.append(run_id)
        self._append_all(state, intent.events, source)

    def _resolve(self, target: it.Selector) -> list[State]:
        if isinstance(target, it.ById):
            state = self.tx.run_by_id(target.run_id)
            return [state] if state else []
        if isinstance(target, it.ByKey):
            return self.tx.runs_by_key(target.key, open_only=target.open_only)[:1]
        if isinstance(target, it.OpenRunsOfPR):
            return [
                s
                for s in self.tx.open_runs_of_pr(target.repo, target.pr)
                if (target.kinds is None or s["kind"] in target.kinds)
                and (target.exclude_head_sha is None or s["head_sha"] != target.exclude_head_sha)
            ]
        state = self.tx.latest_by_head(target.repo, target.head_sha, target.kind)
        return [state] if state else []

    def _append_all(self, state: State, new_events: Any, source: ev.Source) -> State:
        if not new_events:
            self._touched(state, events=0)
            return state
        for new in new_events:
            event = ev.seal(
                state["id"], state["seq"] + 1, new, source, self.now_iso, state["head_hash"]
            )
            self.tx.insert_event(event)
            state = apply(state, event)
        self.tx.update_run(state)
        self._touched(state, events=len(new_events))
        return state

    def _touched(self, state: State, events: int) -> None:
        if state["id"] not in self.result.runs:
            self.result.runs.append(state["id"])
        self.result.events += events
        if events and state.get("pr") is not None and state.get("repo"):
            key = (state["repo"], int(state["pr"]))
            self._prs[key] = state.get("installation_id") or self._prs.get(key)


def _from_timestamp(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
