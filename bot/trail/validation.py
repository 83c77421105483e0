"""Input errors that say where: the one exception for refused input, and the helpers
that parse a field and prefix any complaint with its path.

One exception type for all validation (amounts, proofs, rates, configuration), so
the web layer can turn any of them into the same 4xx body without knowing which
parser complained. Pure: imports nothing of the bot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TypeVar

T = TypeVar("T")


class InvalidInput(ValueError):
    """Input the bot refuses: ``path`` says where (``"amount"``), ``reason`` says why.

    One exception type for all validation, so the web layer can turn any of them into
    the same 4xx body without knowing which parser complained.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason

    def under(self, prefix: str) -> InvalidInput:
        """The same error seen from an enclosing object (``spend`` + ``amount``)."""
        return InvalidInput(join_path(prefix, self.path), self.reason)


def join_path(prefix: str, path: str) -> str:
    """Join path parts with dots; list indexes (``[0]``) attach without one."""
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix + path if path.startswith("[") else f"{prefix}.{path}"


def at(path: str, parse: Callable[[object], T], value: object) -> T:
    """Run a parser and prefix any complaint with where the value was found."""
    try:
        return parse(value)
    except InvalidInput as error:
        raise error.under(path) from None


def kind_of(value: object) -> str:
    """JSON's name for a value's type, for messages a reporter can act on."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def parse_text(value: object, limit: int, *, multiline: bool = False) -> str:
    """Free text the bot will store and render: bounded, printable, encodable.

    Lone surrogates are refused because canonical JSON could not encode them as
    UTF-8 and the event could never be hashed.
    """
    if not isinstance(value, str):
        raise InvalidInput("", f"must be a string, not {kind_of(value)}")
    if not value:
        raise InvalidInput("", "must not be empty (leave the field out instead)")
    if len(value) > limit:
        raise InvalidInput("", f"too long: {len(value)} characters, at most {limit}")
    allowed = "\n\t" if multiline else ""
    for char in value:
        if (ord(char) < 32 or ord(char) == 127) and char not in allowed:
            raise InvalidInput("", f"contains a control character ({ord(char):#04x})")
        if "\ud800" <= char <= "\udfff":
            raise InvalidInput("", "contains invalid Unicode (a lone surrogate)")
    return value


def require_mapping(value: object) -> Mapping[str, object]:
    """The top of a record must be a JSON object."""
    if not isinstance(value, Mapping):
        raise InvalidInput("", f"must be an object, not {kind_of(value)}")
    return value


def reject_unknown(data: Mapping[str, object], allowed: tuple[str, ...]) -> None:
    """Name the first unexpected key, so a typo (``ammount``) is not silently dropped."""
    for key in data:
        if key not in allowed:
            raise InvalidInput(str(key), f"unknown field; expected one of: {', '.join(allowed)}")


def required(data: Mapping[str, object], key: str, parse: Callable[[object], T]) -> T:
    """Parse a field that must be present and not null."""
    if data.get(key) is None:
        raise InvalidInput(key, "is required")
    return at(key, parse, data[key])


def optional(data: Mapping[str, object], key: str, parse: Callable[[object], T]) -> T | None:
    """Parse a field that may be absent or null (both mean "not given")."""
    if data.get(key) is None:
        return None
    return at(key, parse, data[key])
