"""Trail events, their canonical JSON and the hash chain.

Each stored event has `hash = sha256(prev_hash ‖ canonical JSON of the event)`, so the
head hash of a run pins every event before it: an edit, deletion or reordering
anywhere in the trail changes the head, which the PR summary publishes on GitHub.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

# Re-exported: the trail's events carry these times, and the store writes them.
from bot.trail.times import format_time as format_time
from bot.trail.times import parse_time as parse_time
from bot.trail.times import utc_now as utc_now

GENESIS_HASH = "0" * 64

# Event types. Handlers and the reporter API produce only these.
RUN_OPENED = "run.opened"
RUN_CLOSED = "run.closed"
RUN_SUPERSEDED = "run.superseded"
PR_UPDATED = "pr.updated"
CI_WORKFLOW_RUN = "ci.workflow_run"
CI_WORKFLOW_JOB = "ci.workflow_job"
CI_CHECK_SUITE = "ci.check_suite"
REVIEW_REQUESTED = "review.requested"
REVIEW_SUBMITTED = "review.submitted"
REVIEW_DISMISSED = "review.dismissed"
STEP_STARTED = "step.started"
STEP_FINISHED = "step.finished"
SPEND = "spend"
PROOF = "proof"
NOTE = "note"

EVENT_TYPES = frozenset(
    {
        RUN_OPENED,
        RUN_CLOSED,
        RUN_SUPERSEDED,
        PR_UPDATED,
        CI_WORKFLOW_RUN,
        CI_WORKFLOW_JOB,
        CI_CHECK_SUITE,
        REVIEW_REQUESTED,
        REVIEW_SUBMITTED,
        REVIEW_DISMISSED,
        STEP_STARTED,
        STEP_FINISHED,
        SPEND,
        PROOF,
        NOTE,
    }
)


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value that hashing relies on.

    Sorted keys, no insignificant whitespace, UTF-8; types JSON has no word for are
    refused (money and times are strings in the trail, so no two machines can
    disagree on a digit).

    The bytes are the standard library's (`json.dumps(sort_keys=True, separators=(",",
    ":"), ensure_ascii=False)`), which every stored hash was computed from. orjson
    writes the same bytes ten times faster for the values events are made of (exact
    dicts, lists, strings, integers, booleans and null), so it writes those; anything
    else (a float, whose digits the two write differently, a subclass, an integer
    past 64 bits, a non-string key) goes the standard library's way.
    """
    if _plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # a huge integer, a lone surrogate: as before
            pass
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_refuse
    ).encode()


_SCALARS = frozenset({str, int, bool, type(None)})


def _plain(value: Any) -> bool:
    """Whether `value` is built only of exact dicts with string keys, lists, strings,
    integers, booleans and null: the values orjson and json write byte for byte alike.
    (A loop over a stack, not recursion: this runs for every event sealed or checked.)"""
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        kind = type(node)
        if kind in _SCALARS:
            continue
        if kind is dict:
            for key, item in node.items():
                if type(key) is not str:
                    return False
                if type(item) not in _SCALARS:
                    push(item)
        elif kind is list:
            stack.extend(node)
        else:
            return False
    return True


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not allowed in a trail event")


@dataclass(frozen=True)
class Source:
    """Where an event came from, so it can be traced back: a delivery or an API call."""

    kind: str  # "webhook" | "api" | "import" | "bot"
    id: str  # X-GitHub-Delivery, or the API idempotency key / request id
    event: str | None = None  # GitHub event name, or the API route
    action: str | None = None
    actor: str | None = None  # who reported it (credential subject), for API calls

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Source:
        return cls(
            kind=str(data["kind"]),
            id=str(data["id"]),
            event=data.get("event"),
            action=data.get("action"),
            actor=data.get("actor"),
        )


@dataclass(frozen=True)
class NewEvent:
    """An event a handler wants appended; the store gives it a seq and a hash."""

    type: str
    data: Mapping[str, Any] = field(default_factory=dict)
    at: str | None = None  # when it happened, if the source says; else when recorded

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}")


@dataclass(frozen=True)
class Event:
    """A committed trail event."""

    run_id: str
    seq: int
    type: str
    at: str
    recorded_at: str
    source: Mapping[str, Any]
    data: Mapping[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """The hashed part of the event (everything but the chain fields)."""
        return {
            "run_id": self.run_id,
            "seq": self.seq,
            "type": self.type,
            "at": self.at,
            "recorded_at": self.recorded_at,
            "source": dict(self.source),
            "data": dict(self.data),
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.body(), "prev_hash": self.prev_hash, "hash": self.hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        return cls(
            run_id=data["run_id"],
            seq=int(data["seq"]),
            type=data["type"],
            at=data["at"],
            recorded_at=data["recorded_at"],
            source=data["source"],
            data=data["data"],
            prev_hash=data["prev_hash"],
            hash=data["hash"],
        )


def chain_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical_json(body)).hexdigest()


def seal(
    run_id: str,
    seq: int,
    new: NewEvent,
    source: Source,
    recorded_at: str,
    prev_hash: str,
) -> Event:
    """Turn a `NewEvent` into the committed `Event` that follows `prev_hash`."""
    body = {
        "run_id": run_id,
        "seq": seq,
        "type": new.type,
        "at": new.at or recorded_at,
        "recorded_at": recorded_at,
        "source": source.as_dict(),
        "data": dict(new.data),
    }
    return Event(
        run_id=run_id,
        seq=seq,
        type=new.type,
        at=body["at"],
        recorded_at=recorded_at,
        source=body["source"],
        data=body["data"],
        prev_hash=prev_hash,
        hash=chain_hash(prev_hash, body),
    )


@dataclass(frozen=True)
class ChainBreak:
    """The first place a trail stops verifying, and why."""

    seq: int
    reason: str


def verify_chain(events: Iterable[Event], expected_run: str | None = None) -> ChainBreak | None:
    """Check seqs are 1..n without gaps and every hash links; None when the chain holds."""
    prev = GENESIS_HASH
    for seq, event in enumerate(events, start=1):
        broken = check_link(event, seq, prev, expected_run)
        if broken is not None:
            return broken
        prev = event.hash
    return None


def check_link(
    event: Event, seq: int, prev_hash: str, expected_run: str | None = None
) -> ChainBreak | None:
    """Whether `event` is event `seq` (of `expected_run`) and follows `prev_hash`.

    One link of `verify_chain`, on its own so a reader that verified a trail up to
    some event can check only what was appended since.
    """
    if expected_run is not None and event.run_id != expected_run:
        return ChainBreak(event.seq, f"event belongs to run {event.run_id}")
    if event.seq != seq:
        reason = "missing" if event.seq > seq else "out of order or repeated"
        return ChainBreak(seq, f"event {seq} is {reason}")
    if event.prev_hash != prev_hash:
        return ChainBreak(event.seq, "previous hash does not link (deleted or reordered)")
    if chain_hash(prev_hash, event.body()) != event.hash:
        return ChainBreak(event.seq, "hash does not match its content (edited)")
    return None
