"""What every handler receives beside the event: where to put its intents."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.handlers.payload import need, opt
from bot.trail.events import Source
from bot.trail.intents import Intent, RunSpec


@dataclass(frozen=True)
class PlanOptions:
    """Operator settings a handler may need, passed in rather than read from globals."""

    ci_rates: Mapping[str, Any] = field(default_factory=dict)  # bot.trail.rates overrides


@dataclass
class Plan:
    """The intents a delivery produces; handlers append to it."""

    source: Source
    intents: list[Intent] = field(default_factory=list)
    handled: bool = False
    options: PlanOptions = field(default_factory=PlanOptions)

    def add(self, *intents: Intent) -> None:
        self.intents.extend(intents)
        self.handled = True


def repo_of(data: Any) -> str:
    return need(data, "repository.full_name")


def installation_of(data: Any) -> int | None:
    return opt(data, "installation.id", int)


def private_of(data: Any) -> bool | None:
    return opt(data, "repository.private", bool)


def spec_for_pr(data: Any, kind: str, name: str | None = None, **opened: Any) -> RunSpec:
    """A run spec for a PR-scoped run from a `pull_request`-shaped payload."""
    return RunSpec(
        kind=kind,
        repo=repo_of(data),
        pr=need(data, "pull_request.number", int),
        head_sha=need(data, "pull_request.head.sha"),
        name=name,
        installation_id=installation_of(data),
        private=private_of(data),
        opened_data={k: v for k, v in opened.items() if v is not None},
    )
