"""Run IDs: unique across instances, sortable by creation time, safe in a URL.

A ULID-style value: 48 bits of milliseconds then 80 random bits, written in
Crockford's base32 (lower case), 26 characters. Two instances never need to agree
on anything to mint distinct IDs, and sorting IDs sorts runs by start.
"""

from __future__ import annotations

import os
import re
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
RUN_ID_PATTERN = re.compile(r"^[0-9a-hjkmnp-tv-z]{26}$")


def new_run_id(now_ms: int | None = None) -> str:
    """A fresh run ID; `now_ms` is for tests that need a fixed time."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_run_id(value: str) -> bool:
    return bool(RUN_ID_PATTERN.match(value))
