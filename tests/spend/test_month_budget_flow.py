"""Monthly budgets end to end: the owner's `.github` file sets `budget.per_month`, two
PRs report spend through the reporter API, the second takes the repository over; its
comment and check run say so, the first PR's do not, and the repository page shows the
month against the budget. The repository's `pricing:` prices reported tokens."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.github.repo_config import PATH
from bot.render.spend_check import CHECK_NAME
from bot.store.base import RunFilter
from tests.support.bot import HEAD, REPO, Bot, load_payload
from tests.support.fake_github import FakeGitHub
from tests.support.oidc_issuer import LocalIssuer
from tests.support.reporter_kit import oidc_env, post, token_for

OWNER = REPO.split("/")[0]
OTHER_HEAD = "c" * 40


@pytest.fixture
async def app_bot(make_bot: Any, issuer: LocalIssuer, app_pem: str) -> Bot:
    return await make_bot(
        GITHUB_TOKEN="", GITHUB_APP_ID="12345", GITHUB_PRIVATE_KEY=app_pem, **oidc_env(issuer)
    )


async def open_pr(bot: Bot, pr: int, head: str) -> None:
    payload = load_payload(
        "pull_request.opened", number=pr, pull_request__number=pr, pull_request__head__sha=head
    )
    status, _ = await bot.deliver("pull_request", payload)
    assert status == 200


async def report(bot: Bot, issuer: LocalIssuer, pr: int, head: str, *events: dict) -> str:
    token = token_for(issuer, pr=pr)
    status, opened = await post(bot, "/api/runs", {"kind": "agent", "head_sha": head}, token)
    assert status == 201, opened
    status, answer = await post(bot, f"/api/runs/{opened['id']}/events", {"events": events}, token)
    assert status == 201, answer
    return str(opened["id"])


def usd(amount: str) -> dict[str, str]:
    return {"type": "spend", "amount": amount, "currency": "USD", "category": "llm"}


async def comment(bot: Bot, github: FakeGitHub, pr: int) -> list[str]:
    await bot.settle()
    [found] = github.comments_on(REPO, pr)
    return str(found["body"]).splitlines()


def check_on(github: FakeGitHub, head: str) -> dict[str, Any]:
    [check] = [
        c for c in github.check_runs.values() if c["name"] == CHECK_NAME and c["head_sha"] == head
    ]
    return check


async def test_the_pr_that_takes_the_repository_over_its_monthly_budget_is_flagged(
    app_bot: Bot, github: FakeGitHub, issuer: LocalIssuer
) -> None:
    # The owner's defaults set the monthly budget; the repository's file sets only per_pr.
    github.files[(f"{OWNER}/.github".lower(), PATH)] = "budget:\n  per_month: 1 USD\n"
    github.files[(REPO.lower(), PATH)] = "budget:\n  per_pr: 5 USD\n"

    await open_pr(app_bot, 2, HEAD)
    await report(app_bot, issuer, 2, HEAD, usd("0.60"))
    first = await comment(app_bot, github, 2)
    assert first[1] == "**0.60 USD** spent by 1 run of 2 on this PR · within 5.00 USD budget"
    check = check_on(github, HEAD)
    assert check["conclusion"] == "success"
    assert "0.60 USD of 1.00 USD (0.60 USD on this PR)" in check["output"]["summary"]

    await open_pr(app_bot, 3, OTHER_HEAD)
    await report(app_bot, issuer, 3, OTHER_HEAD, usd("0.25"), usd("0.15"))  # 1.00: at the limit
    assert "monthly" not in "\n".join(await comment(app_bot, github, 3))
    assert check_on(github, OTHER_HEAD)["conclusion"] == "success"

    await report(app_bot, issuer, 3, OTHER_HEAD, usd("0.000001"))  # one millionth over
    second = await comment(app_bot, github, 3)
    assert second[1] == (
        "**0.400001 USD** spent by 2 runs of 3 on this PR · within 5.00 USD budget · "
        "⚠️ takes the repository over its 1.00 USD monthly budget"
    )
    assert second[2].startswith("> ⚠️ **over the repository's monthly budget** for ")
    assert second[2].endswith(" (UTC): 1.000001 of 1.00 USD (0.400001 USD on this PR)")
    check = check_on(github, OTHER_HEAD)
    assert check["conclusion"] == "failure"
    assert check["output"]["title"] == ("Over the repository's monthly budget (USD): 0.400001 USD")
    # PR 2 changed nothing since: its comment and check stand as they were
    assert await comment(app_bot, github, 2) == first
    assert check_on(github, HEAD)["conclusion"] == "success"

    # The repository page: the month against the budget, flagged over
    status, page = await app_bot.request("GET", f"/repos/{REPO}")
    assert status == 200
    assert "1.000001 of 1.00 USD ⚠️ over budget" in page


async def test_reported_tokens_are_priced_by_the_repository_override(
    app_bot: Bot, github: FakeGitHub, issuer: LocalIssuer
) -> None:
    """`pricing:` in the repository's file (over the owner's) prices a CI step's tokens."""
    github.files[(f"{OWNER}/.github".lower(), PATH)] = (
        "pricing:\n  house-llm: {input: 100, output: 100}\n  gpt-4o: {input: 9, output: 9}\n"
    )
    github.files[(REPO.lower(), PATH)] = (
        "pricing:\n  house-llm: {input: 0.15, output: 0.6, cache_read: 0.075}\n"
    )
    await open_pr(app_bot, 2, HEAD)  # the outbox reads the files and saves the prices
    await app_bot.settle()
    tokens = {
        "type": "spend",
        "model": "house-llm",
        "input_tokens": 1_234_567,
        "cache_read_tokens": 200_000,
        "output_tokens": 89_012,
    }
    run_id = await report(app_bot, issuer, 2, HEAD, tokens)
    events = [e for e in await app_bot.store.get_events(run_id) if e.type == "spend"]
    [priced] = [e.data for e in events]
    # (1,034,567 × 0.15 + 200,000 × 0.075 + 89,012 × 0.6) / 1,000,000, by hand
    expected = (
        Decimal(1_034_567) * Decimal("0.15")
        + Decimal(200_000) * Decimal("0.075")
        + Decimal(89_012) * Decimal("0.6")
    ) / Decimal(1_000_000)
    assert Decimal(priced["amount"]) == expected == Decimal("0.22359225")
    assert priced["currency"] == "USD"
    assert priced["priced_by"]["source"] == "repository"
    assert priced["priced_by"]["rates"]["input"] == "0.15"

    # The owner's override of a table model applies too (the repository names none).
    run_id = await report(
        app_bot,
        issuer,
        2,
        HEAD,
        {"type": "spend", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 1000},
    )
    [owner_priced] = [e.data for e in await app_bot.store.get_events(run_id) if e.type == "spend"]
    assert owner_priced["amount"] == "0.018"
    assert owner_priced["priced_by"]["source"] == "repository"

    # Events sent with the open call are priced the same way.
    inline = {"type": "spend", "model": "HOUSE-LLM", "input_tokens": 1_000_000}
    status, opened = await post(
        app_bot,
        "/api/runs",
        {"kind": "review", "head_sha": HEAD, "events": [inline]},
        token_for(issuer, pr=2),
    )
    assert status == 201, opened
    [at_open] = [e.data for e in await app_bot.store.get_events(opened["id"]) if e.type == "spend"]
    assert at_open["amount"] == "0.15" and at_open["priced_by"]["source"] == "repository"


async def test_a_caller_without_rights_to_the_repository_gets_no_repository_prices(
    app_bot: Bot, github: FakeGitHub, issuer: LocalIssuer
) -> None:
    """A token for another repository is refused the same way whether or not the named
    repository has prices of its own, so the refusal tells nothing about its file."""
    github.files[(REPO.lower(), PATH)] = "pricing:\n  house-llm: {input: 1, output: 1}\n"
    await open_pr(app_bot, 2, HEAD)
    await app_bot.settle()
    answers = []
    for repo in (REPO, f"{OWNER}/no-prices"):
        body = {
            "kind": "agent",
            "repo": repo,
            "events": [{"type": "spend", "model": "house-llm", "input_tokens": 10}],
        }
        answers.append(await post(app_bot, "/api/runs", body, token_for(issuer, "octo/elsewhere")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 422 and "model" in str(answers[0][1])
    assert await app_bot.store.list_runs(RunFilter(repo=REPO, kind="agent")) == []
