"""Single values as the pages show them: times, durations, statuses, amounts, links.

Shared by the run page's parts and the PR page. Pure: stored values in, escaped
text or markup out; unreadable stored data shows as itself, never breaks a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.render.format import span
from bot.trail.money import display_amount
from bot.trail.times import parse_time
from bot.web.html import Markup, Template

STATUS_CLASSES = {
    "succeeded": "good",
    "approved": "good",
    "merged": "done",
    "failed": "bad",
    "changes_requested": "bad",
    "running": "active",
    "open": "active",
    "requested": "active",
}


def when(value: Any) -> str:
    """`2019-05-15 15:20:33` (UTC) from a stored time; the raw text if unreadable."""
    if not value:
        return "—"
    try:
        return parse_time(str(value)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value)


def time_tag(value: Any) -> Markup:
    if not value:
        return Markup("—")
    return Template('<time datetime="$iso">$shown</time>').render(iso=value, shown=when(value))


def duration(state: Mapping[str, Any]) -> str:
    end = state.get("finished_at") or state.get("ended_at")
    start = state.get("started_at")
    if not start:
        return "—"
    if not end:
        return "still open"
    return span(start, end)


def status_badge(status: Any) -> Markup:
    text = str(status or "open")
    tone = STATUS_CLASSES.get(text, "quiet")
    return Template('<span class="status $tone" data-status="$text">$text</span>').render(
        tone=tone, text=text
    )


def amount(value: Any, currency: str) -> str:
    try:
        return display_amount(Decimal(str(value)), currency)
    except (InvalidOperation, ValueError):
        return f"{value} {currency}"


def short(sha: Any, n: int = 7) -> str:
    return str(sha)[:n] if sha else "—"


def github_web(api_url: str) -> str:
    """GitHub's web base for an API base: api.github.com → github.com; GHES strips /api/v3."""
    base = api_url.rstrip("/")
    if base == "https://api.github.com":
        return "https://github.com"
    return base.removesuffix("/api/v3")


def with_param(url: str, param: str) -> str:
    """`url` with one more query parameter."""
    return url + ("&" if "?" in url else "?") + param
