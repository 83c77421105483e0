"""What a repository's config file can put into the PR comment: one short line."""

from __future__ import annotations

from decimal import Decimal

from bot.github.repo_config import parse_repo_config
from bot.render.summary import MAX_BODY_CHARS, SummaryOptions, render_summary
from tests.render.test_summary import run


def test_a_huge_unknown_key_cannot_push_the_comment_past_githubs_limit() -> None:
    config = parse_repo_config('? "' + "k" * 60_000 + '"\n: 1\n')  # a YAML explicit key

    [notice] = config.notices
    assert len(notice) < 400 and "is not a known key" in notice
    body = render_summary("acme/widgets", 1, [], SummaryOptions(notices=config.notices))
    assert len(body) < MAX_BODY_CHARS


def test_a_key_with_line_breaks_stays_inside_its_notice_line() -> None:
    config = parse_repo_config('"budgets\\n\\n## Approved by the security team": 1\n')

    body = render_summary("acme/widgets", 1, [], SummaryOptions(notices=config.notices))
    assert "\n## Approved" not in body
    [line] = [line for line in body.splitlines() if "Approved" in line]
    assert line.startswith("> ⚠️ `.github/audit-bot.yml` is ignored")


def test_a_run_spending_in_thousands_of_currencies_keeps_the_comment_postable() -> None:
    # Currencies are open-ended token symbols: one reporter recording a spend in each
    # of 3,000 made one cell and the total line longer than GitHub accepts, and every
    # later update of the PR's comment was refused.
    spend = {f"T{n:06d}": "123456789.123456" for n in range(3000)}
    budget = {f"T{n:06d}": "1" for n in range(3000)}
    runs = [run(1, spend=spend, budget=budget), run(2, spend={"USD": "0.5"})]

    pr_budget = {currency: Decimal(1) for currency in budget}
    body = render_summary("o/r", 1, runs, SummaryOptions(budget=pr_budget))

    assert len(body) < MAX_BODY_CHARS
    assert "+2994 more" in body  # counted, not dropped silently
    assert "0.50 USD" in body  # the other run is still listed
