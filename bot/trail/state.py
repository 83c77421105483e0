"""A run's state is a fold over its events.

The stored projection is only a cache of `fold(events)`: `rebuild` recomputes it and
`verify` compares. State is a plain JSON-able dict so the store can keep it as is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from bot.trail import events as ev
from bot.trail.money import add_amount
from bot.trail.ordered import not_before

# Statuses. A run is open until `ended_at` is set; succeeded/failed PR runs stay
# open because CI can be re-run on the same head.
OPEN = "open"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
SUPERSEDED = "superseded"
MERGED = "merged"
CLOSED = "closed"
REQUESTED = "requested"
DISMISSED = "dismissed"

CLOSE_STATUSES = frozenset({SUCCEEDED, FAILED, CANCELLED, CLOSED, MERGED})
FAILING_CONCLUSIONS = frozenset({"failure", "timed_out", "startup_failure", "action_required"})
PASSING_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})

State = dict[str, Any]

# Payment proofs kept in a run's state: the newest ones. The state is rewritten whole
# on every append, so it must not grow with the trail; every proof stays in the trail
# (`GET /api/runs/{id}/events`), where it was hashed.
MAX_PROOFS_IN_STATE = 100


def new_state(run_id: str) -> State:
    return {
        "id": run_id,
        "kind": None,
        "repo": None,
        "pr": None,
        "head_sha": None,
        "name": None,
        "status": OPEN,
        "installation_id": None,
        "private": None,
        "started_at": None,
        "ended_at": None,
        "finished_at": None,
        "updated_at": None,
        "seq": 0,
        "head_hash": ev.GENESIS_HASH,
        "budget": {},
        "spend": {},
        "spend_by_category": {},
        "tokens": {"input": 0, "output": 0},
        "proofs": [],
        "workflow_runs": {},
        "jobs": {},
        "check_suites": {},
        "review": None,
        "steps": {},
        "notes": 0,
    }


def fold(run_id: str, events: Iterable[ev.Event]) -> State:
    state = new_state(run_id)
    for event in events:
        state = apply(state, event)
    return state


def apply(state: State, event: ev.Event) -> State:
    """Return the state after `event` (the input is not modified)."""
    state = dict(state)
    state["seq"] = event.seq
    state["head_hash"] = event.hash
    state["updated_at"] = event.at
    handler = _APPLY.get(event.type)
    if handler is not None:
        handler(state, event.data, event.at)
    return state


def is_open(state: Mapping[str, Any]) -> bool:
    return state.get("ended_at") is None


def _opened(state: State, data: Mapping[str, Any], at: str) -> None:
    for key in ("kind", "repo", "pr", "head_sha", "name", "installation_id", "private", "title"):
        if key in data:
            state[key] = data[key]
    if data.get("url"):
        state["url"] = data["url"]
    if data.get("budget"):
        state["budget"] = dict(data["budget"])
    state["started_at"] = at
    if data.get("reviewer"):
        state["review"] = {"reviewer": data["reviewer"], "requested_at": None, "state": None}
    state["status"] = REQUESTED if state["kind"] == "review" else OPEN


def _closed(state: State, data: Mapping[str, Any], at: str) -> None:
    if state["ended_at"] is not None:
        return
    state["status"] = data.get("status", CLOSED)
    state["ended_at"] = not_before(at, state["started_at"])
    state["finished_at"] = state["finished_at"] or state["ended_at"]


def _superseded(state: State, data: Mapping[str, Any], at: str) -> None:
    if state["ended_at"] is not None:
        return
    state["status"] = SUPERSEDED
    state["ended_at"] = not_before(at, state["started_at"])
    state["superseded_by"] = data.get("by_head_sha")


def _pr_updated(state: State, data: Mapping[str, Any], at: str) -> None:
    if data.get("title"):
        state["title"] = data["title"]


def _workflow_run(state: State, data: Mapping[str, Any], at: str) -> None:
    runs = dict(state["workflow_runs"])
    runs[str(data["id"])] = {k: data.get(k) for k in _WORKFLOW_RUN_KEYS}
    state["workflow_runs"] = runs
    _follow_ci(state)


def _check_suite(state: State, data: Mapping[str, Any], at: str) -> None:
    suites = dict(state["check_suites"])
    suites[str(data["id"])] = {k: data.get(k) for k in _CHECK_SUITE_KEYS}
    state["check_suites"] = suites
    _follow_ci(state)


def _workflow_job(state: State, data: Mapping[str, Any], at: str) -> None:
    jobs = dict(state["jobs"])
    jobs[str(data["id"])] = {k: data.get(k) for k in _JOB_KEYS}
    state["jobs"] = jobs


_WORKFLOW_RUN_KEYS = (
    "name",
    "status",
    "conclusion",
    "html_url",
    "run_attempt",
    "started_at",
    "updated_at",
)
_CHECK_SUITE_KEYS = ("app", "status", "conclusion", "updated_at")
_JOB_KEYS = (
    "name",
    "run_id",
    "status",
    "conclusion",
    "labels",
    "runner_name",
    "started_at",
    "completed_at",
    "html_url",
)


def _follow_ci(state: State) -> None:
    """A PR run's status follows its CI until the run ends."""
    if state["ended_at"] is not None:
        return
    units = [
        *state["workflow_runs"].values(),
        *(s for s in state["check_suites"].values() if s.get("app") != "github-actions"),
    ]
    if any(u.get("status") == "in_progress" for u in units) or any(
        u.get("status") in ("queued", "requested", "waiting", "pending")
        for u in state["workflow_runs"].values()
    ):
        state["status"] = RUNNING
        state["finished_at"] = None
        return
    conclusions = [u.get("conclusion") for u in units if u.get("status") == "completed"]
    if not conclusions:
        return
    if any(c in FAILING_CONCLUSIONS for c in conclusions):
        state["status"] = FAILED
    elif any(c in PASSING_CONCLUSIONS for c in conclusions):
        state["status"] = SUCCEEDED
    else:
        state["status"] = CANCELLED
    finished = [u.get("updated_at") for u in units if u.get("updated_at")]
    state["finished_at"] = max(finished) if finished else None


def _review_requested(state: State, data: Mapping[str, Any], at: str) -> None:
    review = dict(state["review"] or {})
    review.setdefault("reviewer", data.get("reviewer"))
    review["requested_at"] = review.get("requested_at") or at
    state["review"] = review


def _review_submitted(state: State, data: Mapping[str, Any], at: str) -> None:
    review = dict(state["review"] or {})
    review.setdefault("reviewer", data.get("reviewer"))
    review["state"] = str(data.get("state", "commented")).lower()
    review["submitted_at"] = at
    review["html_url"] = data.get("html_url")
    state["review"] = review
    if state["ended_at"] is None:
        state["status"] = review["state"]
        state["ended_at"] = not_before(at, state["started_at"])
        state["finished_at"] = state["ended_at"]


def _review_dismissed(state: State, data: Mapping[str, Any], at: str) -> None:
    review = dict(state["review"] or {})
    review["state"] = DISMISSED
    state["review"] = review
    state["status"] = DISMISSED
    if state["ended_at"] is None:
        state["ended_at"] = not_before(at, state["started_at"])
        state["finished_at"] = state["ended_at"]


def _step_started(state: State, data: Mapping[str, Any], at: str) -> None:
    steps = dict(state["steps"])
    steps[str(data["name"])] = {"status": RUNNING, "started_at": at}
    state["steps"] = steps
    if state["ended_at"] is None and state["status"] == OPEN:
        state["status"] = RUNNING


def _step_finished(state: State, data: Mapping[str, Any], at: str) -> None:
    steps = dict(state["steps"])
    step = dict(steps.get(str(data["name"]), {}))
    step.update(status=data.get("status", SUCCEEDED), finished_at=at)
    steps[str(data["name"])] = step
    state["steps"] = steps


def _spend(state: State, data: Mapping[str, Any], at: str) -> None:
    currency = data["currency"]
    amount = Decimal(data["amount"])
    state["spend"] = add_amount(state["spend"], currency, amount)
    by_category = dict(state["spend_by_category"])
    category = data.get("category", "other")
    by_category[category] = add_amount(by_category.get(category, {}), currency, amount)
    state["spend_by_category"] = by_category
    tokens = state["tokens"]
    if data.get("input_tokens") or data.get("output_tokens"):
        state["tokens"] = {
            "input": tokens["input"] + int(data.get("input_tokens") or 0),
            "output": tokens["output"] + int(data.get("output_tokens") or 0),
        }


def _proof(state: State, data: Mapping[str, Any], at: str) -> None:
    proofs = [p for p in state["proofs"] if p.get("tx") is None or p.get("tx") != data.get("tx")]
    proofs.append({**data, "at": at})
    state["proofs"] = proofs[-MAX_PROOFS_IN_STATE:]


def _note(state: State, data: Mapping[str, Any], at: str) -> None:
    state["notes"] = state["notes"] + 1


_APPLY: dict[str, Callable[[State, Mapping[str, Any], str], None]] = {
    ev.RUN_OPENED: _opened,
    ev.RUN_CLOSED: _closed,
    ev.RUN_SUPERSEDED: _superseded,
    ev.PR_UPDATED: _pr_updated,
    ev.CI_WORKFLOW_RUN: _workflow_run,
    ev.CI_CHECK_SUITE: _check_suite,
    ev.CI_WORKFLOW_JOB: _workflow_job,
    ev.REVIEW_REQUESTED: _review_requested,
    ev.REVIEW_SUBMITTED: _review_submitted,
    ev.REVIEW_DISMISSED: _review_dismissed,
    ev.STEP_STARTED: _step_started,
    ev.STEP_FINISHED: _step_finished,
    ev.SPEND: _spend,
    ev.PROOF: _proof,
    ev.NOTE: _note,
}
