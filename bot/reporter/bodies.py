"""Reporter API bodies → validated values, without touching the store (pure).

Every field error is collected with its path (``events[2].amount``), so one 422
tells a CI author everything that is wrong at once. Nothing here decides who may
write; the routes do that after the body is known to be well formed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from bot.http.errors import ApiError
from bot.trail import events as ev
from bot.trail.budget import parse_budget
from bot.trail.money import SPEND_FIELDS, canonical_amount
from bot.trail.priced_spend import parse_priced_spend
from bot.trail.pricing import Pricing
from bot.trail.proofs import PROOF_FIELDS, X402_FIELDS, parse_proof
from bot.trail.rates import parse_timestamp
from bot.trail.validation import InvalidInput, kind_of, parse_text

T = TypeVar("T")

MAX_EVENTS = 500
MAX_ERRORS = 50  # a body with thousands of bad events gets a readable answer
RESERVED_KINDS = frozenset({"pr"})  # PR runs follow GitHub's webhooks only
CLOSE_STATUSES = ("succeeded", "failed", "cancelled")
STEP_STATUSES = ("succeeded", "failed", "cancelled", "skipped")
OPEN_FIELDS = ("repo", "pr", "head_sha", "kind", "name", "budget", "idempotency_key", "events")
EVENTS_FIELDS = ("events", "idempotency_key")
CLOSE_FIELDS = ("status", "reason", "idempotency_key")
EVENT_TYPES: Mapping[str, tuple[str, ...]] = {
    ev.STEP_STARTED: ("name",),
    ev.STEP_FINISHED: ("name", "status"),
    ev.SPEND: SPEND_FIELDS,
    ev.PROOF: tuple(dict.fromkeys((*PROOF_FIELDS, *X402_FIELDS))),
    ev.NOTE: ("text",),
}

_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_KIND = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII, no spaces
DEFAULT_PRICING = Pricing()  # the package table alone; the routes pass the operator's prices


class InvalidBody(ApiError):
    """The body has bad fields (422); ``errors`` lists each with its path and reason."""

    def __init__(self, errors: Sequence[InvalidInput]) -> None:
        listed = [{"path": e.path, "reason": e.reason} for e in errors[:MAX_ERRORS]]
        super().__init__(422, "invalid request", errors=listed)
        self.errors = list(errors)
        self.args = (f"{len(errors)} invalid field(s)",)


class NotJSON(ValueError):
    """The body is not a JSON document (400, not 422: there are no fields to name)."""


def parse_json(raw: bytes) -> object:
    """Decode UTF-8 JSON with exact numbers: floats become Decimal, NaN is refused."""
    try:
        return json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise NotJSON("body is not valid JSON") from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


class _Errors:
    """Collects every field error instead of stopping at the first."""

    def __init__(self) -> None:
        self.items: list[InvalidInput] = []

    def add(self, path: str, reason: str) -> None:
        self.items.append(InvalidInput(path, reason))

    def take(self, path: str, parse: Callable[[object], T], value: object) -> T | None:
        try:
            return parse(value)
        except InvalidInput as error:
            self.items.append(error.under(path))
            return None

    def unknown(self, data: Mapping[str, object], allowed: Sequence[str], prefix: str = "") -> None:
        for key in data:
            if key not in allowed:
                path = f"{prefix}.{key}" if prefix else str(key)
                self.add(path, f"unknown field; expected one of: {', '.join(allowed)}")

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidBody(self.items)


def _object(value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise InvalidBody(
            [InvalidInput("", f"the body must be a JSON object, not {kind_of(value)}")]
        )
    return value


# --- field parsers -----------------------------------------------------------------


def parse_repo(value: object) -> str:
    if isinstance(value, str) and _REPO.fullmatch(value) and ".." not in value:
        return value
    raise InvalidInput("", "must be a repository like owner/name")


def parse_pr(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**31:
        raise InvalidInput("", "must be a pull request number (a positive whole number)")
    return value


def parse_sha(value: object) -> str:
    lowered = value.lower() if isinstance(value, str) and value.isascii() else None
    if lowered is None or not _SHA.fullmatch(lowered):
        raise InvalidInput("", "must be a full commit SHA (40 or 64 hex digits)")
    return lowered


def parse_kind(value: object) -> str:
    if not isinstance(value, str) or not _KIND.fullmatch(value):
        raise InvalidInput(
            "", "must be a lower-case word like review, agent or ci (letters, digits, - or _)"
        )
    if value in RESERVED_KINDS:
        raise InvalidInput("", "pr runs are opened by GitHub's webhooks; pick another kind")
    return value


def parse_key(value: object) -> str:
    if isinstance(value, str) and _KEY.fullmatch(value):
        return value
    raise InvalidInput("", "must be 1-200 printable ASCII characters without spaces")


def parse_at(value: object) -> str:
    """A client timestamp in the trail's own spelling (UTC, milliseconds, Z)."""
    moment = parse_timestamp(value)
    try:
        return ev.format_time(moment)
    except OverflowError:  # 9999-12-31T23:59-01:00 is past year 9999 in UTC
        raise InvalidInput("", "is outside the years 1 to 9999 in UTC") from None


def _choice(options: Sequence[str]) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if isinstance(value, str) and value.lower() in options:
            return value.lower()
        raise InvalidInput("", f"must be one of {', '.join(options)}")

    return parse


def budget_as_json(budget: Mapping[str, Decimal]) -> dict[str, str]:
    """A parsed budget as stored in the trail: currency → canonical amount string."""
    return {currency: canonical_amount(limit) for currency, limit in sorted(budget.items())}


# --- events ------------------------------------------------------------------------


def _event(errors: _Errors, path: str, value: object, pricing: Pricing) -> ev.NewEvent | None:
    """One event of a batch; its own fields are checked by the trail's parsers.

    A spend without an amount is priced here, at its `at` (else now), so the 422 for
    a model nobody can price names the event's field before anything is written.
    """
    if not isinstance(value, Mapping):
        errors.add(path, f"must be an object, not {kind_of(value)}")
        return None
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:  # a list or object: unhashable
        errors.add(f"{path}.type", f"must be one of {', '.join(EVENT_TYPES)}")
        return None
    at = None if value.get("at") is None else errors.take(f"{path}.at", parse_at, value["at"])
    record = {k: v for k, v in value.items() if k not in ("type", "at")}
    before = len(errors.items)
    data: dict[str, Any] | None = None
    if kind == ev.SPEND:
        moment = ev.parse_time(at) if at else datetime.now(UTC)
        data = errors.take(path, lambda r: parse_priced_spend(r, pricing, moment), record)
    elif kind == ev.PROOF:
        data = errors.take(path, parse_proof, record)
    else:
        errors.unknown(record, ("type", "at", *EVENT_TYPES[str(kind)]), path)
        data = _simple_event(errors, path, str(kind), record)
    if data is None or len(errors.items) > before:
        return None
    return ev.NewEvent(str(kind), data, at=at)


def _simple_event(
    errors: _Errors, path: str, kind: str, record: Mapping[str, object]
) -> dict[str, Any] | None:
    if kind == ev.NOTE:
        text = record.get("text")
        if text is None:
            errors.add(f"{path}.text", "is required")
            return None
        parsed = errors.take(f"{path}.text", lambda v: parse_text(v, 2000, multiline=True), text)
        return None if parsed is None else {"text": parsed}
    if record.get("name") is None:
        errors.add(f"{path}.name", "is required")
        return None
    name = errors.take(f"{path}.name", lambda v: parse_text(v, 200), record["name"])
    data: dict[str, Any] = {"name": name}
    if kind == ev.STEP_FINISHED:
        raw = record.get("status")
        status = (
            "succeeded"
            if raw is None
            else errors.take(f"{path}.status", _choice(STEP_STATUSES), raw)
        )
        data["status"] = status
    return data


def parse_event_list(
    errors: _Errors, path: str, value: object, pricing: Pricing = DEFAULT_PRICING
) -> list[ev.NewEvent]:
    if not isinstance(value, list):
        errors.add(path, f"must be a list of events, not {kind_of(value)}")
        return []
    if len(value) > MAX_EVENTS:
        errors.add(path, f"at most {MAX_EVENTS} events in one batch, got {len(value)}")
        return []
    found = [_event(errors, f"{path}[{i}]", item, pricing) for i, item in enumerate(value)]
    return [e for e in found if e is not None]


# --- requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class OpenRequest:
    kind: str
    repo: str | None = None
    pr: int | None = None
    head_sha: str | None = None
    name: str | None = None
    budget: Mapping[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    events: Sequence[ev.NewEvent] = ()


@dataclass(frozen=True)
class EventsRequest:
    events: Sequence[ev.NewEvent]
    idempotency_key: str | None = None


@dataclass(frozen=True)
class CloseRequest:
    status: str
    reason: str | None = None
    idempotency_key: str | None = None


def _optional(
    errors: _Errors, data: Mapping[str, object], key: str, parse: Callable[[object], T]
) -> T | None:
    value = data.get(key)
    return None if value is None else errors.take(key, parse, value)


def parse_open(body: object, pricing: Pricing = DEFAULT_PRICING) -> OpenRequest:
    """``POST /api/runs``: kind is required; repo and pr may come from the OIDC token."""
    data = _object(body)
    errors = _Errors()
    errors.unknown(data, OPEN_FIELDS)
    kind = None
    if data.get("kind") is None:
        errors.add("kind", "is required (for example review, agent or ci)")
    else:
        kind = errors.take("kind", parse_kind, data["kind"])
    budget = _optional(errors, data, "budget", parse_budget)
    request = OpenRequest(
        kind=kind or "",
        repo=_optional(errors, data, "repo", parse_repo),
        pr=_optional(errors, data, "pr", parse_pr),
        head_sha=_optional(errors, data, "head_sha", parse_sha),
        name=_optional(errors, data, "name", lambda v: parse_text(v, 200)),
        budget=budget_as_json(budget) if budget else {},
        idempotency_key=_optional(errors, data, "idempotency_key", parse_key),
        events=(
            parse_event_list(errors, "events", data["events"], pricing) if "events" in data else ()
        ),
    )
    errors.raise_if_any()
    return request


def parse_events(body: object, pricing: Pricing = DEFAULT_PRICING) -> EventsRequest:
    """``POST /api/runs/{id}/events``: a non-empty batch, applied all or nothing."""
    data = _object(body)
    errors = _Errors()
    errors.unknown(data, EVENTS_FIELDS)
    if data.get("events") is None:
        errors.add("events", "is required: a list of events")
        events: list[ev.NewEvent] = []
    else:
        events = parse_event_list(errors, "events", data["events"], pricing)
        if not data["events"] and isinstance(data["events"], list):
            errors.add("events", "must hold at least one event")
    key = _optional(errors, data, "idempotency_key", parse_key)
    errors.raise_if_any()
    return EventsRequest(events, key)


def parse_close(body: object) -> CloseRequest:
    """``POST /api/runs/{id}/close``: the final status, defaulting to succeeded."""
    data = _object(body)
    errors = _Errors()
    errors.unknown(data, CLOSE_FIELDS)
    status = _optional(errors, data, "status", _choice(CLOSE_STATUSES)) or "succeeded"
    reason = _optional(errors, data, "reason", lambda v: parse_text(v, 500, multiline=True))
    key = _optional(errors, data, "idempotency_key", parse_key)
    errors.raise_if_any()
    return CloseRequest(status, reason, key)
