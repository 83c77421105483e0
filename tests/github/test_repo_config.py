"""`.github/audit-bot.yml`: parsing (exact, strict, one notice) and the cached read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from bot.github.auth import Credentials
from bot.github.client import GitHub
from bot.github.repo_config import DEFAULTS, PATH, RepoConfigs, parse_repo_config
from bot.store.sqlite import SQLiteStore
from tests.support.bot import REPO
from tests.support.fake_github import FakeGitHub


def test_a_full_file_is_read_exactly() -> None:
    config = parse_repo_config(
        "budget:\n"
        "  per_pr: 0.10 USD, 2 USDC\n"
        "  per_run:\n"
        "    review: {USD: 0.05}\n"
        "    agent: 1 USD\n"
        "comment: off\n"
        "spend_check: no\n"
        "explorers:\n"
        "  eip155:2741: https://abscan.org/tx/{tx}\n"
    )
    assert config.pr_budget == {"USD": Decimal("0.1"), "USDC": Decimal("2")}
    assert config.kind_budgets["review"] == {"USD": Decimal("0.05")}  # YAML 0.05, no float
    assert config.comment == "off" and config.spend_check is False
    assert config.explorers == {"eip155:2741": "https://abscan.org/tx/{tx}"}
    assert config.notices == ()


def test_every_problem_is_one_notice_and_the_defaults() -> None:
    cases = {
        "budget: [1": "not valid YAML at line 1",
        "budgets: {}": "`budgets` is not a known key",
        "budget:\n  per_week: 1 USD": "`budget.per_week` is not a known key",
        "budget:\n  per_pr: -1 USD": "`budget.per_pr[0]` must not be negative",
        "budget:\n  per_pr: {USD: .nan}": "`budget.per_pr.USD` must be a plain decimal number",
        "comment: sometimes": "`comment` must be one of update, recreate, hide-and-new, off",
        "spend_check: maybe": "`spend_check` must be true or false",
        "explorers:\n  base: https://evil.example/tx/{tx}": "already has a built-in explorer",
        "explorers:\n  eip155:2741: http://plain.example/tx/{tx}": "must be an https:// URL",
        "- a list": "must be an object",
        "x" * 70_000: "larger than 64 KiB",
    }
    for text, reason in cases.items():
        config = parse_repo_config(text)
        assert len(config.notices) == 1, text
        assert reason in config.notices[0], (text, config.notices)
        assert config.notices[0].endswith("; defaults apply.")
        assert (config.pr_budget, config.comment, config.spend_check) == ({}, "update", True)
    assert parse_repo_config("") == DEFAULTS
    assert (DEFAULTS.comment, DEFAULTS.comment_when) == ("update", "always")
    assert parse_repo_config("# only a comment\n") == DEFAULTS


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    """Where the client counts its writes (these tests only read)."""
    store = SQLiteStore(f"sqlite:///{tmp_path}/audit.db")
    await store.open()
    yield store
    await store.close()


async def test_reads_are_cached_then_revalidated_with_the_etag(
    github: FakeGitHub, store: SQLiteStore
) -> None:
    github.files[(REPO.lower(), ".github/audit-bot.yml")] = "budget:\n  per_pr: 3 USD\n"
    clock = Clock()
    configs = RepoConfigs(ttl=60, clock=clock)
    async with aiohttp.ClientSession() as session:
        client = GitHub(session, Credentials(session, api_url=github.url, token="ghp_x"), store)
        gh = await client.api(None)
        first = await configs.get(gh, REPO)
        again = await configs.get(gh, REPO)  # within the TTL: no request
        clock.now = 61
        revalidated = await configs.get(await client.api(None), REPO)
    reads = [r for r in github.requests if r.path == f"/repos/{REPO}/contents/{PATH}"]
    assert len(reads) == 2
    assert "If-None-Match" not in reads[0].headers
    assert reads[1].headers["If-None-Match"]  # answered 304 by the fake, body reused
    assert first == again == revalidated and first.pr_budget == {"USD": Decimal("3")}


async def test_missing_file_is_defaults_and_forbidden_is_a_notice(
    github: FakeGitHub, store: SQLiteStore
) -> None:
    async with aiohttp.ClientSession() as session:
        client = GitHub(session, Credentials(session, api_url=github.url, token="ghp_x"), store)
        assert await RepoConfigs().get(await client.api(None), REPO) == DEFAULTS
        github.fail("GET", rf"/repos/{REPO}/contents/", 403)
        config = await RepoConfigs().get(await client.api(None), REPO)
    assert config.notices == (
        "`.github/audit-bot.yml` cannot be read (the App needs contents: read).",
    )


def test_comment_mode_and_when_as_a_mapping_or_the_old_scalar() -> None:
    def read(text: str) -> tuple[str, str, tuple[str, ...]]:
        config = parse_repo_config(text)
        return config.comment, config.comment_when, config.notices

    assert read("comment: update\n") == ("update", "always", ())
    assert read("comment: off\n") == ("off", "always", ())  # YAML 1.1 reads it as false
    assert read("comment:\n  mode: hide-and-new\n  when: spend\n") == (
        "hide-and-new",
        "spend",
        (),
    )
    assert read("comment: {mode: recreate}\n") == ("recreate", "always", ())
    assert read("comment: {when: over-budget}\n") == ("update", "over-budget", ())
    assert read("comment: {mode: off, when: spend}\n") == ("off", "spend", ())
