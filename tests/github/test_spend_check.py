"""Budgets from `.github/audit-bot.yml`, the audit-bot/spend check run, config notices."""

from __future__ import annotations

from typing import Any

import pytest

from bot.render.spend_check import CHECK_NAME
from tests.support.bot import HEAD, REPO, Bot, load_payload
from tests.support.fake_github import FakeGitHub
from tests.support.oidc_issuer import LocalIssuer
from tests.support.reporter_kit import oidc_env, post, the_comment, token_for

CONFIG = (REPO.lower(), ".github/audit-bot.yml")
BUDGETS = """\
# spend limits for this repository
budget:
  per_pr: 1 USD
  per_run:
    review: {USD: 0.05}
"""


@pytest.fixture
async def app_bot(make_bot, issuer: LocalIssuer, app_pem: str) -> Bot:
    return await make_bot(
        GITHUB_TOKEN="", GITHUB_APP_ID="12345", GITHUB_PRIVATE_KEY=app_pem, **oidc_env(issuer)
    )


async def report(bot: Bot, issuer: LocalIssuer, kind: str, *amounts: str) -> str:
    token = token_for(issuer)
    status, opened = await post(bot, "/api/runs", {"kind": kind, "head_sha": HEAD}, token)
    assert status == 201, opened
    events = [{"type": "spend", "amount": a, "currency": "USD", "category": "llm"} for a in amounts]
    status, answer = await post(bot, f"/api/runs/{opened['id']}/events", {"events": events}, token)
    assert status == 201, answer
    return opened["id"]


def spend_checks(github: FakeGitHub) -> list[dict[str, Any]]:
    return [c for c in github.check_runs.values() if c["name"] == CHECK_NAME]


def check_writes(github: FakeGitHub) -> int:
    return len(github.writes(r"/check-runs"))


async def test_over_budget_fails_the_check_and_is_flagged(
    app_bot: Bot, github: FakeGitHub, issuer: LocalIssuer
) -> None:
    github.files[CONFIG] = BUDGETS
    await app_bot.deliver("pull_request", load_payload("pull_request.opened"))
    body = await the_comment(app_bot, github)
    [check] = spend_checks(github)
    assert check["head_sha"] == HEAD and check["status"] == "completed"
    assert check["conclusion"] == "success"
    assert check["output"]["title"] == "No spend recorded"
    assert body.splitlines()[1] == "1 run · CI 🔵 open · within 1.00 USD budget"

    review = await report(app_bot, issuer, "review", "0.10")  # over its kind's 0.05 USD
    body = await the_comment(app_bot, github)
    row = next(line for line in body.splitlines() if review in line)
    assert "| 0.10 of 0.05 USD ⚠️ |" in row
    assert body.splitlines()[2] == "> ⚠️ 1 run over its own budget"
    [check] = spend_checks(github)  # the same check, edited
    assert check["conclusion"] == "failure"
    assert check["output"]["title"] == "Over budget (1 run(s)): 0.10 USD"
    assert (
        f"| `{review}` | review | 0.10 USD | 0.05 USD | ⚠️ over budget |"
        in (check["output"]["summary"])
    )

    await report(app_bot, issuer, "agent", "0.50", "0.45")  # PR total 1.05 > 1 USD
    body = await the_comment(app_bot, github)
    headline, action = body.splitlines()[1:3]
    assert headline.startswith("**1.05 USD** spent by 2 runs")
    assert headline.endswith(" on this PR · ⚠️ 1.05 of 1.00 USD budget")
    assert action == "> ⚠️ **over the PR's budget** in USD; 1 run over its own budget"
    [check] = spend_checks(github)
    assert check["conclusion"] == "failure"
    assert "**PR budget:** 1.00 USD — **⚠️ over budget** (USD)" in check["output"]["summary"]

    # a note changes the comment (the run's digest) but not what the check says
    writes = check_writes(github)
    comments = len(github.writes(r"/comments"))
    status, _ = await post(
        app_bot,
        f"/api/runs/{review}/events",
        {"events": [{"type": "note", "text": "looked at 12 files"}]},
        token_for(issuer),
    )
    assert status == 201
    await the_comment(app_bot, github)
    assert len(github.writes(r"/comments")) == comments + 1
    assert check_writes(github) == writes

    # after a restart the check is found on the commit and edited, not duplicated
    await app_bot.restart()
    await report(app_bot, issuer, "agent", "0.01")
    await the_comment(app_bot, github)
    assert len(spend_checks(github)) == 1
    contents = [r for r in github.requests if r.path.endswith("/contents/.github/audit-bot.yml")]
    assert contents, "the configuration is read through the API"


async def test_invalid_config_is_one_notice_line_and_defaults_apply(
    app_bot: Bot, github: FakeGitHub, issuer: LocalIssuer
) -> None:
    github.files[CONFIG] = "budget:\n  per_pr: 1 USD\n  per_run: [unclosed\n"
    await app_bot.deliver("pull_request", load_payload("pull_request.opened"))
    await report(app_bot, issuer, "review", "3")
    body = await the_comment(app_bot, github)
    notices = [line for line in body.splitlines() if line.startswith("> ⚠️")]
    assert notices == [
        "> ⚠️ `.github/audit-bot.yml` is ignored: not valid YAML at line 4; defaults apply."
    ]
    assert body.splitlines()[1].startswith("**3.00 USD** spent by 1 run")
    assert "budget" not in body.splitlines()[1]  # no budget: the defaults
    [check] = spend_checks(github)
    assert check["conclusion"] == "success"
    assert check["output"]["summary"].startswith("> ⚠️ `.github/audit-bot.yml` is ignored")


async def test_unknown_keys_are_named_in_the_notice(
    app_bot: Bot, github: FakeGitHub, issuer: LocalIssuer
) -> None:
    github.files[CONFIG] = "budgets:\n  per_pr: 1 USD\n"
    await app_bot.deliver("pull_request", load_payload("pull_request.opened"))
    body = await the_comment(app_bot, github)
    assert (
        "> ⚠️ `.github/audit-bot.yml` is ignored: `budgets` is not a known key "
        "(expected budget, comment, spend_check, explorers, pricing); defaults apply."
    ) in body


async def test_spend_check_and_comment_can_be_turned_off(
    app_bot: Bot, github: FakeGitHub, issuer: LocalIssuer
) -> None:
    github.files[CONFIG] = "spend_check: false\ncomment: off\n"
    await app_bot.deliver("pull_request", load_payload("pull_request.opened"))
    await report(app_bot, issuer, "review", "3")
    await app_bot.settle()
    assert spend_checks(github) == []
    assert github.comments_on(REPO, 2) == []


async def test_repository_explorers_add_networks_but_never_replace_builtins(
    app_bot: Bot, github: FakeGitHub, issuer: LocalIssuer
) -> None:
    github.files[CONFIG] = "explorers:\n  eip155:2741: https://abscan.org/tx/{tx}\n"
    await app_bot.deliver("pull_request", load_payload("pull_request.opened"))
    token = token_for(issuer)
    status, opened = await post(bot := app_bot, "/api/runs", {"kind": "agent"}, token)
    tx = "0x" + "ef" * 32
    proof = {"type": "proof", "network": "eip155:2741", "tx": tx, "status": "settled"}
    unknown = {"type": "proof", "network": "eip155:999999", "tx": "0x" + "12" * 32}
    status, _ = await post(
        bot, f"/api/runs/{opened['id']}/events", {"events": [proof, unknown]}, token
    )
    assert status == 201
    body = await the_comment(bot, github)
    assert "| ✅ 2 · [view](" in body  # the table counts them and links the run page
    trail = body[body.index("Trail digests and run IDs") :]  # the collapsed list has each
    assert f"✅ [0xefef…efef](https://abscan.org/tx/{tx})" in trail
    assert "✅ `0x1212…1212` on eip155:999999" in trail  # no explorer known: no link


async def test_token_mode_posts_no_check_runs(
    reporter_bot: Bot, github: FakeGitHub, issuer: LocalIssuer
) -> None:
    github.files[CONFIG] = BUDGETS
    await reporter_bot.deliver("pull_request", load_payload("pull_request.opened"))
    await report(reporter_bot, issuer, "review", "0.10")
    body = await the_comment(reporter_bot, github)
    assert "> ⚠️ 1 run over its own budget" in body  # budgets still apply to the comment
    assert "| 0.10 of 0.05 USD ⚠️ |" in body
    assert github.writes(r"/check-runs") == []
