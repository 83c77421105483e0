"""Run IDs: unique across instances, sortable by creation time, safe in a URL.

A ULID-style value: 48 bits of milliseconds then 80 random bits, written in
Crockford's base32 (lower case), 26 characters. Two instances never need to agree
on anything to mint distinct IDs, and sorting IDs sorts runs by start.

Within one process IDs only grow, even when the wall clock steps back (an NTP step,
a VM restored): a run created after the step must not sort as the oldest. Then the
last ID's milliseconds are kept and its random part is incremented, as ULID's
monotonic mode does.
"""

from __future__ import annotations

import os
import re
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
RUN_ID_PATTERN = re.compile(r"^[0-9a-hjkmnp-tv-z]{26}$")


_RANDOM_BITS = 80


class _Minted:
    """The last ID minted in this process (an integer), under a lock: SQLite's writer
    thread and the event loop both mint IDs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last = 0


_MINTED = _Minted()


def new_run_id(now_ms: int | None = None) -> str:
    """A fresh run ID, greater than any this process minted before.

    `now_ms` is the caller's clock (the store writer's), else `time.time()`.
    """
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    value = (millis << _RANDOM_BITS) | int.from_bytes(os.urandom(10), "big")
    with _MINTED.lock:
        if value <= _MINTED.last:  # the clock stepped back, or the same millisecond
            value = _MINTED.last + 1
        _MINTED.last = value
    return _encode(value)


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_run_id(value: str) -> bool:
    return bool(RUN_ID_PATTERN.match(value))
