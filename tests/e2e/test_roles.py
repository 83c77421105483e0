"""Serving roles: an `intake` process and a `read` process on one store.

Both are real `python -m bot serve --role …` processes on their own ports, on one
SQLite file (WAL) and on one PostgreSQL database. A delivery to the intake is
readable from the read process (the list, the run, and a live SSE tail, which polls
the store because another process's commits don't notify it); the read process
registers no write route; and on SQLite it never writes the database file.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.bot import REPO, load_payload
from tests.support.bot_process import BotProcess, get_json, signed, wait_settled

HEAD = "c" * 40


def opened(pr: int) -> tuple[bytes, dict[str, str]]:
    payload = load_payload(
        "pull_request.opened", number=pr, pull_request__number=pr, pull_request__head__sha=HEAD
    )
    return signed("pull_request", payload, str(uuid.uuid4()))


def job(n: int) -> tuple[bytes, dict[str, str]]:
    payload = load_payload(
        "workflow_job.in_progress",
        repository=load_payload("pull_request.opened")["repository"],
        workflow_job__head_sha=HEAD,
        workflow_job__id=9000 + n,
        workflow_job__name=f"job {n}",
    )
    return signed("workflow_job", payload, str(uuid.uuid4()))


async def start_split(tmp_path: Path, env: dict[str, str]) -> tuple[BotProcess, BotProcess]:
    """The intake first (it creates and migrates the store), then the read process."""
    intake = BotProcess({**env, "AUDIT_ROLE": "intake"}, tmp_path / "intake.log")
    await intake.start(timeout=30.0)
    reader = BotProcess({**env, "AUDIT_ROLE": "read"}, tmp_path / "read.log")
    try:
        await reader.start(timeout=30.0)
    except BaseException:
        intake.stop_quietly()
        raise
    return intake, reader


@pytest.fixture
async def split(
    tmp_path: Path, bot_env: dict[str, str]
) -> AsyncIterator[tuple[BotProcess, BotProcess]]:
    """Both roles on one SQLite file."""
    intake, reader = await start_split(tmp_path, bot_env)
    try:
        yield intake, reader
    finally:
        intake.stop_quietly()
        reader.stop_quietly()


@pytest.fixture
async def split_postgres(
    tmp_path: Path, bot_env: dict[str, str], postgres_url: str
) -> AsyncIterator[tuple[BotProcess, BotProcess]]:
    """Both roles on one PostgreSQL database."""
    intake, reader = await start_split(tmp_path, {**bot_env, "DATABASE_URL": postgres_url})
    try:
        yield intake, reader
    finally:
        intake.stop_quietly()
        reader.stop_quietly()


async def post(session: aiohttp.ClientSession, url: str, delivery: Any) -> int:
    body, headers = delivery
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        return response.status


async def runs_of(session: aiohttp.ClientSession, url: str, pr: int) -> list[dict[str, Any]]:
    page = await get_json(session, f"{url}/api/runs?repo={REPO}&pr={pr}")
    return page["runs"]  # type: ignore[no-any-return]


async def next_trail_event(response: aiohttp.ClientResponse, after: int) -> dict[str, Any]:
    """The data of the first `trail` SSE message past seq `after`."""
    event = ""
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "trail":
            data: dict[str, Any] = json.loads(line.removeprefix("data: "))
            if data["seq"] > after:
                return data
        elif not line:
            event = ""
    raise AssertionError("the tail ended before the event came")


async def test_a_webhook_to_intake_is_read_from_the_read_process_on_sqlite(
    split: tuple[BotProcess, BotProcess],
) -> None:
    await check_split(*split)


async def test_a_webhook_to_intake_is_read_from_the_read_process_on_postgres(
    split_postgres: tuple[BotProcess, BotProcess],
) -> None:
    await check_split(*split_postgres)


async def check_split(intake: BotProcess, reader: BotProcess) -> None:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        assert await post(session, f"{intake.url}/webhook", opened(1)) == 200
        [run] = await runs_of(session, reader.url, 1)
        state = await get_json(session, f"{reader.url}/api/runs/{run['id']}")
        seq = state["seq"]

        # a live tail on the read process sees what the intake commits afterwards
        tail_url = f"{reader.url}/api/runs/{run['id']}/events?format=sse&after={seq}"
        async with session.get(tail_url) as tail:
            assert tail.status == 200
            assert await post(session, f"{intake.url}/webhook", job(1)) == 200
            event = await asyncio.wait_for(next_trail_event(tail, seq), 10)
        assert "workflow_job" in event["type"]

        # the read process serves no write; the intake serves no read API
        assert await post(session, f"{reader.url}/webhook", opened(2)) == 404
        async with session.post(f"{reader.url}/api/runs", json={}) as response:
            assert response.status in (404, 405)
            assert response.content_type == "application/json"
        async with session.get(f"{intake.url}/api/runs") as response:
            assert response.status in (404, 405)
        async with session.get(f"{intake.url}/runs/{run['id']}") as response:
            assert response.status == 404
        assert await runs_of(session, reader.url, 2) == []

        # each document describes what its process serves
        read_doc = await get_json(session, f"{reader.url}/api/openapi.json")
        intake_doc = await get_json(session, f"{intake.url}/api/openapi.json")
        assert "/webhook" not in read_doc["paths"] and "/webhook" in intake_doc["paths"]
        assert "post" not in read_doc["paths"]["/api/runs"]
        assert "get" not in intake_doc["paths"]["/api/runs"]
        for process in (intake, reader):
            assert (await get_json(session, f"{process.url}/readyz"))["status"] == "ready"


def fingerprint(db: Path) -> dict[str, str]:
    """The database file and its WAL, by content (the `-shm` index is not data)."""
    files = [db, db.with_name(db.name + "-wal")]
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files if f.exists()}


async def test_the_read_process_never_writes_the_sqlite_file(
    tmp_path: Path, bot_env: dict[str, str]
) -> None:
    intake, reader = await start_split(tmp_path, bot_env)
    db = Path(bot_env["DATABASE_URL"].removeprefix("sqlite:///"))
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            for delivery in (opened(3), job(2), job(3)):
                assert await post(session, f"{intake.url}/webhook", delivery) == 200
            await wait_settled(session, intake.url)
            assert await intake.terminate() == 0  # nothing else writes from here on
            before = fingerprint(db)
            [run] = await runs_of(session, reader.url, 3)
            base = f"{reader.url}/api/runs/{run['id']}"
            reads = [
                base,
                f"{base}/events",
                f"{base}/events?format=ndjson",
                f"{base}/events?format=sse",  # the run is open: read briefly below
                f"{reader.url}/runs/{run['id']}",
                f"{reader.url}/repos/{REPO}/pull/3",
                f"{reader.url}/api/summary?repo={REPO}&pr=3",
                f"{reader.url}/api/outbox",
                f"{reader.url}/readyz",
                f"{reader.url}/metrics",
            ]
            for rounds in range(3):
                for url in reads if rounds == 0 else reads[:3] + reads[4:]:
                    async with session.get(url) as response:
                        assert response.status == 200, (url, await response.text())
                        if "format=sse" in url:
                            await response.content.readline()
                        else:
                            await response.read()
        assert fingerprint(db) == before
        assert "Traceback" not in reader.log()
    finally:
        intake.stop_quietly()
        reader.stop_quietly()
