"""Storage faults under the running bot (real sockets on 127.0.0.1, a SQLite file in tmp).

A full disk, an I/O error or a read-only file is injected where the writer commits
(`SQLiteStore.fault`, the writer's seam: called before each COMMIT and checkpoint);
the database file and its `-wal` are really unlinked. Whatever fails, nothing is
acknowledged that is not stored: the webhook and the reporter answer 503 with
`Retry-After`, `/readyz` is 503, the failure is one log line, and recovery is 200.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from bot import keys
from bot.store.base import StoreUnavailable
from bot.store.sqlite import SQLiteStore
from tests.support.bot import Bot, load_payload, sign
from tests.support.fake_github import FakeGitHub
from tests.support.reporter_kit import STATIC, post

FAULTS: dict[str, Callable[[], BaseException]] = {
    "sqlite-full": lambda: sqlite3.OperationalError("database or disk is full"),
    "enospc": lambda: OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
    "eio": lambda: OSError(errno.EIO, os.strerror(errno.EIO)),
    "read-only": lambda: sqlite3.OperationalError("attempt to write a readonly database"),
}


def failing(stage: str, make: Callable[[], BaseException]) -> Callable[[str], None]:
    def fault(at: str) -> None:
        if at == stage:
            raise make()

    return fault


async def webhook(bot: Bot, delivery: str, pr: int = 2) -> tuple[int, dict[str, str], Any]:
    """POST a signed pull_request.opened; (status, headers, body)."""
    payload = load_payload("pull_request.opened", number=pr, pull_request__number=pr)
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": delivery,
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign(body),
    }
    assert bot.session is not None
    async with bot.session.post(bot.url + "/webhook", data=body, headers=headers) as response:
        return response.status, dict(response.headers), await response.json()


async def ready(bot: Bot) -> tuple[int, Any]:
    return await bot.request("GET", "/readyz")


async def until_not_ready(bot: Bot, timeout: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body = await ready(bot)
        if status == 503:
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.1)


def store_logs(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if text in r.getMessage()]


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    traced = [r.getMessage() for r in caplog.records if r.exc_info and r.name.startswith("bot")]
    assert traced == []


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_write_failure_is_503_not_ready_one_line_then_recovers(
    bot: Bot, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    caplog.set_level(logging.INFO)
    store: SQLiteStore = bot.store
    assert (await ready(bot))[0] == 200
    store.fault = failing("commit", FAULTS[fault])

    refused = [f"full-{fault}-{n}" for n in range(3)]
    for delivery in refused:
        status, headers, body = await webhook(bot, delivery)
        assert status == 503, body
        assert int(headers["Retry-After"]) > 0
        assert body["error"].startswith("storage unavailable")
    not_ready = await until_not_ready(bot)
    assert "store not ready" in not_ready["status"]

    assert await store.known_deliveries(refused) == set()  # nothing acknowledged, nothing stored
    assert await store.list_runs(store_filter()) == []
    assert len(store_logs(caplog, "storage write failed")) == 1  # three failures, one line
    no_tracebacks(caplog)

    store.fault = None  # the disk has room again
    status, _, body = await webhook(bot, refused[0])  # GitHub's redelivery of a refused one
    assert (status, body["status"]) == (200, "recorded")
    assert (await ready(bot))[0] == 200
    assert await store.known_deliveries(refused) == {refused[0]}
    assert len(store_logs(caplog, "storage writes succeed again")) == 1


def store_filter() -> Any:
    from bot.store.base import RunFilter

    return RunFilter()


async def test_reporter_write_failure_is_503_with_retry_after(
    reporter_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    store: SQLiteStore = reporter_bot.store
    store.fault = failing("commit", FAULTS["enospc"])
    body = {"kind": "agent", "repo": "Codertocat/Hello-World", "name": "full disk"}
    status, answer = await post(reporter_bot, "/api/runs", body, STATIC)
    assert status == 503, answer
    assert await store.list_runs(store_filter()) == []
    store.fault = None
    status, answer = await post(reporter_bot, "/api/runs", body, STATIC)
    assert status == 201, answer
    no_tracebacks(caplog)


@pytest.mark.parametrize("which", ["database", "wal"])
async def test_file_unlinked_under_the_bot_stops_acknowledging(
    bot: Bot, caplog: pytest.LogCaptureFixture, which: str
) -> None:
    caplog.set_level(logging.INFO)
    store: SQLiteStore = bot.store
    status, _, body = await webhook(bot, "before")
    assert (status, body["status"]) == (200, "recorded")
    assert (await ready(bot))[0] == 200

    path = store.path if which == "database" else store.identity.wal
    assert path.exists()
    os.unlink(path)

    not_ready = await until_not_ready(bot)  # noticed without any write
    # by the readiness stat, or by a reader connection refusing to open the path (it
    # never creates a file there, so the file is never "replaced" by the bot itself)
    state = not_ready["status"]
    assert state.startswith("store not ready") and "was removed" in state, state
    for n in range(3):
        status, headers, body = await webhook(bot, f"after-{n}", pr=3)
        assert status == 503, body
        assert "Retry-After" in headers
    assert (await ready(bot))[0] == 503  # stays so: only a restart opens the path again
    try:  # a reader connection that predates the loss still reads the writer's file
        known = await store.known_deliveries([f"after-{n}" for n in range(3)])
    except StoreUnavailable:  # a new one refuses to open what the path holds now
        known = set()
    assert known == set()
    assert len(store_logs(caplog, "database file lost")) == 1
    no_tracebacks(caplog)
    if which == "database":
        assert not path.exists()  # no reader opened an empty database at the path


async def test_database_file_replaced_under_the_bot_stops_acknowledging(bot: Bot) -> None:
    store: SQLiteStore = bot.store
    assert (await webhook(bot, "before"))[0] == 200
    copy = store.path.with_suffix(".copy")
    copy.write_bytes(store.path.read_bytes())
    os.replace(copy, store.path)  # same path, another inode
    body = await until_not_ready(bot)
    assert "replaced" in body["status"]
    status, headers, _ = await webhook(bot, "after")
    assert status == 503 and "Retry-After" in headers


async def test_failing_checkpoints_with_a_growing_wal_are_reported(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    store: SQLiteStore = bot.store
    store.wal_checkpoints.interval = 0.0  # after every commit
    store.wal_checkpoints.wal_limit = 0  # any WAL counts as grown
    store.fault = failing("checkpoint", FAULTS["read-only"])
    for n in range(3):
        status, _, body = await webhook(bot, f"ckpt-{n}", pr=2 + n)
        assert status == 200, body  # the commits themselves are durable in the WAL
    body = await until_not_ready(bot)
    assert "checkpoint" in body["status"]
    assert len(store_logs(caplog, "WAL checkpoint failed")) == 1
    no_tracebacks(caplog)

    store.fault = None
    assert (await webhook(bot, "ckpt-ok"))[0] == 200
    assert (await ready(bot))[0] == 200


async def test_outbox_row_is_not_left_leased_when_its_outcome_cannot_be_written(
    bot: Bot, github: FakeGitHub
) -> None:
    store: SQLiteStore = bot.store
    github.slow("POST", r"/issues/\d+/comments", 1.0)
    assert (await webhook(bot, str(uuid.uuid4())))[0] == 200
    # The worker is posting the comment (slowly); the disk fills up meanwhile, so the
    # comment record and the row's outcome cannot be written.
    await asyncio.sleep(0.3)
    store.fault = failing("commit", FAULTS["enospc"])
    await asyncio.sleep(2.0)
    assert github.comments_on("Codertocat/Hello-World", 2)  # posted on GitHub
    assert bot.app[keys.OUTBOX].unsettled == 1  # held, to be written again, not forgotten
    store.fault = None
    # Well within the 120 s lease: the outcome is written again once the disk has room.
    await bot.settle(timeout=15.0)
    assert len(github.comments_on("Codertocat/Hello-World", 2)) == 1


async def test_postgres_read_only_server_is_503_then_recovers(
    postgres_url: str, make_bot: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A real server-side fault: the database turned read-only (as a standby after a
    failover is), the bot's sessions dropped so its pool reconnects into it."""
    import asyncpg

    caplog.set_level(logging.INFO)
    bot = await make_bot(DATABASE_URL=postgres_url)
    admin = await asyncpg.connect(postgres_url)
    database = await admin.fetchval("SELECT current_database()")

    async def set_read_only(on: bool) -> None:
        change = "SET default_transaction_read_only = on" if on else "RESET ALL"
        await admin.execute(f'ALTER DATABASE "{database}" {change}')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )

    try:
        assert (await webhook(bot, "pg-before"))[0] == 200
        await set_read_only(True)
        for n in range(2):
            status, headers, body = await webhook(bot, f"pg-refused-{n}", pr=3)
            assert status == 503, body
            assert "Retry-After" in headers
        body = await until_not_ready(bot)
        assert "ReadOnlySQLTransaction" in body["status"]
        # one line for the read-only server, whatever statements it refused (a session
        # terminated mid-write is another failure, and may have its own line)
        assert len(store_logs(caplog, "write succeeds: ReadOnlySQLTransactionError")) == 1
        no_tracebacks(caplog)

        await set_read_only(False)
        statuses = []
        for _ in range(50):  # as GitHub redelivers; sessions may still be reconnecting
            status, _, body = await webhook(bot, "pg-refused-0", pr=3)
            statuses.append(status)
            if status == 200:
                break
            await asyncio.sleep(0.1)
        assert (status, body["status"]) == (200, "recorded"), statuses
        assert set(statuses) <= {200, 503}, statuses
        assert (await ready(bot))[0] == 200
    finally:
        await admin.close()
