"""What a delivery or API call wants written, said without touching the store.

Handlers turn payloads into intents; the store carries them out in one transaction,
resolving selectors against the runs it holds. Keeping this declarative is what lets
the handlers stay pure and both stores (SQLite, PostgreSQL) share one meaning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.trail.events import NewEvent, Source


@dataclass(frozen=True)
class RunSpec:
    """The identity of a run to open."""

    kind: str  # "pr" | "review" | "ci" | "agent" | ...
    repo: str  # owner/name
    pr: int | None
    head_sha: str | None
    name: str | None = None
    installation_id: int | None = None
    private: bool | None = None
    opened_data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenRun:
    """Append `events` to the open run with `key`, opening it first if there is none.

    `key` is the run's natural key (for example PR + head SHA); several runs may share
    a key over time (a reopened PR), but at most one of them is open.
    """

    key: str
    spec: RunSpec
    events: Sequence[NewEvent] = ()
    opened_at: str | None = None


@dataclass(frozen=True)
class ById:
    run_id: str


@dataclass(frozen=True)
class ByKey:
    """The newest run with a natural key, or the newest open one."""

    key: str
    open_only: bool = False


@dataclass(frozen=True)
class OpenRunsOfPR:
    """Every open run of a PR, optionally of some kinds, optionally not on one head."""

    repo: str
    pr: int
    kinds: frozenset[str] | None = None
    exclude_head_sha: str | None = None


@dataclass(frozen=True)
class LatestByHead:
    """The newest run of `kind` on a head SHA, open or not: CI attaches to it."""

    repo: str
    head_sha: str
    kind: str = "pr"


Selector = ById | ByKey | OpenRunsOfPR | LatestByHead


@dataclass(frozen=True)
class Append:
    """Append `events` to every run the selector finds (possibly none)."""

    target: Selector
    events: Sequence[NewEvent]
    require_open: bool = False
    # Skip a run whose CI job with this id is already completed: a completion GitHub
    # delivers twice (two delivery ids) must not bill the job's minutes twice.
    unless_job_completed: int | None = None


@dataclass(frozen=True)
class BotLog:
    """A bot-level record (installation changes, pings, pruning) outside any run."""

    kind: str
    data: Mapping[str, Any]


Intent = OpenRun | Append | BotLog


@dataclass(frozen=True)
class Command:
    """One atomic write: a delivery or an API call, deduplicated by `source.id`."""

    source: Source
    intents: Sequence[Intent]
    outcome: str = "recorded"  # what to record for the delivery when nothing is written
    response: Mapping[str, Any] | None = None  # stored for idempotent API replies


@dataclass
class CommandResult:
    """What a committed command did; `duplicate` means it had been applied before."""

    outcome: str = "recorded"  # recorded | logged | unmatched | ignored | duplicate
    runs: list[str] = field(default_factory=list)  # run ids touched, in order
    opened: list[str] = field(default_factory=list)  # run ids created
    events: int = 0
    prs: list[tuple[str, int]] = field(default_factory=list)  # (repo, pr) to refresh
    response: Mapping[str, Any] | None = None  # the stored reply of the first application

    @property
    def duplicate(self) -> bool:
        """Applied before (same delivery id or idempotency key): this time nothing changed."""
        return self.outcome == "duplicate"
