"""What a repository's config file can put into the PR comment: one short line."""

from __future__ import annotations

from bot.repo_config import parse_repo_config
from bot.summary import MAX_BODY_CHARS, SummaryOptions, render_summary


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
