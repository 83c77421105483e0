"""Token pricing: the exact USD amount of an LLM call from its model and token counts.

Prices come, in order, from the repository's `pricing:` overrides, the operator's
(`AUDIT_MODEL_PRICES`), then the `genai-prices` table shipped inside that package
(offline; its network update is never enabled). The table keeps price history, so a
call is priced at the price in force at its own time. Every result says what priced
it (`priced_by`), which the event stores, so the hash chain pins the table version.

Token counts follow the table's convention (and OpenAI's): `input_tokens` is every
input token, cache reads and writes included; `output_tokens` is every output token,
reasoning included. The cache and reasoning counts say which part of those totals
had its own rate: a model with no cache-read (or reasoning) rate bills those tokens
at its input (or output) rate, which is what sending them inside the totals means.

Anything that cannot be priced raises `InvalidInput` naming the field at fault
(`model`, `provider`, `cache_read_tokens`, …), never a silent zero.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.trail.money import EXACT, canonical_amount
from bot.trail.validation import InvalidInput

PACKAGE = "genai-prices"
CURRENCY = "USD"  # the table's currency; overrides are in USD per million tokens too
PER = Decimal(1_000_000)
TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
RATES = ("input", "output", "cache_read", "cache_write", "reasoning")
REQUIRED_RATES = ("input", "output")


@dataclass(frozen=True)
class Tokens:
    """One call's token counts; the cache counts are part of `input`, reasoning of `output`."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0

    def check(self) -> None:
        """Refuse counts whose parts exceed their totals, naming the part."""
        if self.cache_read > self.input:
            raise InvalidInput(
                "cache_read_tokens", "cannot exceed input_tokens (input counts cache reads)"
            )
        if self.cache_read + self.cache_write > self.input:
            raise InvalidInput(
                "cache_write_tokens",
                "with cache_read_tokens cannot exceed input_tokens (input counts both)",
            )
        if self.reasoning > self.output:
            raise InvalidInput(
                "reasoning_tokens", "cannot exceed output_tokens (output counts reasoning)"
            )


@dataclass(frozen=True)
class Override:
    """Exact USD prices per million tokens for one model, optionally for one provider."""

    model: str  # lower-case
    provider: str | None  # lower-case; None: whichever provider reports it
    rates: Mapping[str, Decimal]  # "input", "output" and any of cache_read, …

    def amount(self, tokens: Tokens) -> Decimal:
        """Each part at its own rate, the rest of a total at the total's rate."""
        rate = self.rates
        cache_read = rate.get("cache_read", rate["input"])
        cache_write = rate.get("cache_write", rate["input"])
        reasoning = rate.get("reasoning", rate["output"])
        plain_input = tokens.input - tokens.cache_read - tokens.cache_write
        plain_output = tokens.output - tokens.reasoning
        parts = (
            (rate["input"], plain_input),
            (cache_read, tokens.cache_read),
            (cache_write, tokens.cache_write),
            (rate["output"], plain_output),
            (reasoning, tokens.reasoning),
        )
        total = Decimal(0)
        for price, count in parts:
            total = EXACT.add(total, EXACT.multiply(price, Decimal(count)))
        return EXACT.divide(total, PER)

    def priced_by(self, source: str) -> dict[str, Any]:
        by: dict[str, Any] = {
            "source": source,
            "model": self.model,
            "rates": {k: canonical_amount(v) for k, v in sorted(self.rates.items())},
        }
        if self.provider:
            by["provider"] = self.provider
        return by


@dataclass(frozen=True)
class Overrides:
    """One layer of overrides (a repository's or the operator's), looked up by model."""

    entries: Sequence[Override] = ()

    def find(self, model: str, provider: str | None) -> Override | None:
        """A provider-scoped entry beats an unscoped one for the same model."""
        model, provider = model.lower(), provider.lower() if provider else None
        unscoped = None
        for entry in self.entries:
            if entry.model != model:
                continue
            if entry.provider is None:
                unscoped = unscoped or entry
            elif entry.provider == provider:
                return entry
        return unscoped


@dataclass(frozen=True)
class Price:
    """A priced call: the exact amount, its currency, and what priced it."""

    amount: Decimal
    currency: str
    priced_by: Mapping[str, Any]


@dataclass(frozen=True)
class Pricing:
    """The override layers in force; `price` falls through them to the package table."""

    repository: Overrides = field(default_factory=Overrides)
    operator: Overrides = field(default_factory=Overrides)

    def with_repository(self, overrides: Overrides) -> Pricing:
        return Pricing(repository=overrides, operator=self.operator)

    def price(self, model: str, provider: str | None, tokens: Tokens, at: datetime) -> Price:
        """The amount at the price in force at `at`; `InvalidInput` if it cannot be priced."""
        tokens.check()
        for source, layer in (("repository", self.repository), ("operator", self.operator)):
            entry = layer.find(model, provider)
            if entry is not None:
                return Price(entry.amount(tokens), CURRENCY, entry.priced_by(source))
        return table_price(model, provider, tokens, at)


def table_price(model: str, provider: str | None, tokens: Tokens, at: datetime) -> Price:
    """Price from the table bundled in `genai-prices` (imported on first use: ~0.2 s)."""
    import genai_prices
    from genai_prices import Usage

    usage = Usage(
        input_tokens=tokens.input,
        output_tokens=tokens.output,
        cache_read_tokens=tokens.cache_read,
        cache_write_tokens=tokens.cache_write,
        output_reasoning_tokens=tokens.reasoning,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = genai_prices.calc_price(
                usage, model, provider_id=provider, genai_request_timestamp=at
            )
    except LookupError:
        raise _unknown(model, provider) from None
    except ValueError as exc:  # usage the table cannot split (checked above; kept as a net)
        raise InvalidInput("input_tokens", str(exc)) from None
    finally:
        _bound_lookup_caches()
    if result.auto_update_timestamp is not None:  # never enabled here; the version would lie
        raise RuntimeError("genai-prices is using a downloaded table; the bot prices offline")
    return Price(
        canonical_decimal(result.total_price),
        CURRENCY,
        {
            "package": PACKAGE,
            "version": genai_prices.__version__,
            "provider": result.provider.id,
            "model": result.model.id,
        },
    )


MAX_CACHED_LOOKUPS = 4096
_LOOKUP_CACHES = ("_lookup_cache", "_provider_cache", "_provider_misses")


def _bound_lookup_caches() -> None:
    """genai-prices remembers every model name it was asked about, hits and misses, in
    unbounded dicts. Reporters choose those names, so past a bound they are emptied
    (they are only caches: emptying them changes no price)."""
    from genai_prices.data_snapshot import get_snapshot

    snapshot = get_snapshot()
    caches = [getattr(snapshot, name, None) for name in _LOOKUP_CACHES]
    if sum(len(c) for c in caches if c is not None) > MAX_CACHED_LOOKUPS:
        for cache in caches:
            if cache is not None:
                cache.clear()


def _unknown(model: str, provider: str | None) -> InvalidInput:
    fix = "send amount, or add its prices (AUDIT_MODEL_PRICES or pricing: in .github/audit-bot.yml)"
    if provider is not None and not _known_provider(provider):
        return InvalidInput("provider", f"unknown provider {provider!r}; {fix}")
    where = f" for provider {provider!r}" if provider else ""
    return InvalidInput("model", f"no price known for model {model!r}{where}; {fix}")


def _known_provider(provider: str) -> bool:
    from genai_prices.data_snapshot import find_provider_by_id, get_snapshot

    return find_provider_by_id(get_snapshot().providers, provider) is not None


def canonical_decimal(value: Decimal) -> Decimal:
    """The table's result as an exact Decimal, trailing zeros gone (`0.007250` → `0.00725`)."""
    return Decimal(canonical_amount(value))
