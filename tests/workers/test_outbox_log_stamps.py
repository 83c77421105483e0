"""The comment waits for the signed log, and a slow integrator costs at most one edit.

A real SQLite store, the real outbox worker and integrator, the fake GitHub on loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.github.auth import Credentials
from bot.github.client import GitHub
from bot.render.log_stamp import published_notes
from bot.render.summary import SummaryOptions
from bot.store.sqlite import SQLiteStore
from bot.trail import checkpoint as cp
from bot.workers import outbox
from bot.workers.log_integrator import LogIntegrator
from bot.workers.outbox import OutboxWorker
from tests.support.fake_github import FakeGitHub
from tests.workers.test_outbox_claims import opened

REPO = "Acme/Widgets"
ORIGIN = "audit.example.test/audit-bot"


@pytest.fixture
async def stand(
    tmp_path: Path, github: FakeGitHub
) -> AsyncIterator[tuple[SQLiteStore, OutboxWorker, LogIntegrator]]:
    store = SQLiteStore(f"sqlite:///{tmp_path}/audit.db", debounce=0.0)
    await store.open()
    async with aiohttp.ClientSession() as session:
        credentials = Credentials(session, api_url=github.url, token="ghp_test")
        worker = OutboxWorker(
            store,
            GitHub(session, credentials, store),
            debounce=0.0,
            options=lambda repo, pr: SummaryOptions(),
            log_stamps=True,
        )
        yield store, worker, LogIntegrator(store, cp.generate_signer(ORIGIN))
    await store.close()


def body(github: FakeGitHub, pr: int = 7) -> str:
    [comment] = github.comments_on(REPO, pr)
    return str(comment["body"])


async def test_the_first_comment_waits_for_the_checkpoint_instead_of_editing_later(
    stand: tuple[SQLiteStore, OutboxWorker, LogIntegrator], github: FakeGitHub
) -> None:
    store, worker, integrator = stand
    await store.apply(opened(REPO, 7))

    async def integrate_soon() -> None:
        await asyncio.sleep(0.3)  # the integrator, woken by the commit, a little later
        await integrator.run_once()

    await asyncio.gather(worker.drain(), integrate_soon())
    [note] = published_notes(body(github))
    latest = await store.latest_checkpoint()
    assert latest is not None and note == latest.note and latest.size == 1
    assert len(github.writes(r"/comments")) == 1  # posted once, with the checkpoint
    assert (await store.outbox_status())["pending"] == 0


async def test_a_slow_integrator_costs_one_more_edit_and_no_more(
    stand: tuple[SQLiteStore, OutboxWorker, LogIntegrator],
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, worker, integrator = stand
    monkeypatch.setattr(outbox, "LOG_WAIT", 0.2)
    monkeypatch.setattr(outbox, "LOG_FOLLOW_UP", 0.1)
    await store.apply(opened(REPO, 7))
    await worker.drain()  # nothing integrated within LOG_WAIT: posted as pending
    assert "join the signed transparency log within seconds" in body(github)
    assert published_notes(body(github)) == []
    assert (await store.outbox_status())["pending"] == 1  # the row comes back

    for _ in range(3):  # still no checkpoint: the row looks again, writes nothing
        await asyncio.sleep(0.15)
        await worker.drain(patient=False)
    assert len(github.writes(r"/comments")) == 1

    await integrator.run_once()
    await asyncio.sleep(0.15)
    await worker.drain(patient=False)
    assert len(published_notes(body(github))) == 1
    writes = github.writes(r"/comments")
    assert [w.method for w in writes] == ["POST", "PATCH"]  # exactly one more edit
    assert (await store.outbox_status())["pending"] == 0
    await asyncio.sleep(0.15)
    await worker.drain()
    assert len(github.writes(r"/comments")) == 2
