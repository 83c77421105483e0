"""Exact money for the trail: amounts, currencies, spend records and totals.

Budgets (limits and the over-budget rule) live in `bot.trail.budget`.

Amounts are ``Decimal`` from the request body to the summary comment. Floats never
enter (the caller parses JSON with ``parse_float=Decimal``), so 0.1 + 0.2 is 0.3 and
any total can be recomputed from the trail to the last digit. In stored events an
amount is a canonical string (``canonical_amount``), which canonical JSON can hash.

Bad input raises ``InvalidInput`` (from `bot.trail.validation`) and nothing else, so
the shell can answer 4xx.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, Rounded

from bot.trail import validation
from bot.trail.validation import InvalidInput, at, kind_of

MAX_INTEGER_DIGITS = 30
MAX_DECIMAL_PLACES = 18
MAX_AMOUNT_CHARS = 100  # checked before parsing, so a huge string costs nothing
MAX_TOKENS = 10**15
# Currencies one run may spend in through the reporter API. Each is a row of the spend
# table and a chart on the run page, so a run cannot make its page (or its stored state)
# grow without bound. CI minutes from webhooks (USD) are never refused: a run holds at
# most this many reported currencies plus USD.
MAX_CURRENCIES_PER_RUN = 20

CATEGORIES = ("llm", "ci", "payment", "api", "other")
SPEND_FIELDS = (
    "amount",
    "currency",
    "category",
    "input_tokens",
    "output_tokens",
    "model",
    "unit_price",
    "description",
    # priced by bot.trail.priced_spend when amount is left out
    "provider",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)

# Arithmetic that would have to round raises instead of drifting. Amounts have at
# most 48 significant digits, so sums stay far below this precision.
EXACT = Context(prec=200, traps=[Inexact, Rounded, Overflow, InvalidOperation])

_PLAIN_AMOUNT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_EXPONENT_AMOUNT = re.compile(r"[-+]?[0-9]*\.?[0-9]+[eE][-+]?[0-9]+")
_NOT_FINITE = frozenset({"nan", "snan", "inf", "infinity", "-inf", "-infinity", "+inf"})
_CURRENCY = re.compile(r"[A-Z][A-Z0-9]{1,10}")


# --- amounts -----------------------------------------------------------------------


def parse_amount(value: object) -> Decimal:
    """A non-negative exact amount from a JSON string or exact number.

    Strings must be plain decimal notation (``"0.10"``, ``"12"``): no exponent, sign,
    spaces or thousands separators, so what a person reads is what is recorded.
    Floats are refused because they have already lost digits; ints and Decimals
    (JSON parsed with ``parse_float=Decimal``) are exact. The result has trailing
    zeros stripped and ``-0`` turned into ``0``.
    """
    if isinstance(value, bool):
        raise InvalidInput("", "must be an amount, not a boolean")
    if isinstance(value, float):
        raise InvalidInput("", "use a string or exact number, not a float")
    if isinstance(value, int):
        return _checked(_decimal_from_int(value))
    if isinstance(value, Decimal):
        return _checked(value)
    if isinstance(value, str):
        return _checked(_decimal_from_text(value))
    raise InvalidInput("", f'must be an amount like "0.10", not {kind_of(value)}')


def _decimal_from_int(value: int) -> Decimal:
    """Bound the size before converting, so a giant integer is refused cheaply."""
    if value < 0:
        raise InvalidInput("", "must not be negative")
    if value >= 10**MAX_INTEGER_DIGITS:
        raise InvalidInput("", f"absurdly large: more than {MAX_INTEGER_DIGITS} digits")
    return Decimal(value)


def _decimal_from_text(text: str) -> Decimal:
    """Accept plain decimal notation only, with a reason for each common mistake."""
    if not text:
        raise InvalidInput("", "must not be empty")
    if len(text) > MAX_AMOUNT_CHARS:
        raise InvalidInput("", f"too long: more than {MAX_AMOUNT_CHARS} characters")
    if text != text.strip():
        raise InvalidInput("", "must not have spaces around it")
    if text.lower() in _NOT_FINITE:
        raise InvalidInput("", "must be a finite number")
    if _EXPONENT_AMOUNT.fullmatch(text):
        raise InvalidInput("", "use plain decimal notation (like 0.001), not an exponent")
    if not _PLAIN_AMOUNT.fullmatch(text):
        raise InvalidInput("", "must be a plain decimal number like 0.10")
    return Decimal(text)


def _checked(amount: Decimal) -> Decimal:
    """Refuse non-finite, negative and absurd amounts; return the trimmed value."""
    if not amount.is_finite():
        raise InvalidInput("", "must be a finite number")
    if amount < 0:
        raise InvalidInput("", "must not be negative")
    digits, exponent = _trimmed(amount)
    if -exponent > MAX_DECIMAL_PLACES:
        raise InvalidInput("", f"absurdly precise: more than {MAX_DECIMAL_PLACES} decimal places")
    if _integer_digits(digits, exponent) > MAX_INTEGER_DIGITS:
        raise InvalidInput("", f"absurdly large: more than {MAX_INTEGER_DIGITS} digits")
    return Decimal((0, digits, exponent))


def _trimmed(amount: Decimal) -> tuple[tuple[int, ...], int]:
    """Digits and exponent without trailing fractional zeros; zero is ``((0,), 0)``.

    Done on the digit tuple rather than with ``normalize()``, which rounds to the
    context precision and would silently change a 40-digit amount.
    """
    _, digit_tuple, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite amounts only
    digits = list(digit_tuple)
    if not any(digits):
        return (0,), 0
    while exponent < 0 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    return tuple(digits), exponent


def _integer_digits(digits: tuple[int, ...], exponent: int) -> int:
    """How many digits the amount has before the decimal point."""
    if digits == (0,):
        return 0
    return max(len(digits) + exponent, 0)


def canonical_amount(amount: Decimal) -> str:
    """The one string form of an amount: exact, no exponent, no trailing zeros.

    ``0`` for zero (also ``-0``), ``0.1`` for ``0.10``, ``100`` for ``1E+2``. Stored
    events use it so equal amounts hash equally.
    """
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {amount}")
    digits, exponent = _trimmed(amount)
    sign = 1 if amount < 0 and digits != (0,) else 0
    return format(Decimal((sign, digits, exponent)), "f")


def display_amount(amount: Decimal, currency: str) -> str:
    """Amount for people: at least two decimals, all significant ones, no grouping.

    ``0.00 USD``, ``0.10 USD``, ``1.25 USDC``, ``0.0004 USD``. Thousands are not
    grouped so the text is unambiguous in every locale and easy to copy.
    """
    text = canonical_amount(amount)
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')} {currency}"


# --- currencies and records --------------------------------------------------------


def parse_currency(value: object) -> str:
    """An ISO 4217 code (``USD``) or a token symbol (``USDC``, ``WETH``), uppercased.

    Accepted in any case and stored uppercase, so ``usdc`` and ``USDC`` total
    together: 2–11 ASCII letters or digits, starting with a letter.
    """
    if not isinstance(value, str):
        raise InvalidInput("", f'must be a currency code like "USD", not {kind_of(value)}')
    code = value.upper() if value.isascii() else value
    if not _CURRENCY.fullmatch(code):
        raise InvalidInput(
            "",
            "must be a currency code like USD or a token symbol like USDC "
            "(2-11 letters or digits, starting with a letter)",
        )
    return code


def parse_category(value: object) -> str:
    """One of ``CATEGORIES``, in any case, stored lowercase."""
    if isinstance(value, str) and value.isascii() and value.lower() in CATEGORIES:
        return value.lower()
    raise InvalidInput("", f"must be one of {', '.join(CATEGORIES)}")


def parse_count(value: object) -> int:
    """A non-negative whole number of tokens; booleans and decimals are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("", f"must be a whole number, not {kind_of(value)}")
    if value < 0:
        raise InvalidInput("", "must not be negative")
    if value > MAX_TOKENS:
        raise InvalidInput("", f"absurdly large: more than {MAX_TOKENS}")
    return value


def parse_spend(data: object) -> dict[str, str | int]:
    """Validate one spend record into a dict ready for canonical JSON.

    Keys: ``amount`` (canonical string) and ``currency`` always; ``category``
    (default ``"other"``) always; ``input_tokens``, ``output_tokens``, ``model``,
    ``unit_price`` (canonical string, same currency) and ``description`` only when
    given; likewise ``provider`` and the cache and reasoning token counts, which
    ``bot.trail.priced_spend`` uses to price a record sent without an amount.
    Absent optional fields are left out rather than stored as null.
    """
    record = validation.require_mapping(data)
    validation.reject_unknown(record, SPEND_FIELDS)
    spend: dict[str, str | int] = {
        "amount": canonical_amount(validation.required(record, "amount", parse_amount)),
        "currency": validation.required(record, "currency", parse_currency),
        "category": validation.optional(record, "category", parse_category) or "other",
    }
    extras: dict[str, str | int | None] = {
        "input_tokens": validation.optional(record, "input_tokens", parse_count),
        "output_tokens": validation.optional(record, "output_tokens", parse_count),
        "model": validation.optional(record, "model", lambda v: validation.parse_text(v, 200)),
        "unit_price": _optional_amount(record, "unit_price"),
        "description": validation.optional(
            record, "description", lambda v: validation.parse_text(v, 500, multiline=True)
        ),
        "provider": validation.optional(
            record, "provider", lambda v: validation.parse_text(v, 100)
        ),
        "cache_read_tokens": validation.optional(record, "cache_read_tokens", parse_count),
        "cache_write_tokens": validation.optional(record, "cache_write_tokens", parse_count),
        "reasoning_tokens": validation.optional(record, "reasoning_tokens", parse_count),
    }
    spend.update({key: value for key, value in extras.items() if value is not None})
    return spend


def _optional_amount(data: Mapping[str, object], key: str) -> str | None:
    """An optional amount field as its canonical string."""
    amount = validation.optional(data, key, parse_amount)
    return None if amount is None else canonical_amount(amount)


def check_currency_room(spend: Mapping[str, object], currency: str) -> None:
    """Refuse a currency new to a run that already spends in `MAX_CURRENCIES_PER_RUN`.

    `spend` is the run's totals by currency (its state's ``spend``); a currency it
    already holds is always fine. Raises ``InvalidInput`` at path ``currency``.
    """
    if currency in spend or len(spend) < MAX_CURRENCIES_PER_RUN:
        return
    raise InvalidInput(
        "currency",
        f"this run already spends in {MAX_CURRENCIES_PER_RUN} currencies, the most one run "
        f"may hold; {currency} would be one more (report it in another run)",
    )


# --- totals --------------------------------------------------------------


def add_amount(amounts: Mapping[str, str], currency: str, amount: Decimal) -> dict[str, str]:
    """Canonical amount strings by currency (as stored in a run's state), plus one
    amount, exactly; a new dict sorted by currency, the input left as it was."""
    result = dict(amounts)
    total = EXACT.add(Decimal(result.get(currency, "0")), amount)
    result[currency] = canonical_amount(total)
    return dict(sorted(result.items()))


@dataclass
class Totals:
    """Exact running totals per currency, plus LLM token counts.

    A currency reported with 0 is kept (shown as ``0.00 USD``): zero is an amount,
    not "nothing reported". Currencies are never converted into each other.
    """

    amounts: dict[str, Decimal] = field(default_factory=dict)
    tokens_in: int = 0
    tokens_out: int = 0

    def add(self, amount: Decimal, currency: str) -> None:
        """Add an amount exactly; rounding would raise rather than lose a digit."""
        self.amounts[currency] = EXACT.add(self.amounts.get(currency, Decimal(0)), amount)

    def add_tokens(self, tokens_in: int = 0, tokens_out: int = 0) -> None:
        """Count LLM tokens alongside the money they cost."""
        self.tokens_in += tokens_in
        self.tokens_out += tokens_out

    def add_spend(self, spend: Mapping[str, object]) -> None:
        """Add one record produced by ``parse_spend`` (amount, currency, tokens)."""
        self.add(Decimal(str(spend["amount"])), str(spend["currency"]))
        self.add_tokens(
            int(str(spend.get("input_tokens", 0))), int(str(spend.get("output_tokens", 0)))
        )

    def merge(self, other: Totals) -> None:
        """Fold another set of totals into this one (runs into a PR, PRs into a repo)."""
        for currency, amount in other.amounts.items():
            self.add(amount, currency)
        self.add_tokens(other.tokens_in, other.tokens_out)

    def as_dict(self) -> dict[str, str]:
        """Currency → canonical amount string, sorted by currency, for JSON."""
        return {c: canonical_amount(self.amounts[c]) for c in sorted(self.amounts)}

    def display(self) -> list[str]:
        """``["0.10 USD", "1.25 USDC"]``, sorted by currency, for the summary."""
        return [display_amount(self.amounts[c], c) for c in sorted(self.amounts)]

    def is_empty(self) -> bool:
        """True only when nothing at all was recorded (a zero amount counts)."""
        return not self.amounts and not self.tokens_in and not self.tokens_out

    @classmethod
    def from_dict(cls, amounts: object, *, tokens_in: int = 0, tokens_out: int = 0) -> Totals:
        """Rebuild totals from ``as_dict()`` output, validating every entry."""
        totals = cls(
            tokens_in=at("tokens_in", parse_count, tokens_in),
            tokens_out=at("tokens_out", parse_count, tokens_out),
        )
        for key, value in validation.require_mapping(amounts).items():
            totals.add(at(str(key), parse_amount, value), at(str(key), parse_currency, key))
        return totals
