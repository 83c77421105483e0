"""Reading webhook payloads: a field a handler needs and does not find is a 400.

`need(data, "pull_request.head.sha")` names the missing or mistyped field, so GitHub's
delivery log (and anyone replaying payloads) sees exactly what was wrong.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")

_MISSING = object()


class PayloadError(ValueError):
    """A handled event lacks a field it needs (or has it with the wrong type)."""

    def __init__(self, path: str, expected: str) -> None:
        super().__init__(f"payload field {path!r} is missing or not {expected}")
        self.path = path


@functools.lru_cache(maxsize=512)  # handlers name a few dozen fixed paths
def _parts(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def _walk(data: Any, path: str) -> Any:
    node = data
    for part in _parts(path):
        # Parsed JSON is plain dicts: checked first, as the ABC check costs ten times more.
        if not (type(node) is dict or isinstance(node, Mapping)) or part not in node:
            return _MISSING
        node = node[part]
    return node


def need(data: Any, path: str, kind: type[T] = str) -> T:  # type: ignore[assignment]
    """The value at a dotted path, which must be present and of `kind`."""
    value = _walk(data, path)
    if value is _MISSING or value is None or not _is(value, kind):
        raise PayloadError(path, _name(kind))
    return value  # type: ignore[return-value]


def opt(data: Any, path: str, kind: type[T] = str) -> T | None:  # type: ignore[assignment]
    """The value at a dotted path if present, non-null and of `kind`; else None."""
    value = _walk(data, path)
    if value is _MISSING or value is None:
        return None
    if not _is(value, kind):
        raise PayloadError(path, _name(kind))
    return value  # type: ignore[return-value]


def _is(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _name(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        bool: "a boolean",
        dict: "an object",
        list: "a list",
    }.get(kind, kind.__name__)
