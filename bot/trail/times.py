"""The trail's times: how they are written (ISO 8601, UTC, milliseconds, `Z`) and read.

Its own module so that code reading GitHub's timestamps (tokens, redeliveries, the
pages) need not load the event chain. Pure: imports nothing of the bot.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> str:
    """The current time as the trail writes it: ISO 8601, UTC, milliseconds, `Z`."""
    return format_time(datetime.now(UTC))


def format_time(moment: datetime) -> str:
    """A moment as the trail writes it (any zone in, UTC with `Z` out)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def parse_time(value: str) -> datetime:
    """Parse GitHub's and our own ISO 8601 timestamps (`Z` or an offset).

    ValueError for anything that is not one, including a time that only exists outside
    years 1-9999 once in UTC (`9999-12-31T23:59-01:00`), which a signed payload may carry.
    """
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value!r} is outside the years 1-9999 in UTC") from None
