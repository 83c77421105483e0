"""Runs across months, currencies, kinds and a private repository, with the exact
figures they must add up to (computed by hand below, not by the code under test)."""

from __future__ import annotations

import uuid
from decimal import Decimal, localcontext
from typing import Any

from bot.trail import events as ev
from bot.trail import intents as it

PUBLIC = "Acme/Widgets"
PRIVATE = "Acme/Secret"
OTHER_OWNER = "Other/Thing"


def spend(amount: str, currency: str, at: str, category: str = "llm", model: str | None = None):
    data: dict[str, Any] = {"amount": amount, "currency": currency, "category": category}
    if model:
        data["model"] = model
    return ev.NewEvent(ev.SPEND, data, at=at)


def open_run(repo: str, pr: int | None, kind: str, private: bool, *events: ev.NewEvent):
    spec = it.RunSpec(kind, repo, pr, uuid.uuid4().hex[:12], installation_id=1, private=private)
    key = f"{repo}#{pr}@{spec.head_sha}/{kind}"
    source = ev.Source("api", str(uuid.uuid4()), "spend", None)
    return it.Command(source, [it.OpenRun(key, spec, events)])


# (repo, pr, kind, private, [spend events])
RUNS = [
    # public, October and November 2026, USD and EUR, two kinds
    (
        PUBLIC,
        1,
        "pr",
        False,
        [
            spend("0.1", "USD", "2026-10-05T10:00:00.000Z", model="gpt-4o"),
            spend("0.2", "USD", "2026-10-05T11:00:00.000Z", model="gpt-4o"),
            spend("1.000000000000000001", "USD", "2026-10-06T09:00:00.000Z", "ci"),
        ],
    ),
    (
        PUBLIC,
        1,
        "review",
        False,
        [
            spend("2.5", "EUR", "2026-10-31T23:59:59.999Z", model="claude"),
            spend("0.333333333333333333", "USD", "2026-11-02T00:00:00.000Z", model="claude"),
        ],
    ),
    (
        PUBLIC,
        2,
        "pr",
        False,
        [
            spend("123456789012345678.5", "USD", "2026-11-15T12:00:00.000Z", "payment"),
            spend("0.05", "USDC", "2026-11-16T12:00:00.000Z", "api"),
        ],
    ),
    # private: never counted for an anonymous caller
    (
        PRIVATE,
        7,
        "pr",
        True,
        [
            spend("1000", "USD", "2026-10-05T10:00:00.000Z", model="gpt-4o"),
            spend("9.99", "EUR", "2026-11-20T10:00:00.000Z", model="claude"),
        ],
    ),
    # another owner: outside owner=Acme
    (OTHER_OWNER, 3, "pr", False, [spend("5", "USD", "2026-11-03T10:00:00.000Z")]),
]


def commands() -> list[it.Command]:
    return [open_run(repo, pr, kind, private, *events) for repo, pr, kind, private, events in RUNS]


def expected_totals(repos: set[str]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for repo, _pr, _kind, _private, events in RUNS:
        if repo in repos:
            for event in events:
                currency = event.data["currency"]
                amount = Decimal(event.data["amount"])
                sums[currency] = localcontext_add(sums.get(currency, Decimal(0)), amount)
    return sums


def localcontext_add(a: Decimal, b: Decimal) -> Decimal:
    """a + b with enough precision for any amount (the default context keeps 28 digits)."""
    with localcontext() as ctx:
        ctx.prec = 100
        return a + b
