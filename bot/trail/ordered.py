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
    if _surely_not_after(floor, at):
        return at  # no parsing in the usual case: the floor lies before
    try:
        return floor if parse_time(floor) > parse_time(at) else at
    except ValueError:
        return at


def recorded_after(now: str, previous: str | None) -> str:
    """When an event is recorded: now, but never before the run's previous event,
    unless that one lies more than `MAX_STEP_BACK` ahead (a payload's time, not ours)."""
    if not previous:
        return now
    if _surely_not_after(previous, now):
        return now  # the usual case, without parsing: the clock did not step back
    try:
        if parse_time(previous) - parse_time(now) > MAX_STEP_BACK:
            return now
    except ValueError:
        return now
    return not_before(now, previous)


def _surely_not_after(a: str, b: str) -> bool:
    """True when `a` is a time no later than `b` by their text alone: both written in
    UTC with `Z` (`2026-01-02T03:04:05Z`, with or without `.678`), and `a`'s date and
    time to the second before `b`'s, or `a` the same text as `b`. False means "parse
    them": anything else, including equal seconds with different fractions. (Where a
    text is no time at all, the callers' answer is the one they give when parsing
    fails, so this shortcut answers as they would.)"""
    if a == b:
        return True
    return _utc_z(a) and _utc_z(b) and a[:19] < b[:19]


def _utc_z(value: str) -> bool:
    return len(value) >= 20 and value[-1] == "Z" and value[10] == "T" and value[19] in ".Z"
