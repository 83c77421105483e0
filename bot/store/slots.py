"""Sliding-window write budgets: the rule alone, shared by the pacer and the stores.

The stores apply it inside the transaction that counts a write, so instances sharing
one database agree on it; `bot/github/pacing.py` is where writes ask for a slot.
"""

from __future__ import annotations

from collections.abc import Sequence

Windows = tuple[tuple[int, float], ...]  # (writes, seconds) limits, all of which apply


def next_free(sent: Sequence[float], now: float, windows: Windows) -> float:
    """When the next write may go (`now` or later), given earlier writes' times, ascending."""
    free = now
    for limit, seconds in windows:
        in_window = [t for t in sent if t > now - seconds]
        if len(in_window) >= limit:
            # The slot frees when the oldest write that still counts leaves the window.
            free = max(free, in_window[len(in_window) - limit] + seconds)
    return free
