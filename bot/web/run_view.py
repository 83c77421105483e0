"""What the run page shows, gathered by `bot.web.pages` and rendered by the run_* modules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.trail.events import Event
from bot.web.chart import SpendSeries


@dataclass(frozen=True)
class LogMark:
    """Where the run's head event stands in the transparency log (`bot.store.log`)."""

    size: int | None  # the latest signed checkpoint's size, if it includes the head; else None
    at: str | None = None  # when that checkpoint was signed
    proof_url: str | None = None  # the inclusion proof against it


@dataclass(frozen=True)
class RunView:
    """What the run page shows: the stored state plus what rendering found."""

    state: Mapping[str, Any]
    recent: Sequence[Event]  # the newest events, oldest first (the timeline)
    spend: SpendSeries  # the spend events, gathered for the chart
    count: int
    verified: bool
    problem: str | None  # the first divergence, if any
    github: str  # GitHub's web base URL
    pr_link: str | None  # the PR page (with its token when the reader holds it)
    events_url: str  # the SSE / NDJSON URL (with the run's token when needed)
    live_url: str  # the fragment URL for live updates
    continued_after: int = 0  # 0: the whole trail was rehashed now; else events up to it earlier
    rehash_bound: float = 0.0  # ...at most this many seconds ago (bot/web/verified.py)
    log: LogMark | None = None  # None: not looked up (the page says nothing about the log)
