"""Money is exact: amounts, currencies, spend records, totals and budgets."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.trail.budget import over_budget, parse_budget
from bot.trail.money import (
    CATEGORIES,
    Totals,
    canonical_amount,
    display_amount,
    parse_amount,
    parse_currency,
    parse_spend,
)
from bot.trail.validation import InvalidInput


def loads(text: str) -> object:
    """JSON the way the bot's shell parses it: numbers with a fraction are Decimals."""
    return json.loads(text, parse_float=Decimal)


def reason_of(call, *args) -> tuple[str, str]:
    with pytest.raises(InvalidInput) as caught:
        call(*args)
    return caught.value.path, caught.value.reason


# --- parse_amount ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.10", "0.1"),
        ("0", "0"),
        ("0.00", "0"),
        ("-0", "0"),
        ("12", "12"),
        ("007.50", "7.5"),
        ("0.000000000000000001", "0.000000000000000001"),
        ("999999999999999999999999999999", "999999999999999999999999999999"),
        (0, "0"),
        (25, "25"),
        (Decimal("1.2300"), "1.23"),
        (Decimal("1E+2"), "100"),
        (Decimal("-0.0"), "0"),
        (Decimal("0.1000000000000000000000"), "0.1"),
    ],
)
def test_parse_amount_accepts_exact_values(value: object, expected: str) -> None:
    assert canonical_amount(parse_amount(value)) == expected


def test_json_numbers_parsed_with_decimal_are_exact() -> None:
    body = loads('{"a": 0.1, "b": 0.2, "c": 3, "d": 1.10}')
    assert isinstance(body, dict)
    a, b = parse_amount(body["a"]), parse_amount(body["b"])
    assert a + b == Decimal("0.3")
    assert canonical_amount(a + b) == "0.3"
    assert parse_amount(body["c"]) == Decimal(3)
    assert canonical_amount(parse_amount(body["d"])) == "1.1"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (0.1, "use a string or exact number, not a float"),
        (json.loads("0.5"), "use a string or exact number, not a float"),
        (True, "must be an amount, not a boolean"),
        (False, "must be an amount, not a boolean"),
        ("-1", "must not be negative"),
        ("-0.01", "must not be negative"),
        (Decimal("-0.01"), "must not be negative"),
        (-3, "must not be negative"),
        ("NaN", "must be a finite number"),
        ("Infinity", "must be a finite number"),
        ("-inf", "must be a finite number"),
        (Decimal("NaN"), "must be a finite number"),
        (Decimal("sNaN"), "must be a finite number"),
        (Decimal("-Infinity"), "must be a finite number"),
        ("1e-3", "use plain decimal notation (like 0.001), not an exponent"),
        ("2.5E+4", "use plain decimal notation (like 0.001), not an exponent"),
        ("0.0000000000000000001", "absurdly precise: more than 18 decimal places"),
        (Decimal("1E-19"), "absurdly precise: more than 18 decimal places"),
        ("1" + "0" * 30, "absurdly large: more than 30 digits"),
        (10**30, "absurdly large: more than 30 digits"),
        (Decimal("1E+30"), "absurdly large: more than 30 digits"),
        ("", "must not be empty"),
        (" 1", "must not have spaces around it"),
        ("1\n", "must not have spaces around it"),
        ("\t0.10", "must not have spaces around it"),
        ("1,000.00", "must be a plain decimal number like 0.10"),
        ("+1", "must be a plain decimal number like 0.10"),
        (".5", "must be a plain decimal number like 0.10"),
        ("5.", "must be a plain decimal number like 0.10"),
        ("0x10", "must be a plain decimal number like 0.10"),
        ("１", "must be a plain decimal number like 0.10"),
        ("$5", "must be a plain decimal number like 0.10"),
        ("1" * 101, "too long: more than 100 characters"),
        (None, 'must be an amount like "0.10", not null'),
        ([1], 'must be an amount like "0.10", not a list'),
        ({"value": 1}, 'must be an amount like "0.10", not an object'),
    ],
)
def test_parse_amount_refuses_with_a_reason(value: object, reason: str) -> None:
    assert reason_of(parse_amount, value) == ("", reason)


def test_invalid_input_is_a_value_error_with_a_path() -> None:
    error = InvalidInput("amount", "must not be negative")
    assert isinstance(error, ValueError)
    assert str(error) == "amount: must not be negative"
    assert error.under("spend").path == "spend.amount"
    assert error.under("spends[2]").path == "spends[2].amount"
    assert InvalidInput("[0]", "bad").under("budget").path == "budget[0]"
    assert str(InvalidInput("", "must be an object, not a list")) == (
        "must be an object, not a list"
    )


# --- formatting --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "canonical", "display"),
    [
        (Decimal("0"), "0", "0.00 USD"),
        (Decimal("0.00"), "0", "0.00 USD"),
        (Decimal("-0"), "0", "0.00 USD"),
        (Decimal("0.10"), "0.1", "0.10 USD"),
        (Decimal("1.5"), "1.5", "1.50 USD"),
        (Decimal("1.25"), "1.25", "1.25 USD"),
        (Decimal("0.0004"), "0.0004", "0.0004 USD"),
        (Decimal("1234567.5"), "1234567.5", "1234567.50 USD"),
        (Decimal("1E+3"), "1000", "1000.00 USD"),
        (Decimal("5E-18"), "0.000000000000000005", "0.000000000000000005 USD"),
        (Decimal("0.123456789012345678"), "0.123456789012345678", "0.123456789012345678 USD"),
    ],
)
def test_canonical_and_display_forms(amount: Decimal, canonical: str, display: str) -> None:
    assert canonical_amount(amount) == canonical
    assert display_amount(amount, "USD") == display


def test_display_uses_the_currency_given() -> None:
    assert display_amount(Decimal("1.25"), "USDC") == "1.25 USDC"


def test_canonical_amount_keeps_all_digits_beyond_decimal_context_precision() -> None:
    big = Decimal("123456789012345678901234567890.123456789012345678")
    assert canonical_amount(big) == "123456789012345678901234567890.123456789012345678"


def test_canonical_amount_refuses_non_finite() -> None:
    with pytest.raises(ValueError):
        canonical_amount(Decimal("NaN"))


# --- currencies --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("USD", "USD"),
        ("usd", "USD"),
        ("Eur", "EUR"),
        ("USDC", "USDC"),
        ("usdc", "USDC"),
        ("ETH", "ETH"),
        ("WETH", "WETH"),
        ("SOL", "SOL"),
        ("EURC", "EURC"),
        ("POL", "POL"),
        ("USDT0", "USDT0"),
        ("ABCDEFGHIJK", "ABCDEFGHIJK"),
    ],
)
def test_parse_currency_accepts_codes_and_symbols(value: str, expected: str) -> None:
    assert parse_currency(value) == expected


@pytest.mark.parametrize(
    "value",
    ["", "U", "1INCH", "ABCDEFGHIJKL", "US D", "usd ", "€", "ＵＳＤ", "usdı", "US-D", "$"],
)
def test_parse_currency_refuses_anything_else(value: str) -> None:
    path, reason = reason_of(parse_currency, value)
    assert path == ""
    assert reason.startswith("must be a currency code like USD or a token symbol like USDC")


def test_parse_currency_refuses_numeric_codes() -> None:
    assert reason_of(parse_currency, 840) == (
        "",
        'must be a currency code like "USD", not a number',
    )


# --- spend records -----------------------------------------------------------------


def test_parse_spend_full_record_from_json() -> None:
    body = loads(
        """{"amount": 0.0123, "currency": "usd", "category": "LLM",
            "input_tokens": 1200, "output_tokens": 350, "model": "claude-sonnet-4",
            "unit_price": "0.000003", "description": "review of PR #12\\nsecond pass"}"""
    )
    assert parse_spend(body) == {
        "amount": "0.0123",
        "currency": "USD",
        "category": "llm",
        "input_tokens": 1200,
        "output_tokens": 350,
        "model": "claude-sonnet-4",
        "unit_price": "0.000003",
        "description": "review of PR #12\nsecond pass",
    }


def test_parse_spend_minimal_record_defaults_category_and_omits_the_rest() -> None:
    assert parse_spend({"amount": "0", "currency": "USDC"}) == {
        "amount": "0",
        "currency": "USDC",
        "category": "other",
    }


def test_parse_spend_treats_null_optionals_as_absent() -> None:
    body = loads('{"amount": "1.00", "currency": "USD", "model": null, "category": null}')
    assert parse_spend(body) == {"amount": "1", "currency": "USD", "category": "other"}


def test_parse_spend_output_is_canonical_json_ready() -> None:
    spend = parse_spend({"amount": Decimal("2.50"), "currency": "eth", "model": "gpt-ü"})
    encoded = json.dumps(spend, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert encoded == '{"amount":"2.5","category":"other","currency":"ETH","model":"gpt-ü"}'


@pytest.mark.parametrize(
    ("body", "path", "reason"),
    [
        ({"currency": "USD"}, "amount", "is required"),
        ({"amount": None, "currency": "USD"}, "amount", "is required"),
        ({"amount": "1"}, "currency", "is required"),
        ({"amount": 0.5, "currency": "USD"}, "amount", "use a string or exact number, not a float"),
        ({"amount": "-2", "currency": "USD"}, "amount", "must not be negative"),
        (
            {"amount": "1", "currency": "USD", "category": "food"},
            "category",
            "must be one of " + ", ".join(CATEGORIES),
        ),
        (
            {"amount": "1", "currency": "USD", "input_tokens": True},
            "input_tokens",
            "must be a whole number, not a boolean",
        ),
        (
            {"amount": "1", "currency": "USD", "output_tokens": -1},
            "output_tokens",
            "must not be negative",
        ),
        (
            {"amount": "1", "currency": "USD", "output_tokens": Decimal("3.0")},
            "output_tokens",
            "must be a whole number, not a number",
        ),
        (
            {"amount": "1", "currency": "USD", "input_tokens": "12"},
            "input_tokens",
            "must be a whole number, not a string",
        ),
        (
            {"amount": "1", "currency": "USD", "model": "m" * 201},
            "model",
            "too long: 201 characters, at most 200",
        ),
        (
            {"amount": "1", "currency": "USD", "model": "a\nb"},
            "model",
            "contains a control character (0x0a)",
        ),
        (
            {"amount": "1", "currency": "USD", "model": ""},
            "model",
            "must not be empty (leave the field out instead)",
        ),
        (
            {"amount": "1", "currency": "USD", "description": "d" * 501},
            "description",
            "too long: 501 characters, at most 500",
        ),
        (
            {"amount": "1", "currency": "USD", "unit_price": "1e-6"},
            "unit_price",
            "use plain decimal notation (like 0.001), not an exponent",
        ),
    ],
)
def test_parse_spend_names_the_field_at_fault(body: dict, path: str, reason: str) -> None:
    assert reason_of(parse_spend, body) == (path, reason)


def test_parse_spend_names_an_unknown_key() -> None:
    path, reason = reason_of(parse_spend, {"ammount": "1", "currency": "USD"})
    assert path == "ammount"
    assert reason.startswith("unknown field; expected one of: amount, currency, category")


def test_parse_spend_refuses_lone_surrogates_that_could_not_be_hashed() -> None:
    body = loads('{"amount": "1", "currency": "USD", "description": "bad \\ud800 text"}')
    assert reason_of(parse_spend, body) == (
        "description",
        "contains invalid Unicode (a lone surrogate)",
    )


@pytest.mark.parametrize("body", [[], "spend", None, 3])
def test_parse_spend_needs_an_object(body: object) -> None:
    path, reason = reason_of(parse_spend, body)
    assert path == ""
    assert reason.startswith("must be an object, not ")


# --- totals ------------------------------------------------------------------------


def test_totals_are_exact_per_currency_and_keep_zero() -> None:
    totals = Totals()
    totals.add(parse_amount("0.10"), "USDC")
    totals.add(parse_amount("0"), "USDC")
    totals.add(parse_amount("1.25"), "USDC")
    totals.add(parse_amount(0), "USD")
    assert totals.as_dict() == {"USD": "0", "USDC": "1.35"}
    assert totals.display() == ["0.00 USD", "1.35 USDC"]
    assert not totals.is_empty()


def test_tenths_add_up_exactly() -> None:
    totals = Totals()
    for value in loads("[0.1, 0.2]"):  # type: ignore[union-attr]
        totals.add(parse_amount(value), "USD")
    assert totals.amounts["USD"] == Decimal("0.3")
    assert totals.as_dict() == {"USD": "0.3"}


def test_totals_do_not_round_at_the_largest_amounts() -> None:
    totals = Totals()
    totals.add(parse_amount("999999999999999999999999999999.999999999999999999"), "USD")
    totals.add(parse_amount("0.000000000000000001"), "USD")
    assert totals.as_dict() == {"USD": "1000000000000000000000000000000"}


def test_totals_from_spend_records_merge_and_round_trip() -> None:
    run_a, run_b = Totals(), Totals()
    run_a.add_spend(parse_spend({"amount": "0.40", "currency": "USD", "input_tokens": 1000}))
    run_a.add_spend(parse_spend({"amount": "1.25", "currency": "usdc", "output_tokens": 20}))
    run_b.add_spend(parse_spend({"amount": "0.6", "currency": "USD", "output_tokens": 5}))
    run_a.merge(run_b)
    assert run_a.as_dict() == {"USD": "1", "USDC": "1.25"}
    assert (run_a.tokens_in, run_a.tokens_out) == (1000, 25)
    rebuilt = Totals.from_dict(run_a.as_dict(), tokens_in=1000, tokens_out=25)
    assert rebuilt == run_a
    assert rebuilt.display() == ["1.00 USD", "1.25 USDC"]


def test_empty_totals() -> None:
    assert Totals().is_empty()
    assert Totals().as_dict() == {}
    tokens_only = Totals()
    tokens_only.add_tokens(tokens_in=3)
    assert not tokens_only.is_empty()


@pytest.mark.parametrize(
    ("amounts", "path", "reason"),
    [
        ({"USD": "-1"}, "USD", "must not be negative"),
        ({"usd!": "1"}, "usd!", "must be a currency code like USD or a token symbol"),
        (["USD"], "", "must be an object, not a list"),
    ],
)
def test_totals_from_dict_validates(amounts: object, path: str, reason: str) -> None:
    got_path, got_reason = reason_of(Totals.from_dict, amounts)
    assert got_path == path
    assert got_reason.startswith(reason)


# --- budgets -----------------------------------------------------------------------


def test_parse_budget_from_mapping_and_string() -> None:
    assert parse_budget({"USD": "5.00", "usdc": 10}) == {
        "USD": Decimal("5"),
        "USDC": Decimal("10"),
    }
    assert parse_budget("5 USD") == {"USD": Decimal("5")}
    assert parse_budget("5.50 USD, 10 usdc") == {"USD": Decimal("5.5"), "USDC": Decimal("10")}
    assert parse_budget("0 USD") == {"USD": Decimal("0")}


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        ("", "[0]", 'expected "AMOUNT CURRENCY" like "5 USD", got \'\''),
        ("USD", "[0]", 'expected "AMOUNT CURRENCY" like "5 USD", got \'USD\''),
        ("5 USD, 6 usd", "[1]", "USD is given more than once"),
        ("5 USD,, 6 EUR", "[1]", 'expected "AMOUNT CURRENCY" like "5 USD", got \'\''),
        ("five USD", "[0]", "must be a plain decimal number like 0.10"),
        ({"USD": "5", "usd": "6"}, "usd", "USD is given more than once"),
        ({"USD": 5.0}, "USD", "use a string or exact number, not a float"),
        ({}, "", 'must name at least one currency, like "5 USD"'),
        (5, "", 'must be an object or a string like "5 USD", not a number'),
    ],
)
def test_parse_budget_refuses_with_a_path(value: object, path: str, reason: str) -> None:
    assert reason_of(parse_budget, value) == (path, reason)


def test_over_budget_lists_currencies_strictly_over() -> None:
    totals = Totals()
    totals.add(Decimal("5.00"), "USD")
    totals.add(Decimal("10.01"), "USDC")
    totals.add(Decimal("0"), "EUR")
    budget = parse_budget("5 USD, 10 USDC, 0 EUR, 1 ETH")
    assert over_budget(totals, budget) == ["USDC"]
    totals.add(Decimal("0.000001"), "EUR")
    assert over_budget(totals, budget) == ["EUR", "USDC"]
    assert over_budget(Totals(), budget) == []


# --- properties --------------------------------------------------------------------

places = st.integers(min_value=0, max_value=18)
valid_amounts = places.flatmap(
    lambda p: st.integers(min_value=0, max_value=10 ** (30 + p) - 1).map(
        lambda n: Decimal(f"{n}E-{p}")
    )
)


@given(valid_amounts)
def test_canonical_amount_round_trips(amount: Decimal) -> None:
    text = canonical_amount(amount)
    assert "E" not in text and "e" not in text
    assert parse_amount(text) == amount
    assert canonical_amount(parse_amount(text)) == text
    shown, currency = display_amount(amount, "USD").split(" ")
    assert currency == "USD"
    assert Decimal(shown) == amount
    assert len(shown.partition(".")[2]) >= 2


@given(st.lists(st.tuples(valid_amounts, st.sampled_from(["USD", "USDC", "EUR"])), max_size=20))
def test_totals_equal_the_exact_rational_sum_in_any_order(
    items: list[tuple[Decimal, str]],
) -> None:
    forward, backward = Totals(), Totals()
    for amount, currency in items:
        forward.add(amount, currency)
    for amount, currency in reversed(items):
        backward.add(amount, currency)
    assert forward.as_dict() == backward.as_dict()
    for currency, total in forward.amounts.items():
        expected = sum((Fraction(a) for a, c in items if c == currency), Fraction(0))
        assert Fraction(total) == expected


json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["0.10", "1e3", "USD", "usdc", "llm", "", "-1", "NaN"])
)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
spend_like = st.dictionaries(
    st.sampled_from(["amount", "currency", "category", "input_tokens", "output_tokens"])
    | st.sampled_from(["model", "unit_price", "description"])
    | st.text(max_size=8),
    json_values,
    max_size=6,
)


@given(json_values)
def test_parse_amount_only_ever_raises_invalid_input(value: object) -> None:
    with contextlib.suppress(InvalidInput):
        parse_amount(value)


@given(json_values | spend_like)
def test_parse_spend_only_ever_raises_invalid_input(value: object) -> None:
    try:
        spend = parse_spend(value)
    except InvalidInput as error:
        assert isinstance(error.path, str) and error.reason
    else:
        json.dumps(spend, sort_keys=True, ensure_ascii=False).encode()


@given(json_values)
def test_parse_budget_and_currency_only_ever_raise_invalid_input(value: object) -> None:
    for parse in (parse_budget, parse_currency):
        with contextlib.suppress(InvalidInput):
            parse(value)
