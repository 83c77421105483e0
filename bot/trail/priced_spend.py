"""Spend records priced from tokens: the reporter's `spend` event without an `amount`.

A record with `model` and token counts and no `amount` gets the computed `amount`,
`currency` (USD) and `priced_by`; its category defaults to `llm`. A record with an
`amount` keeps it (the reporter knows its bill best) and, when its model can be
priced, also stores `computed_amount`, `computed_currency` and `priced_by`, so a
mismatch is visible in the trail. Pure: the caller passes the prices and the time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.trail.money import canonical_amount, parse_spend
from bot.trail.pricing import CURRENCY, TOKEN_FIELDS, Price, Pricing, Tokens
from bot.trail.validation import InvalidInput, require_mapping

NEEDS_AMOUNT = "is required unless model and token counts are given (then the bot prices them)"


def parse_priced_spend(data: object, pricing: Pricing, moment: datetime) -> dict[str, Any]:
    """Validate one spend record and price it if it has a model and tokens."""
    record = require_mapping(data)
    if record.get("amount") is not None:
        spend: dict[str, Any] = parse_spend(record)
        tokens = _tokens(spend)
        if tokens is not None and "model" in spend:
            tokens.check()
            price = _price_or_none(spend, pricing, tokens, moment)
            if price is not None:
                spend["computed_amount"] = canonical_amount(price.amount)
                spend["computed_currency"] = price.currency
                spend["priced_by"] = dict(price.priced_by)
        return spend
    placeholder = {**record, "amount": "0", "currency": record.get("currency") or CURRENCY}
    spend = parse_spend(placeholder)  # every other field checked before pricing
    tokens = _tokens(spend)
    if "model" not in spend or tokens is None:
        raise InvalidInput("amount", NEEDS_AMOUNT)
    if spend["currency"] != CURRENCY:
        raise InvalidInput(
            "currency", f"computed prices are in {CURRENCY}; send amount for another currency"
        )
    price = pricing.price(str(spend["model"]), spend.get("provider"), tokens, moment)
    spend["amount"] = canonical_amount(price.amount)
    spend["currency"] = price.currency
    spend["priced_by"] = dict(price.priced_by)
    if record.get("category") is None:
        spend["category"] = "llm"
    return spend


def _tokens(spend: Mapping[str, Any]) -> Tokens | None:
    """The record's token counts, or None when it reports none at all."""
    if not any(name in spend for name in TOKEN_FIELDS):
        return None
    return Tokens(
        input=int(spend.get("input_tokens", 0)),
        output=int(spend.get("output_tokens", 0)),
        cache_read=int(spend.get("cache_read_tokens", 0)),
        cache_write=int(spend.get("cache_write_tokens", 0)),
        reasoning=int(spend.get("reasoning_tokens", 0)),
    )


def _price_or_none(
    spend: Mapping[str, Any], pricing: Pricing, tokens: Tokens, moment: datetime
) -> Price | None:
    """Beside a reported amount, an unknown model is no error: nothing is computed."""
    try:
        return pricing.price(str(spend["model"]), spend.get("provider"), tokens, moment)
    except InvalidInput:
        return None
