"""`comment: {mode, when}` against the fake GitHub: recreate, hide-and-new, when: spend.

The worker runs on its real GitHub client (token mode, paced writes) and reads the
repository's `.github/audit-bot.yml` from the fake; the store is a small stand-in that
holds the PR's runs and its comment record.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.github.auth import Credentials
from bot.github.client import GitHub
from bot.github.repo_config import RepoConfigs
from bot.render.summary import SummaryOptions
from bot.store.base import SUMMARY, CommentRecord, OutboxItem
from bot.workers.outbox import OutboxWorker
from tests.render.test_summary import run
from tests.support.fake_github import FakeGitHub

REPO = "octo/widgets"
PR = 7


class Stand:
    """The store calls the worker makes for one PR's comment."""

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []
        self.comment: CommentRecord | None = None

    async def list_runs(self, _filter: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in self.runs]

    async def get_comment(self, repo: str, pr: int) -> CommentRecord | None:
        return self.comment

    async def save_comment(self, repo: str, pr: int, comment_id: int | None, body: str) -> None:
        sha = hashlib.sha256(body.encode()).hexdigest()
        self.comment = CommentRecord(repo, pr, comment_id, body, sha, "now")

    async def take_write_slot(self, *args: Any) -> None:
        return None

    async def set_state(self, name: str, value: str) -> None:
        return None  # the settings saved for the read side (not these tests' concern)


@pytest.fixture
async def worker(github: FakeGitHub) -> AsyncIterator[tuple[OutboxWorker, Stand]]:
    stand = Stand()
    async with aiohttp.ClientSession() as session:
        credentials = Credentials(session, api_url=github.url, token="ghp_test")
        client = GitHub(session, credentials, stand)  # type: ignore[arg-type]
        yield (
            OutboxWorker(
                stand,  # type: ignore[arg-type]
                client,
                debounce=0,
                options=lambda repo, pr: SummaryOptions(public_url="http://127.0.0.1:8000"),
                repo_configs=RepoConfigs(ttl=0.0),
            ),
            stand,
        )


async def refresh(worker: OutboxWorker) -> None:
    item = OutboxItem(f"{SUMMARY}:{REPO}#{PR}", SUMMARY, REPO, PR, None, 1, 0, 0.0)
    await worker._refresh_summary(item)


def configure(github: FakeGitHub, text: str) -> None:
    github.files[(REPO.lower(), ".github/audit-bot.yml")] = text


def ci(status: str = "running") -> dict[str, Any]:
    return run(1, repo=REPO, pr=PR, status=status, finished_at=None)


def review(spend: str) -> dict[str, Any]:
    return run(2, repo=REPO, pr=PR, kind="review", name="claude", spend={"USD": spend})


async def test_recreate_deletes_and_posts_once_per_headline_change(
    worker: tuple[OutboxWorker, Stand], github: FakeGitHub
) -> None:
    bot, stand = worker
    configure(github, "comment: {mode: recreate}\n")
    stand.runs = [ci()]
    await refresh(bot)
    [first] = github.comments_on(REPO, PR)
    stand.runs = [ci("succeeded")]  # a status change: an edit of the same comment
    await refresh(bot)
    assert [c["id"] for c in github.comments_on(REPO, PR)] == [first["id"]]
    assert "succeeded" in github.comments_on(REPO, PR)[0]["body"]
    stand.runs = [ci("succeeded"), review("0.40")]  # spend: a new headline
    await refresh(bot)
    [second] = github.comments_on(REPO, PR)
    assert second["id"] != first["id"] and "**0.40 USD** spent" in second["body"]
    methods = [(w.method, w.path.rsplit("/", 1)[-1]) for w in github.writes(r"/comments")]
    assert methods == [
        ("POST", "comments"),
        ("PATCH", str(first["id"])),
        ("DELETE", str(first["id"])),
        ("POST", "comments"),
    ]
    await refresh(bot)  # nothing changed: nothing written
    assert len(github.writes(r"/comments")) == 4


async def test_hide_and_new_minimizes_the_previous_as_outdated(
    worker: tuple[OutboxWorker, Stand], github: FakeGitHub
) -> None:
    bot, stand = worker
    configure(github, "comment:\n  mode: hide-and-new\n")
    stand.runs = [ci()]
    await refresh(bot)
    [first] = github.comments_on(REPO, PR)
    stand.runs = [ci("succeeded")]
    await refresh(bot)
    assert github.minimized == [] and len(github.comments_on(REPO, PR)) == 1
    stand.runs = [ci("succeeded"), review("0.40")]
    await refresh(bot)
    assert github.minimized == [(first["id"], "OUTDATED")]
    [shown] = github.visible_comments(REPO, PR)
    assert shown["id"] != first["id"] and "0.40 USD" in shown["body"]
    assert len(github.comments_on(REPO, PR)) == 2  # the old one stays, hidden
    graphql = [r for r in github.requests if r.path == "/graphql"]
    assert graphql[0].body["variables"] == {"id": first["node_id"]}
    assert "classifier: OUTDATED" in graphql[0].body["query"]


async def test_a_burst_writes_once_per_headline_change(
    worker: tuple[OutboxWorker, Stand], github: FakeGitHub
) -> None:
    bot, stand = worker
    configure(github, "comment: {mode: hide-and-new}\n")
    changes = 0
    for event in range(100):
        if event % 40 == 0:  # the spend moves three times in the burst
            changes += 1
            stand.runs = [ci("succeeded"), review(f"0.{changes}0")]
        await refresh(bot)
        assert len(github.visible_comments(REPO, PR)) == 1  # never two unhidden
    posts = [w for w in github.writes(r"/issues/7/comments$") if w.method == "POST"]
    assert len(posts) == changes == 3
    assert len(github.minimized) == 2
    assert len(github.writes()) == 3 + 2  # no edits: the body changed only with the headline


async def test_when_spend_posts_nothing_for_ci_only_then_once_spend_arrives(
    worker: tuple[OutboxWorker, Stand], github: FakeGitHub
) -> None:
    bot, stand = worker
    configure(github, "comment: {mode: update, when: spend}\n")
    stand.runs = [ci()]
    await refresh(bot)
    stand.runs = [ci("succeeded")]
    await refresh(bot)
    assert github.comments_on(REPO, PR) == [] and github.writes(r"/comments") == []
    assert bot.skipped_quiet == 2
    stand.runs = [ci("succeeded"), review("0.10")]
    await refresh(bot)
    [posted] = github.comments_on(REPO, PR)
    assert "**0.10 USD** spent by 1 run of 2" in posted["body"]
    stand.runs = [ci("failed"), review("0.10")]  # once posted, it keeps following the PR
    await refresh(bot)
    assert "❌ failed" in github.comments_on(REPO, PR)[0]["body"]


async def test_when_over_budget_waits_for_the_budget_to_be_exceeded(
    worker: tuple[OutboxWorker, Stand], github: FakeGitHub
) -> None:
    bot, stand = worker
    configure(github, "budget: {per_pr: 1 USD}\ncomment: {when: over-budget}\n")
    stand.runs = [ci("succeeded"), review("0.50")]
    await refresh(bot)
    assert github.comments_on(REPO, PR) == []
    stand.runs = [ci("succeeded"), review("1.50")]
    await refresh(bot)
    [posted] = github.comments_on(REPO, PR)
    assert "⚠️ 1.50 of 1.00 USD budget" in posted["body"].splitlines()[1]
