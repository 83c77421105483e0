"""Budgets: parsing a limit, choosing a run's limit, and the one over-budget rule.

Over budget means strictly above the limit, per currency; spending exactly the
limit is fine. Every place that shows or reports it (the PR summary, the spend
check, the run page, the API) asks here, so they cannot disagree. A repository's
monthly budget (`MonthSpend`) applies the same rule to its month-to-date spend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.trail.money import EXACT, Totals, parse_amount, parse_currency
from bot.trail.validation import InvalidInput, at, kind_of


def parse_budget(value: object) -> dict[str, Decimal]:
    """A spending limit per currency, from configuration.

    Either a mapping (``{"USD": "5.00", "USDC": 10}``) or a string of
    ``AMOUNT CURRENCY`` pairs separated by commas (``"5 USD, 10 USDC"``). A currency
    may appear once; a limit of 0 means any spend in that currency is over budget.
    """
    if isinstance(value, str):
        pairs = [_budget_pair(i, part) for i, part in enumerate(value.split(","))]
    elif isinstance(value, Mapping):
        pairs = [
            (str(key), at(str(key), parse_currency, key), at(str(key), parse_amount, limit))
            for key, limit in value.items()
        ]
    else:
        raise InvalidInput("", f'must be an object or a string like "5 USD", not {kind_of(value)}')
    if not pairs:
        raise InvalidInput("", 'must name at least one currency, like "5 USD"')
    budget: dict[str, Decimal] = {}
    for path, currency, limit in pairs:
        if currency in budget:
            raise InvalidInput(path, f"{currency} is given more than once")
        budget[currency] = limit
    return budget


def _budget_pair(index: int, part: str) -> tuple[str, str, Decimal]:
    """One ``AMOUNT CURRENCY`` item of a budget string."""
    path = f"[{index}]"
    words = part.split()
    if len(words) != 2:
        raise InvalidInput(path, f'expected "AMOUNT CURRENCY" like "5 USD", got {part!r}')
    return path, at(path, parse_currency, words[1]), at(path, parse_amount, words[0])


def exceeds(spent: Decimal, limit: Decimal) -> bool:
    """The rule itself: strictly above the limit is over; at the limit is fine."""
    return spent > limit


def over_budget(totals: Totals, budget: Mapping[str, Decimal]) -> list[str]:
    """Currencies whose total is strictly above its limit, sorted."""
    return sorted(
        currency
        for currency, limit in budget.items()
        if exceeds(totals.amounts.get(currency, Decimal(0)), limit)
    )


def stored_exceeds(spent: object, limit: object) -> bool:
    """`exceeds` for one currency's stored amounts; unreadable data is not over."""
    try:
        return exceeds(Decimal(str(spent)), Decimal(str(limit)))
    except (ArithmeticError, ValueError):
        return False


def run_budget(
    run: Mapping[str, Any], kind_budgets: Mapping[str, Mapping[str, Decimal]]
) -> dict[str, Decimal]:
    """The run's own budget, else its kind's budget from the repository configuration."""
    own = run.get("budget") or {}
    if own:
        return {c: Decimal(str(v)) for c, v in own.items()}
    return dict(kind_budgets.get(str(run.get("kind")), {}))


def run_over_budget(run: Mapping[str, Any]) -> list[str]:
    """Currencies whose spend is over the run's own budget (stored data never raises)."""
    try:
        totals = Totals.from_dict(run.get("spend") or {})
        budget = {c: Decimal(str(v)) for c, v in (run.get("budget") or {}).items()}
        return over_budget(totals, budget)
    except (InvalidInput, ArithmeticError, ValueError):
        return []


@dataclass(frozen=True)
class MonthSpend:
    """A repository's spend in one calendar month (UTC) against its monthly budget.

    `spent` is the repository's month-to-date spend from the rollups, which already
    holds this PR's part (`this_pr`) once; months are calendar months in UTC, so a
    spend's month is the UTC date of its `at` time.
    """

    month: str  # "2026-12"
    limit: Mapping[str, Decimal]
    spent: Mapping[str, Decimal] = field(default_factory=dict)
    this_pr: Mapping[str, Decimal] = field(default_factory=dict)

    def used(self, currency: str) -> Decimal:
        return self.spent.get(currency, Decimal(0))

    def repo_over(self) -> list[str]:
        """Currencies in which the repository is over its monthly budget, sorted."""
        return sorted(c for c, limit in self.limit.items() if exceeds(self.used(c), limit))

    def pr_over(self) -> list[str]:
        """Currencies in which this PR takes the repository over its monthly budget: the
        repository is over and this PR spent in that currency this month (a PR that
        spent nothing this month did not take it over)."""
        return [c for c in self.repo_over() if self.this_pr.get(c, Decimal(0)) > 0]

    def before_pr(self, currency: str) -> Decimal:
        """The month-to-date spend without this PR's part."""
        return EXACT.subtract(self.used(currency), self.this_pr.get(currency, Decimal(0)))
