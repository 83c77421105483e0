"""Formatting shared by the renderers (PR summary, spend check, run page).

Written once so a budget or a duration reads the same in the comment, the check
and the page. Pure: imports only the domain.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from bot.trail.money import display_amount
from bot.trail.times import parse_time


def budget_limits(budget: Mapping[str, Decimal]) -> list[str]:
    """A budget's limits for people, sorted by currency: ``["5.00 USD", "10.00 USDC"]``."""
    return [display_amount(v, c) for c, v in sorted(budget.items())]


def span(start: str, end: str) -> str:
    """`3m 07s`-style length between two trail timestamps; `—` when unknown or negative."""
    try:
        seconds = int((parse_time(str(end)) - parse_time(str(start))).total_seconds())
    except ValueError:
        return "—"
    if seconds < 0:
        return "—"
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
