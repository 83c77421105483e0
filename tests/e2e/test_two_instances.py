"""Two bot processes on one PostgreSQL, fed interleaved deliveries for the same PRs.

Each process is a real `python -m bot` on its own port (token mode against the fake
GitHub served by this test). Every delivery is sent to one instance and its
redelivery to the other, at the same time as deliveries for the same runs on both:
the trails must stay gap-free, each delivery must count once, and each PR must end
with exactly one bot comment, the one that matches its trail.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.render.summary import MARKER
from bot.store.base import RunFilter
from bot.store.postgres import PostgresStore
from bot.trail.events import verify_chain
from tests.support.bot import REPO, SECRET, load_payload, sign
from tests.support.bot_process import BotProcess
from tests.support.fake_github import TOKEN_USER, FakeGitHub

PRS = range(1, 7)
JOBS_ON_FIRST_HEAD = 8
JOBS_ON_SECOND_HEAD = 4


@pytest.fixture
async def instances(
    tmp_path: Path, bot_env: dict[str, str], postgres_url: str
) -> AsyncIterator[list[BotProcess]]:
    env = {**bot_env, "DATABASE_URL": postgres_url}
    started = [BotProcess(env, tmp_path / f"bot-{n}.log") for n in range(2)]
    try:
        await asyncio.gather(*(instance.start(timeout=30.0) for instance in started))
        yield started
    finally:
        for instance in started:
            instance.stop_quietly()


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[PostgresStore]:
    """The shared database, read by the test directly."""
    store = PostgresStore(postgres_url, pool_size=2)
    await store.open()
    yield store
    await store.close()


def head(pr: int, which: str) -> str:
    return f"{which * 8}{pr:032x}"[:40]


def delivery(event: str, payload: dict[str, Any]) -> tuple[str, str, bytes]:
    return event, str(uuid.uuid4()), json.dumps(payload).encode()


def opened(pr: int) -> tuple[str, str, bytes]:
    payload = load_payload(
        "pull_request.opened",
        number=pr,
        pull_request__number=pr,
        pull_request__head__sha=head(pr, "a"),
    )
    return delivery("pull_request", payload)


def pushed(pr: int) -> tuple[str, str, bytes]:
    payload = load_payload(
        "pull_request.synchronize",
        number=pr,
        pull_request__number=pr,
        pull_request__head__sha=head(pr, "b"),
        before=head(pr, "a"),
        after=head(pr, "b"),
    )
    return delivery("pull_request", payload)


def job(pr: int, which: str, n: int) -> tuple[str, str, bytes]:
    payload = load_payload(
        "workflow_job.in_progress",
        repository=load_payload("pull_request.opened")["repository"],
        workflow_job__head_sha=head(pr, which),
        workflow_job__id=pr * 1000 + n + (500 if which == "b" else 0),
        workflow_job__name=f"job {which}{n}",
    )
    return delivery("workflow_job", payload)


async def send_all(
    session: aiohttp.ClientSession,
    instances: list[BotProcess],
    batch: list[tuple[str, str, bytes]],
    answers: dict[str, list[str]],
) -> None:
    """Send each delivery to one instance and, at the same time, again to the other."""
    gate = asyncio.Semaphore(16)

    async def send(instance: BotProcess, event: str, guid: str, body: bytes) -> None:
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": guid,
            "X-Hub-Signature-256": sign(body, SECRET),
            "Content-Type": "application/json",
        }
        async with gate, session.post(f"{instance.url}/webhook", data=body, headers=headers) as r:
            assert r.status == 200, await r.text()
            answers.setdefault(guid, []).append((await r.json())["status"])

    sends = []
    for i, (event, guid, body) in enumerate(batch):
        first, second = instances[i % 2], instances[(i + 1) % 2]
        sends += [send(first, event, guid, body), send(second, event, guid, body)]
    await asyncio.gather(*sends)


async def settle(store: PostgresStore, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (status := await store.outbox_status())["pending"]:
        if time.monotonic() > deadline:
            raise AssertionError(f"outbox did not settle: {status}")
        await asyncio.sleep(0.05)


async def test_two_instances_share_one_postgres_without_loss_or_duplicates(
    instances: list[BotProcess], store: PostgresStore, github: FakeGitHub
) -> None:
    answers: dict[str, list[str]] = {}
    jobs_a = {pr: [job(pr, "a", n) for n in range(JOBS_ON_FIRST_HEAD)] for pr in PRS}
    jobs_b = {pr: [job(pr, "b", n) for n in range(JOBS_ON_SECOND_HEAD)] for pr in PRS}
    pushes = {pr: pushed(pr) for pr in PRS}
    async with aiohttp.ClientSession() as session:
        await send_all(session, instances, [opened(pr) for pr in PRS], answers)
        # CI on the first head races the push that supersedes it, on both instances
        racing = [d for pr in PRS for d in [*jobs_a[pr], pushes[pr]]]
        await send_all(session, instances, racing, answers)
        await send_all(session, instances, [d for pr in PRS for d in jobs_b[pr]], answers)
        await settle(store)

    # every delivery was applied by exactly one instance; its redelivery was a duplicate
    assert all(sorted(got) == ["duplicate", "recorded"] for got in answers.values()), answers
    recorded = set(answers)

    seen_sources: list[str] = []
    for pr in PRS:
        runs = await store.list_runs(RunFilter(repo=REPO, pr=pr))
        by_head = {run["head_sha"]: run for run in runs}
        assert sorted(by_head) == [head(pr, "a"), head(pr, "b")]
        first, second = by_head[head(pr, "a")], by_head[head(pr, "b")]
        assert (first["status"], second["status"]) == ("superseded", "open")
        trails = {}
        for run in runs:
            events = await store.get_events(run["id"])
            assert verify_chain(events, run["id"]) is None  # seqs 1..n, unique, linked
            assert run["seq"] == len(events) and run["head_hash"] == events[-1].hash
            trails[run["id"]] = events
            seen_sources += [e.source["id"] for e in events]
        # opened + each job once + superseded; opened + pr.updated + each job once
        assert len(trails[first["id"]]) == 1 + JOBS_ON_FIRST_HEAD + 1
        assert len(trails[second["id"]]) == 2 + JOBS_ON_SECOND_HEAD
        assert sorted(first["jobs"]) == sorted(
            str(json.loads(body)["workflow_job"]["id"]) for _, _, body in jobs_a[pr]
        )

        # exactly one bot comment, the one the store last posted, pinning both trails
        [comment] = github.comments_on(REPO, pr)
        assert comment["user"]["login"] == TOKEN_USER and comment["body"].startswith(MARKER)
        saved = await store.get_comment(REPO, pr)
        assert saved is not None and saved.comment_id == comment["id"]
        assert comment["body"] == saved.body
        for run in runs:
            assert f"`{run['head_hash'][:12]}`" in comment["body"]
        assert len(github.writes(rf"/issues/{pr}/comments$")) == 1  # created once

    # no event lost or doubled: each job once; each push superseded the first run and
    # opened (run.opened + pr.updated) the second
    jobs = [guid for d in [*jobs_a.values(), *jobs_b.values()] for _, guid, _ in d]
    assert all(seen_sources.count(guid) == 1 for guid in jobs)
    assert all(seen_sources.count(pushes[pr][1]) == 3 for pr in PRS)
    assert set(seen_sources) == recorded
