"""Organisation config: `.github/audit-bot.yml` in `OWNER/.github` supplies defaults that
a repository's own file overrides setting by setting, read through the installation's
client from the fake GitHub on loopback, cached per owner like the repository's file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest

from bot.github.auth import Credentials
from bot.github.client import GitHub
from bot.github.repo_config import PATH, RepoConfigs, config_from, merge_settings
from bot.store.sqlite import SQLiteStore
from tests.github.test_repo_config import Clock
from tests.github.test_repo_config import store as store  # the fixture, shared
from tests.support.bot import REPO
from tests.support.fake_github import FakeGitHub

OWNER = REPO.split("/")[0]
ORG = f"{OWNER}/.github"
OTHER = f"{OWNER}/other-repo"

ORG_FILE = (
    "budget:\n"
    "  per_pr: 5 USD\n"
    "  per_month: 200 USD, 50 USDC\n"
    "  per_run:\n"
    "    review: 1 USD\n"
    "    agent: 2 USD\n"
    "comment:\n"
    "  when: spend\n"
    "explorers:\n"
    "  eip155:2741: https://abscan.org/tx/{tx}\n"
    "pricing:\n"
    "  My-LLM: {input: 1, output: 2}\n"
    "  other-llm: {input: 5, output: 6}\n"
)


@pytest.fixture
async def client(github: FakeGitHub, store: SQLiteStore) -> AsyncIterator[GitHub]:
    async with aiohttp.ClientSession() as session:
        yield GitHub(session, Credentials(session, api_url=github.url, token="ghp_x"), store)


def reads_of(github: FakeGitHub, repo: str) -> list[dict[str, str]]:
    return [r.headers for r in github.requests if r.path == f"/repos/{repo}/contents/{PATH}"]


async def test_the_repository_file_overrides_the_owner_file_key_by_key(
    github: FakeGitHub, client: GitHub
) -> None:
    github.files[(ORG.lower(), PATH)] = ORG_FILE
    github.files[(REPO.lower(), PATH)] = (
        "budget:\n"
        "  per_pr: 10 USD\n"  # replaces only budget.per_pr
        "  per_run:\n"
        "    review: 3 USD\n"  # replaces only the review kind's limit
        "comment: recreate\n"  # the mode; the owner's `when` stays
        "pricing:\n"
        "  my-llm: {input: 3, output: 4}\n"  # the same model, however it is spelled
    )
    config = await RepoConfigs().get(await client.api(None), REPO)
    assert config.notices == ()
    assert config.pr_budget == {"USD": Decimal("10")}
    assert config.month_budget == {"USD": Decimal("200"), "USDC": Decimal("50")}
    assert config.kind_budgets == {"review": {"USD": Decimal("3")}, "agent": {"USD": Decimal("2")}}
    assert (config.comment, config.comment_when) == ("recreate", "spend")
    assert config.explorers == {"eip155:2741": "https://abscan.org/tx/{tx}"}
    mine = config.pricing.find("my-llm", None)
    assert mine is not None and mine.rates == {"input": Decimal("3"), "output": Decimal("4")}
    assert config.pricing.find("other-llm", None) is not None  # the owner's, kept

    # A repository without a file of its own gets the owner's settings whole.
    alone = await RepoConfigs().get(await client.api(None), OTHER)
    assert alone.pr_budget == {"USD": Decimal("5")}
    assert alone.comment == "update" and alone.comment_when == "spend"


def test_a_whole_setting_is_replaced_never_merged_inside() -> None:
    """`budget.per_pr` is one setting: the repository's USDC-only limit drops the
    owner's USD one rather than adding to it."""
    merged = merge_settings(
        {"budget": {"per_pr": {"USD": 5}, "per_month": "200 USD"}, "spend_check": True},
        {"budget": {"per_pr": {"USDC": 7}}, "spend_check": False},
    )
    assert merged == {
        "budget": {"per_pr": {"USDC": 7}, "per_month": "200 USD"},
        "spend_check": False,
    }
    config = config_from("budget:\n  per_pr: {USD: 5}\n", "budget:\n  per_pr: {USDC: 7}\n")
    assert config.pr_budget == {"USDC": Decimal("7")}


async def test_an_invalid_owner_file_is_one_notice_naming_it_and_the_repository_applies(
    github: FakeGitHub, client: GitHub
) -> None:
    github.files[(ORG.lower(), PATH)] = "budget:\n  per_month: lots\n"
    github.files[(REPO.lower(), PATH)] = "budget:\n  per_pr: 10 USD\n"
    config = await RepoConfigs().get(await client.api(None), REPO)
    assert config.notices == (
        f"`{PATH}` in `{ORG}` is ignored: `budget.per_month[0]` expected "
        '"AMOUNT CURRENCY" like "5 USD", got \'lots\'; defaults apply.',
    )
    assert config.pr_budget == {"USD": Decimal("10")} and config.month_budget == {}


async def test_an_invalid_repository_file_leaves_the_owner_settings_in_force(
    github: FakeGitHub, client: GitHub
) -> None:
    github.files[(ORG.lower(), PATH)] = ORG_FILE
    github.files[(REPO.lower(), PATH)] = "budgets: {}\n"
    config = await RepoConfigs().get(await client.api(None), REPO)
    assert len(config.notices) == 1
    assert config.notices[0].startswith(f"`{PATH}` is ignored: `budgets` is not a known key")
    assert config.notices[0].endswith(f"`{ORG}`'s settings apply.")
    assert config.pr_budget == {"USD": Decimal("5")}  # the owner's
    assert config.month_budget["USD"] == Decimal("200")


async def test_an_owner_file_the_app_may_not_read_is_named_in_its_notice(
    github: FakeGitHub, client: GitHub
) -> None:
    github.files[(REPO.lower(), PATH)] = "budget:\n  per_pr: 10 USD\n"
    github.fail("GET", rf"/repos/{ORG}/contents/", 403)
    config = await RepoConfigs().get(await client.api(None), REPO)
    assert config.notices == (
        f"`{PATH}` in `{ORG}` cannot be read (the App needs contents: read).",
    )
    assert config.pr_budget == {"USD": Decimal("10")}


async def test_the_owner_file_is_read_once_per_owner_then_revalidated_with_its_etag(
    github: FakeGitHub, client: GitHub
) -> None:
    github.files[(ORG.lower(), PATH)] = ORG_FILE
    clock = Clock()
    configs = RepoConfigs(ttl=60, clock=clock)
    for repo in (REPO, OTHER, REPO):
        await configs.get(await client.api(None), repo)
    assert len(reads_of(github, ORG)) == 1  # shared by the owner's repositories
    assert len(reads_of(github, REPO)) == 1 and len(reads_of(github, OTHER)) == 1
    clock.now = 61
    again = await configs.get(await client.api(None), REPO)
    org_reads = reads_of(github, ORG)
    assert len(org_reads) == 2
    assert "If-None-Match" not in org_reads[0] and org_reads[1]["If-None-Match"]
    assert again.month_budget == {"USD": Decimal("200"), "USDC": Decimal("50")}

    # A changed owner file takes effect once the TTL has passed.
    github.files[(ORG.lower(), PATH)] = "budget:\n  per_month: 300 USD\n"
    assert (await configs.get(await client.api(None), REPO)).month_budget["USD"] == 200
    clock.now = 122
    changed = await configs.get(await client.api(None), REPO)
    assert changed.month_budget == {"USD": Decimal("300")}


async def test_the_owner_repository_itself_reads_its_file_once(
    github: FakeGitHub, client: GitHub
) -> None:
    github.files[(ORG.lower(), PATH)] = "budget: [\n"
    config = await RepoConfigs().get(await client.api(None), ORG)
    assert len(reads_of(github, ORG)) == 1
    assert config.notices == (f"`{PATH}` is ignored: not valid YAML at line 2; defaults apply.",)
