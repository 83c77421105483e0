"""Outbox rows across workers: one PR, one comment, whatever GitHub's pace or spelling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.github.auth import Credentials
from bot.github.client import GitHub
from bot.render.summary import SummaryOptions
from bot.store.sqlite import SQLiteStore
from bot.trail import events as ev
from bot.trail import intents as it
from bot.workers.outbox import OutboxWorker
from tests.support.fake_github import FakeGitHub


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)
    return value


def opened(repo: str, pr: int, kind: str = "pr") -> it.Command:
    spec = it.RunSpec(kind, repo, pr, "a" * 40, installation_id=None, private=False)
    source = ev.Source("webhook", f"{repo}#{pr}/{kind}", "pull_request", "opened")
    return it.Command(source, [it.OpenRun(f"{kind}:{repo.lower()}#{pr}", spec, [])])


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(f"sqlite:///{tmp_path}/audit.db", debounce=0.0)
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def workers(
    store: SQLiteStore, github: FakeGitHub
) -> AsyncIterator[Callable[[int], list[OutboxWorker]]]:
    """Outbox workers of separate "instances" (own GitHub client each) on one store."""
    started: list[OutboxWorker] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        def make(count: int) -> list[OutboxWorker]:
            for _ in range(count):
                credentials = Credentials(session, api_url=github.url, token="ghp_test")
                worker = OutboxWorker(
                    store,
                    GitHub(session, credentials, store),
                    debounce=0.0,
                    options=lambda repo, pr: SummaryOptions(),
                )
                started.append(worker)
            return started

        yield make
        for worker in started:
            await worker.stop()


async def test_a_slow_github_never_lets_two_workers_post_one_prs_first_comment(
    store: SQLiteStore, github: FakeGitHub, workers: Callable[[int], list[OutboxWorker]]
) -> None:
    # GitHub takes longer to create the comment than the worker's lease: without a
    # deadline the other worker claims the row when the lease runs out, finds no
    # comment yet, and posts a second one.
    github.slow("POST", r"/issues/\d+/comments$", 1.6)
    first, second = workers(2)
    for worker in (first, second):
        worker.lease = 1.0
    await store.apply(opened("Acme/Widgets", 7))
    first.start()

    await until(lambda: asyncio.sleep(0, result=github.in_flight > 0))
    second.start()
    await until(lambda: asyncio.sleep(0, result=bool(github.comments_on("Acme/Widgets", 7))))
    github.delays.clear()  # GitHub is quick again: retries may go through
    for worker in (first, second):
        worker.wake()
    await until(lambda: _settled(store), timeout=15)
    await asyncio.sleep(0.3)  # time for a second post, had a worker made one

    assert len(github.comments_on("Acme/Widgets", 7)) == 1
    assert len(github.writes(r"/issues/7/comments$")) == 1  # the one slow create


async def _settled(store: SQLiteStore) -> bool:
    status = await store.outbox_status()
    return status["pending"] == 0 and status["failed"] == 0


async def test_runs_spelling_the_repository_differently_share_one_comment(
    store: SQLiteStore, github: FakeGitHub, workers: Callable[[int], list[OutboxWorker]]
) -> None:
    # A webhook names the repository as GitHub spells it; a reporter may write it in
    # lower case. Both runs belong to one PR: one outbox row, one comment.
    await store.apply(opened("Acme/Widgets", 3))
    await store.apply(opened("acme/widgets", 3, kind="agent"))
    assert (await store.outbox_status())["pending"] == 1

    [worker] = workers(1)
    worker.start()
    await until(lambda: _settled(store))

    [comment] = github.comments_on("acme/widgets", 3)
    assert comment["body"].count("\n- `") == 2  # both runs listed in the one comment
    assert comment["body"].splitlines()[1].startswith("2 runs · ")
