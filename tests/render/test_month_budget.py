"""The repository's monthly budget in the PR comment's headline and the spend check."""

from __future__ import annotations

from decimal import Decimal

from bot.render.spend_check import spend_check
from bot.render.summary import (
    SummaryOptions,
    headline_key,
    is_over_budget,
    render_summary,
)
from bot.trail.budget import MonthSpend
from tests.render.test_summary import run

RUNS = [run(1), run(2, kind="review", name="AI review", spend={"USD": "15"})]
USD = Decimal


def month(spent: str, this_pr: str, limit: str = "200") -> SummaryOptions:
    figures = MonthSpend("2026-11", {"USD": USD(limit)}, {"USD": USD(spent)}, {"USD": USD(this_pr)})
    return SummaryOptions(month=figures)


def headline(options: SummaryOptions) -> str:
    return render_summary("o/r", 1, RUNS, options).splitlines()[1]


def test_within_the_monthly_budget_the_headline_is_unchanged() -> None:
    plain = render_summary("o/r", 1, RUNS)
    within = render_summary("o/r", 1, RUNS, month("150", "15"))
    assert within == plain  # nothing to act on: no word of it in the comment
    check = spend_check(RUNS, month("150", "15"))
    assert check is not None and check.conclusion == "success"
    assert "**Repository, 2026-11 (UTC):** 150.00 USD of 200.00 USD (15.00 USD on this PR)" in (
        check.summary
    )


def test_at_the_limit_is_fine_and_one_atto_over_is_not() -> None:
    assert not is_over_budget(RUNS, month("200", "15"))
    over = month("200.000000000000000001", "15")
    assert is_over_budget(RUNS, over)
    assert "⚠️ takes the repository over its 200.00 USD monthly budget" in headline(over)
    assert "200.000000000000000001 of 200.00 USD" in render_summary("o/r", 1, RUNS, over)


def test_a_pr_that_takes_the_repository_over_fails_the_check() -> None:
    options = month("212.40", "15")
    body = render_summary("o/r", 1, RUNS, options)
    assert headline(options) == (
        "**15.00 USD** spent by 1 run of 2 on this PR · "
        "⚠️ takes the repository over its 200.00 USD monthly budget"
    )
    assert body.splitlines()[2] == (
        "> ⚠️ **over the repository's monthly budget** for 2026-11 (UTC): "
        "212.40 of 200.00 USD (15.00 USD on this PR)"
    )
    check = spend_check(RUNS, options)
    assert check is not None and check.conclusion == "failure"
    assert check.title == "Over the repository's monthly budget (USD): 15.00 USD"
    assert "this PR takes the repository over its monthly budget** (USD)" in check.summary


def test_a_pr_without_spend_this_month_did_not_take_the_repository_over() -> None:
    options = month("250", "0")
    assert "monthly" not in headline(options)
    assert not is_over_budget(RUNS, options)
    check = spend_check(RUNS, options)
    assert check is not None and check.conclusion == "success"
    assert "250.00 USD of 200.00 USD (0.00 USD on this PR)" in check.summary


def test_the_headline_key_follows_the_state_not_the_month_figures() -> None:
    """Other PRs move the month's figures; only crossing the budget is a new headline
    (a new comment in the `recreate` and `hide-and-new` modes)."""

    def key(options: SummaryOptions) -> str | None:
        return headline_key(render_summary("o/r", 1, RUNS, options))

    assert key(month("100", "15")) == key(month("150", "15")) == key(SummaryOptions())
    assert key(month("212", "15")) == key(month("260", "15"))
    assert key(month("212", "15")) != key(month("150", "15"))


def test_budgets_are_per_currency_and_never_converted() -> None:
    runs = [run(1, kind="agent", spend={"USD": "1", "EUR": "900"})]
    figures = MonthSpend(
        "2026-11",
        {"USD": USD("200"), "USDC": USD("5")},
        {"USD": USD("10"), "EUR": USD("900"), "USDC": USD("5.01")},
        {"USD": USD("1"), "EUR": USD("900")},
    )
    options = SummaryOptions(month=figures)
    # EUR has no monthly limit; USDC is over but this PR spent none of it
    assert not is_over_budget(runs, options)
    check = spend_check(runs, options)
    assert check is not None and check.conclusion == "success"
    assert "10.00 USD of 200.00 USD (1.00 USD on this PR), 5.01 USDC of 5.00 USDC" in (
        check.summary
    )
