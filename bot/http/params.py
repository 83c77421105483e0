"""Query parameters of the read API, checked up front: a bad one is a 400 naming it.

Each parser takes the raw string (or None when absent) and returns the value the
store understands, so a handler never passes unchecked text to a query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from multidict import MultiMapping

from bot.http.errors import ApiError
from bot.ids import is_run_id
from bot.trail.events import format_time

REPO_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_WORD = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")


class BadParameter(ApiError):
    """A 400 naming the parameter; the CLI reads `name` and `reason` of the same error."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(400, f"{name} {reason}", parameter=name)
        self.name = name
        self.reason = reason
        self.args = (f"{name}: {reason}",)  # its text, as the CLI prints it


def reject_unknown(query: MultiMapping[str], allowed: Iterable[str]) -> None:
    """A misspelt filter must not silently widen a result."""
    known = set(allowed)
    for name in set(query):
        if name not in known:
            raise BadParameter(name, f"is not a parameter here (known: {', '.join(sorted(known))})")
        if len(query.getall(name)) > 1:
            raise BadParameter(name, "is given more than once")


def integer(raw: str | None, name: str, low: int, high: int, default: int | None = None) -> Any:
    if raw is None:
        return default
    text = raw.strip()
    if not re.fullmatch(r"-?[0-9]{1,19}", text):
        raise BadParameter(name, f"must be an integer, not {_quote(raw)}")
    value = int(text)
    if not low <= value <= high:
        raise BadParameter(name, f"must be between {low} and {high}, not {value}")
    return value


def repo(raw: str | None, name: str = "repo") -> str | None:
    if raw is None:
        return None
    if not REPO_PATTERN.match(raw):
        raise BadParameter(name, f"must look like owner/name, not {_quote(raw)}")
    return raw


def word(raw: str | None, name: str) -> str | None:
    """A kind or status: lower-case letters, digits, `_`, `.` and `-`."""
    if raw is None:
        return None
    if not _WORD.match(raw):
        raise BadParameter(
            name, f"must be a lower-case word like 'pr' or 'running', not {_quote(raw)}"
        )
    return raw


def run_id(raw: str | None, name: str) -> str | None:
    if raw is None:
        return None
    if not is_run_id(raw):
        raise BadParameter(name, f"must be a run ID (26 characters), not {_quote(raw)}")
    return raw


def moment(raw: str | None, name: str) -> str | None:
    """A date (`2024-05-01`) or an ISO 8601 time, as the trail writes times (UTC, ms, Z)."""
    if raw is None:
        return None
    text = raw.strip()
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+", 1))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
        return format_time(parsed)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted out of range
        raise BadParameter(
            name, f"must be a date or ISO 8601 time like 2024-05-01T12:00:00Z, not {_quote(raw)}"
        ) from None


def _quote(raw: str) -> str:
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    return repr(shown)
