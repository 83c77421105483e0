"""Trail times that stay in order when the wall clock steps back (pure).

An NTP step or a restored VM moves `time.time()` back; without these, an event
recorded afterwards would carry a time before its predecessor's and a run could end
before it started.
"""

from __future__ import annotations

from datetime import timedelta

from bot.trail.events import parse_time

# A previous time further ahead of now than this is not trusted as a floor: an event's
# `at` can come from a payload, and one must not drag every later time into the future.
MAX_STEP_BACK = timedelta(days=1)


def not_before(at: str, floor: str | None) -> str:
    """`at`, or `floor` when `at` is earlier; `at` when either does not parse."""
    if not floor:
        return at
    try:
        return floor if parse_time(floor) > parse_time(at) else at
    except ValueError:
        return at


def recorded_after(now: str, previous: str | None) -> str:
    """When an event is recorded: now, but never before the run's previous event,
    unless that one lies more than `MAX_STEP_BACK` ahead (a payload's time, not ours)."""
    if not previous:
        return now
    if _same_form(previous, now) and previous <= now:
        return now  # the usual case, without parsing: the clock did not step back
    try:
        if parse_time(previous) - parse_time(now) > MAX_STEP_BACK:
            return now
    except ValueError:
        return now
    return not_before(now, previous)


def _same_form(a: str, b: str) -> bool:
    """Both written as the trail writes times (`2026-01-02T03:04:05.678Z`): fixed width
    and UTC, so comparing the text compares the times."""
    return len(a) == len(b) == 24 and a[23] == b[23] == "Z" and a[10] == b[10] == "T"
