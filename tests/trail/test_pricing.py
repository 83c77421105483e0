"""Token pricing against figures worked out by hand from genai-prices' own table.

Each case first reads the rates it relies on out of the shipped table (so a new
table release that changes them fails here, loudly, not in a confusing sum), then
checks the bot's amount against arithmetic written out in the test.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import genai_prices
import pytest
from genai_prices.data import providers

from bot.trail.price_overrides import parse_price_overrides
from bot.trail.priced_spend import parse_priced_spend
from bot.trail.pricing import Overrides, Pricing, Tokens
from bot.trail.validation import InvalidInput

NOW = datetime(2026, 12, 1, tzinfo=UTC)
M = Decimal(1_000_000)
TABLE = Pricing()


def table_rates(provider: str, model: str, at: datetime = NOW) -> dict[str, Decimal]:
    """The per-million rates the shipped table holds for a model at a time."""
    [info] = [m for p in providers if p.id == provider for m in p.models if m.id == model]
    prices = info.get_prices(at)
    names = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
    rates = {n: getattr(prices, n) for n in (*names, "output_reasoning_mtok")}
    return {n: v for n, v in rates.items() if v is not None}


def price(model: str, tokens: Tokens, provider: str | None = None, at: datetime = NOW):
    return TABLE.price(model, provider, tokens, at)


# --- the package table -------------------------------------------------------------


def test_openai_gpt_4o_with_cache_reads() -> None:
    assert table_rates("openai", "gpt-4o") == {
        "input_mtok": Decimal("2.5"),
        "output_mtok": Decimal("10"),
        "cache_read_mtok": Decimal("1.25"),
    }
    # 12,000 input tokens of which 4,000 were cache reads, 1,500 output tokens:
    # 8,000 × 2.5 + 4,000 × 1.25 + 1,500 × 10 = 20,000 + 5,000 + 15,000 = 40,000 / 1M
    priced = price("gpt-4o", Tokens(input=12_000, cache_read=4_000, output=1_500))
    assert priced.amount == Decimal("0.04") and priced.currency == "USD"
    assert priced.priced_by == {
        "package": "genai-prices",
        "version": genai_prices.__version__,
        "provider": "openai",
        "model": "gpt-4o",
    }


def test_openai_gpt_4o_mini_exact_to_the_last_digit() -> None:
    rates = table_rates("openai", "gpt-4o-mini")
    assert (rates["input_mtok"], rates["output_mtok"], rates["cache_read_mtok"]) == (
        Decimal("0.15"),
        Decimal("0.6"),
        Decimal("0.075"),
    )
    # 70,000 × 0.15 + 30,000 × 0.075 + 2,000 × 0.6 = 10,500 + 2,250 + 1,200 = 13,950 / 1M
    priced = price("gpt-4o-mini", Tokens(input=100_000, cache_read=30_000, output=2_000), "openai")
    assert priced.amount == Decimal("0.01395")
    assert str(priced.amount) == "0.01395"  # canonical: no float digits, no trailing zeros


def test_anthropic_claude_sonnet_4_with_cache_reads_and_writes() -> None:
    rates = table_rates("anthropic", "claude-sonnet-4-0")
    assert (rates["input_mtok"], rates["output_mtok"]) == (Decimal(3), Decimal(15))
    assert (rates["cache_read_mtok"], rates["cache_write_mtok"]) == (
        Decimal("0.3"),
        Decimal("3.75"),
    )
    # 50,000 input = 20,000 plain + 20,000 cache reads + 10,000 cache writes; 4,000 output:
    # 20,000 × 3 + 20,000 × 0.3 + 10,000 × 3.75 + 4,000 × 15
    #   = 60,000 + 6,000 + 37,500 + 60,000 = 163,500 / 1M
    tokens = Tokens(input=50_000, cache_read=20_000, cache_write=10_000, output=4_000)
    priced = price("claude-sonnet-4-0", tokens, "anthropic")
    assert priced.amount == Decimal("0.1635")
    assert priced.priced_by["provider"] == "anthropic"
    assert priced.priced_by["model"] == "claude-sonnet-4-0"


def test_anthropic_claude_haiku_4_5_found_without_a_provider() -> None:
    rates = table_rates("anthropic", "claude-haiku-4-5")
    assert (rates["input_mtok"], rates["output_mtok"], rates["cache_read_mtok"]) == (
        Decimal(1),
        Decimal(5),
        Decimal("0.1"),
    )
    # 2,000 × 1 + 8,000 × 0.1 + 500 × 5 = 2,000 + 800 + 2,500 = 5,300 / 1M
    priced = price("claude-haiku-4-5", Tokens(input=10_000, cache_read=8_000, output=500))
    assert priced.amount == Decimal("0.0053")
    assert priced.priced_by["provider"] == "anthropic"  # matched from the model name


def test_a_dated_price_change_prices_each_call_at_the_price_of_its_time() -> None:
    before, after = datetime(2025, 6, 9, 23, tzinfo=UTC), datetime(2025, 6, 10, 1, tzinfo=UTC)
    assert table_rates("openai", "o3", before)["input_mtok"] == Decimal(10)
    assert table_rates("openai", "o3", before)["output_mtok"] == Decimal(40)
    assert table_rates("openai", "o3", after)["input_mtok"] == Decimal(2)
    assert table_rates("openai", "o3", after)["output_mtok"] == Decimal(8)
    # 1,000 input, 2,000 output of which 1,500 reasoning (o3 has no reasoning rate, so
    # reasoning is billed as output): before 1,000 × 10 + 2,000 × 40 = 90,000 / 1M;
    # after 1,000 × 2 + 2,000 × 8 = 18,000 / 1M.
    tokens = Tokens(input=1_000, output=2_000, reasoning=1_500)
    assert price("o3", tokens, "openai", before).amount == Decimal("0.09")
    assert price("o3", tokens, "openai", after).amount == Decimal("0.018")


def test_reasoning_tokens_get_their_own_rate_where_the_table_has_one() -> None:
    rates = table_rates("perplexity", "sonar-deep-research")
    assert (rates["input_mtok"], rates["output_mtok"], rates["output_reasoning_mtok"]) == (
        Decimal(2),
        Decimal(8),
        Decimal(3),
    )
    # 1,000 × 2 + (10,000 − 6,000) × 8 + 6,000 × 3 = 2,000 + 32,000 + 18,000 = 52,000 / 1M
    tokens = Tokens(input=1_000, output=10_000, reasoning=6_000)
    assert price("sonar-deep-research", tokens, "perplexity").amount == Decimal("0.052")


def test_an_unknown_model_or_provider_names_the_field_never_zero() -> None:
    with pytest.raises(InvalidInput) as caught:
        price("no-such-model-x", Tokens(input=10))
    assert caught.value.path == "model" and "no-such-model-x" in caught.value.reason
    with pytest.raises(InvalidInput) as caught:
        price("gpt-4o", Tokens(input=10), provider="no-such-provider")
    assert caught.value.path == "provider"
    with pytest.raises(InvalidInput) as caught:
        price("no-such-model-x", Tokens(input=10), provider="openai")
    assert caught.value.path == "model"


@pytest.mark.parametrize(
    ("tokens", "path"),
    [
        (Tokens(input=10, cache_read=11), "cache_read_tokens"),
        (Tokens(input=10, cache_read=6, cache_write=5), "cache_write_tokens"),
        (Tokens(output=10, reasoning=11), "reasoning_tokens"),
    ],
)
def test_parts_larger_than_their_totals_are_refused(tokens: Tokens, path: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        price("gpt-4o", tokens)
    assert caught.value.path == path


# --- overrides ---------------------------------------------------------------------


def test_override_precedence_repository_then_operator_then_table() -> None:
    tokens = Tokens(input=1_000_000, output=1_000_000)  # so the sum is the rates' sum
    operator = parse_price_overrides(
        "gpt-4o = input 1, output 2; openai gpt-4o = input 3, output 4"
    )
    repository = parse_price_overrides({"gpt-4o": {"input": Decimal("0.5"), "output": 1}})
    assert price("gpt-4o", tokens).amount == Decimal("12.5")  # the table: 2.5 + 10
    with_operator = Pricing(operator=operator)
    assert with_operator.price("gpt-4o", None, tokens, NOW).amount == Decimal(3)
    scoped = with_operator.price("gpt-4o", "OpenAI", tokens, NOW)  # scoped beats unscoped
    assert scoped.amount == Decimal(7)
    assert scoped.priced_by == {
        "source": "operator",
        "model": "gpt-4o",
        "provider": "openai",
        "rates": {"input": "3", "output": "4"},
    }
    both = with_operator.with_repository(repository)
    assert both.price("gpt-4o", "openai", tokens, NOW).amount == Decimal("1.5")
    assert both.price("gpt-4o", "openai", tokens, NOW).priced_by["source"] == "repository"
    assert both.price("gpt-4o-mini", None, tokens, NOW).priced_by["package"] == "genai-prices"


def test_an_override_prices_an_unknown_model_exactly_with_its_parts() -> None:
    overrides = parse_price_overrides(
        "acme/llm-1 = input 0.1, output 0.4, cache_read 0.01, reasoning 0.2"
    )
    pricing = Pricing(operator=overrides)
    # 700 plain input × 0.1 + 300 cache reads × 0.01 + 100 plain output × 0.4
    # + 900 reasoning × 0.2 = 70 + 3 + 40 + 180 = 293 / 1M
    tokens = Tokens(input=1_000, cache_read=300, output=1_000, reasoning=900)
    assert pricing.price("ACME/LLM-1", None, tokens, NOW).amount == Decimal("0.000293")
    # no cache_write rate: cache writes cost the input rate (they are input tokens)
    tokens = Tokens(input=1_000, cache_write=1_000)
    assert pricing.price("acme/llm-1", None, tokens, NOW).amount == Decimal("0.0001")


def test_the_yaml_and_string_forms_are_one_grammar() -> None:
    text = parse_price_overrides("anthropic my-claude = input 3, output 15, cache_write 3.75")
    mapping = parse_price_overrides(
        {"anthropic my-claude": {"input": 3, "output": 15, "cache_write": Decimal("3.75")}}
    )
    mixed = parse_price_overrides({"anthropic my-claude": "input 3, output 15, cache_write 3.75"})
    assert text == mapping == mixed
    assert parse_price_overrides("") == parse_price_overrides({}) == Overrides()


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        ("gpt-4o", "[0]", "expected"),
        ("gpt-4o = ", "[0]", "expected"),
        ("a = input 1, output 2; b input 1", "[1]", "expected"),
        ("gpt-4o = input 1", "[0]", "needs output"),
        ("gpt-4o = output 1", "[0]", "needs input"),
        ("gpt-4o = input 1, output 2, audio 3", "[0][2]", "'audio' is not a rate"),
        ("gpt-4o = input 1, output 2, input 3", "[0][2]", "input is given more than once"),
        ("gpt-4o = input -1, output 2", "[0][0]", "must not be negative"),
        ("gpt-4o = input 1e-6, output 2", "[0][0]", "not an exponent"),
        ("gpt-4o = input one, output 2", "[0][0]", "plain decimal number"),
        ("gpt-4o = input 1 output 2", "[0][0]", '"RATE AMOUNT"'),
        ("a b c = input 1, output 2", "[0]", "PROVIDER MODEL"),
        ("x = input 1, output 1; X = input 2, output 2", "[1]", "more than once"),
        (["gpt-4o"], "", "must be a mapping or a string"),
    ],
)
def test_malformed_overrides_name_where(value: object, path: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_price_overrides(value)
    assert caught.value.path == path
    assert reason in caught.value.reason


def test_a_float_in_yaml_is_refused_like_any_float_amount() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_price_overrides({"m": {"input": 0.1, "output": 1}})
    assert caught.value.path == "m.input"


# --- spend records -----------------------------------------------------------------


def test_a_spend_without_amount_is_priced_and_says_how() -> None:
    record = {"model": "gpt-4o", "input_tokens": 12_000, "cache_read_tokens": 4_000}
    spend = parse_priced_spend({**record, "output_tokens": 1_500}, TABLE, NOW)
    assert spend["amount"] == "0.04" and spend["currency"] == "USD"
    assert spend["category"] == "llm"  # priced tokens are an LLM call unless told
    assert spend["priced_by"]["model"] == "gpt-4o"
    assert "computed_amount" not in spend


def test_a_reported_amount_wins_and_the_computed_one_is_kept_beside_it() -> None:
    body = {"amount": "0.05", "currency": "USD", "model": "gpt-4o", "input_tokens": 12_000}
    spend = parse_priced_spend(
        {**body, "cache_read_tokens": 4_000, "output_tokens": 1_500}, TABLE, NOW
    )
    assert (spend["amount"], spend["computed_amount"], spend["computed_currency"]) == (
        "0.05",
        "0.04",
        "USD",
    )
    unknown = parse_priced_spend({**body, "model": "in-house-1"}, TABLE, NOW)
    assert unknown["amount"] == "0.05" and "computed_amount" not in unknown


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"model": "no-such-model-x", "input_tokens": 1}, "model"),
        ({"model": "gpt-4o"}, "amount"),  # nothing to price
        ({"input_tokens": 5}, "amount"),
        ({"model": "gpt-4o", "input_tokens": 1, "currency": "EUR"}, "currency"),
        ({"model": "gpt-4o", "input_tokens": -1}, "input_tokens"),
        ({"model": "gpt-4o", "input_tokens": 1, "cache_read_tokens": 2}, "cache_read_tokens"),
        ({"model": "gpt-4o", "input_tokens": 1, "provider": "nope-ai"}, "provider"),
    ],
)
def test_a_spend_that_cannot_be_priced_names_the_field(body: dict, path: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_priced_spend(body, TABLE, NOW)
    assert caught.value.path == path


def test_many_distinct_model_names_do_not_grow_the_table_caches_without_bound() -> None:
    from genai_prices.data_snapshot import get_snapshot

    from bot.trail.pricing import MAX_CACHED_LOOKUPS

    snapshot = get_snapshot()
    for i in range(MAX_CACHED_LOOKUPS + 500):
        with pytest.raises(InvalidInput):
            price(f"claude-made-up-{i}", Tokens(input=1))
    sizes = [len(snapshot._lookup_cache), len(snapshot._provider_cache)]
    assert sum(sizes) + len(snapshot._provider_misses) <= MAX_CACHED_LOOKUPS + 1
    assert price("gpt-4o", Tokens(input=1_000_000)).amount == Decimal("2.5")  # still prices
