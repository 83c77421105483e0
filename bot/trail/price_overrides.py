"""Operator and repository price overrides: parsed exactly, refused with a path.

One grammar for both places. An entry names a model, optionally scoped to a
provider (`PROVIDER MODEL`, one space: model ids never hold spaces), and its USD
prices per million tokens: `input` and `output` are required, `cache_read`,
`cache_write` and `reasoning` optional (absent, those tokens cost the input or
output rate, see `bot.trail.pricing`).

    AUDIT_MODEL_PRICES="my-llm = input 0.1, output 0.4; openai gpt-4o = input 2, output 8"

    pricing:                       # .github/audit-bot.yml
      my-llm: {input: 0.1, output: 0.4}
      openai gpt-4o: input 2, output 8, cache_read 0.5
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from bot.trail.money import parse_amount
from bot.trail.pricing import RATES, REQUIRED_RATES, Override, Overrides
from bot.trail.validation import InvalidInput, at, kind_of, require_mapping

ENTRY_HINT = '"[PROVIDER ]MODEL = input AMOUNT, output AMOUNT[, cache_read AMOUNT …]"'
RATES_HINT = '"input AMOUNT, output AMOUNT" or {input: AMOUNT, output: AMOUNT}'
MAX_KEY_CHARS = 200


def parse_price_overrides(value: object) -> Overrides:
    """`AUDIT_MODEL_PRICES`'s string (`;`-separated entries) or the YAML mapping."""
    if isinstance(value, str):
        items = [_entry(i, part) for i, part in enumerate(value.split(";")) if part.strip()]
    elif isinstance(value, Mapping):
        items = [(str(key), str(key), rates) for key, rates in value.items()]
    else:
        raise InvalidInput(
            "", f"must be a mapping or a string like {ENTRY_HINT}, not {kind_of(value)}"
        )
    entries: list[Override] = []
    seen: set[tuple[str, str | None]] = set()
    for path, key, rates in items:
        model, provider = at(path, parse_model_key, key)
        if (model, provider) in seen:
            raise InvalidInput(path, "is given more than once")
        seen.add((model, provider))
        entries.append(Override(model, provider, at(path, parse_rates, rates)))
    return Overrides(tuple(entries))


def _entry(index: int, part: str) -> tuple[str, str, str]:
    """One `KEY = RATES` entry of the string form; the path is its position."""
    key, equals, rates = part.partition("=")
    if not equals or not key.strip() or not rates.strip():
        raise InvalidInput(f"[{index}]", f"expected {ENTRY_HINT}, got {part.strip()!r}")
    return f"[{index}]", key.strip(), rates


def parse_model_key(value: object) -> tuple[str, str | None]:
    """`MODEL` or `PROVIDER MODEL`, both lower-cased (the table matches case-blind)."""
    words = str(value).split()
    if not 1 <= len(words) <= 2 or len(str(value)) > MAX_KEY_CHARS:
        raise InvalidInput("", 'must be a model id, or "PROVIDER MODEL" (one space)')
    if len(words) == 1:
        return words[0].lower(), None
    return words[1].lower(), words[0].lower()


def parse_rates(value: object) -> dict[str, Decimal]:
    """Rate name → exact USD per million tokens; input and output are required."""
    if isinstance(value, str):
        pairs = [_rate_pair(i, part) for i, part in enumerate(value.split(","))]
    elif isinstance(value, Mapping):
        pairs = [(str(k), str(k), v) for k, v in value.items()]
    else:
        raise InvalidInput("", f"must be {RATES_HINT}, not {kind_of(value)}")
    rates: dict[str, Decimal] = {}
    for path, name, amount in pairs:
        if name not in RATES:
            raise InvalidInput(path, f"{name!r} is not a rate (expected {', '.join(RATES)})")
        if name in rates:
            raise InvalidInput(path, f"{name} is given more than once")
        rates[name] = at(path, parse_amount, amount)
    missing = [name for name in REQUIRED_RATES if name not in rates]
    if missing:
        raise InvalidInput("", f"needs {' and '.join(missing)} (USD per million tokens)")
    return rates


def _rate_pair(index: int, part: str) -> tuple[str, str, str]:
    words = part.split()
    if len(words) != 2:
        raise InvalidInput(
            f"[{index}]", f'expected "RATE AMOUNT" like "input 2.5", got {part.strip()!r}'
        )
    return f"[{index}]", words[0].lower(), words[1]


def require_overrides(value: object) -> Overrides:
    """For YAML: `pricing:` must be a mapping (an empty one is fine)."""
    return parse_price_overrides(require_mapping(value or {}))
