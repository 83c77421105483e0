"""The one over-budget rule: strictly above the limit, per currency."""

from __future__ import annotations

from decimal import Decimal

from bot.trail.budget import exceeds, over_budget, run_budget, run_over_budget, stored_exceeds
from bot.trail.money import Totals


def test_at_the_limit_is_within_and_above_is_over() -> None:
    assert not exceeds(Decimal("5"), Decimal("5.00"))
    assert exceeds(Decimal("5.000000000000000001"), Decimal("5"))
    totals = Totals()
    totals.add(Decimal("5"), "USD")
    assert over_budget(totals, {"USD": Decimal("5"), "EUR": Decimal("0")}) == []
    assert over_budget(totals, {"USD": Decimal("4.99")}) == ["USD"]


def test_stored_data_that_does_not_read_is_never_over() -> None:
    assert stored_exceeds("2", "1") and not stored_exceeds("1", "1")
    assert not stored_exceeds("nonsense", "1")
    assert run_over_budget({"spend": {"USD": "2"}, "budget": {"USD": "1"}}) == ["USD"]
    assert run_over_budget({"spend": {"USD": "-2"}, "budget": {"USD": "1"}}) == []
    assert run_over_budget({"spend": {"USD": "2"}, "budget": {"USD": "x"}}) == []


def test_a_run_s_own_budget_wins_over_its_kind_s() -> None:
    kinds = {"review": {"USD": Decimal("3")}}
    assert run_budget({"kind": "review", "budget": {"USD": "1"}}, kinds) == {"USD": Decimal("1")}
    assert run_budget({"kind": "review", "budget": {}}, kinds) == {"USD": Decimal("3")}
    assert run_budget({"kind": "pr"}, kinds) == {}
