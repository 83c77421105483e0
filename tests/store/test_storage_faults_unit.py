"""Which errors are the storage failing, and one log line per failure per interval."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.store.base import RunFilter, StoreHealth, StoreUnavailable
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_faults import Checkpointer, storage_fault


@pytest.mark.parametrize(
    "exc",
    [
        sqlite3.OperationalError("database or disk is full"),
        sqlite3.OperationalError("disk I/O error"),
        sqlite3.OperationalError("attempt to write a readonly database"),
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EIO, "Input/output error"),
        OSError(errno.EROFS, "Read-only file system"),
    ],
)
def test_storage_failures_are_recognised(exc: BaseException) -> None:
    assert storage_fault(exc)


@pytest.mark.parametrize(
    "exc",
    [
        sqlite3.IntegrityError("UNIQUE constraint failed: runs.key"),
        sqlite3.OperationalError("no such table: nope"),
        ValueError("a job's own mistake"),
        OSError(errno.ENOENT, "No such file or directory"),
    ],
)
def test_a_jobs_own_error_is_not_a_storage_failure(exc: BaseException) -> None:
    assert storage_fault(exc) is None


def test_one_log_line_per_distinct_failure_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    health = StoreHealth(interval=60.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="bot.store"):
        for _ in range(5):
            health.write_failed("the disk is full")
        health.write_failed("disk I/O error")  # another failure: its own line
        now[0] = 61.0
        health.write_failed("the disk is full")  # the next interval: one more line
        assert health.problem == "the disk is full"
        health.write_succeeded()
    assert health.problem is None
    lines = [r.getMessage() for r in caplog.records]
    assert sum("storage write failed" in line for line in lines) == 3
    assert sum("succeed again" in line for line in lines) == 1
    assert all(r.exc_info is None for r in caplog.records)


def test_a_lost_file_stays_lost() -> None:
    health = StoreHealth()
    health.file_gone("/data/audit.db was removed")
    health.write_succeeded()
    assert health.problem == "/data/audit.db was removed"


def test_a_lost_file_is_one_log_line_whatever_it_is_called(
    caplog: pytest.LogCaptureFixture,
) -> None:
    health = StoreHealth(interval=60.0)
    with caplog.at_level(logging.INFO, logger="bot.store"):
        health.file_gone("/data/audit.db was removed")
        health.file_gone("/data/audit.db was replaced by another file")
    assert sum("database file lost" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("which", ["database", "wal"])
async def test_a_new_reader_never_opens_a_file_the_writer_did_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, which: str
) -> None:
    """After an unlink, a reader connection opened on a fresh thread refuses (the
    store's 503 path) instead of creating an empty database or WAL at the path."""
    store = SQLiteStore(f"sqlite:///{tmp_path / 'audit.db'}", serving=True)
    await store.open()
    try:
        assert await store.list_runs(RunFilter()) == []  # a reader connection exists
        lost = store.path if which == "database" else store.identity.wal
        os.unlink(lost)
        fresh = ThreadPoolExecutor(1)  # a thread with no reader connection yet
        with caplog.at_level(logging.INFO, logger="bot.store"), fresh:
            failure = fresh.submit(store._reader).exception()
        assert isinstance(failure, StoreUnavailable), failure
        assert "removed" in failure.reason
        assert not lost.exists()  # nothing was created at the path
        assert "removed" in (store.check_health() or "")
        lines = [r for r in caplog.records if "database file lost" in r.getMessage()]
        assert len(lines) == 1 and lines[0].exc_info is None
    finally:
        await store.close()


class _BusyCheckpoint:
    """A connection whose PASSIVE checkpoint was blocked (readers or another checkpoint)."""

    def execute(self, sql: str) -> _BusyCheckpoint:
        assert "wal_checkpoint(PASSIVE)" in sql
        return self

    def fetchone(self) -> tuple[int, int, int]:
        return (1, 40, 12)


@pytest.mark.parametrize("wal_bytes, reported", [(10, False), (4096, True)])
def test_a_busy_checkpoint_is_news_only_once_the_wal_outgrows_its_bound(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, wal_bytes: int, reported: bool
) -> None:
    wal = tmp_path / "audit.db-wal"
    wal.write_bytes(b"\0" * wal_bytes)
    health = StoreHealth()
    checkpoints = Checkpointer(wal, health, lambda _: None, interval=0, wal_limit=1024)
    with caplog.at_level(logging.WARNING):
        checkpoints.after_commit(_BusyCheckpoint())  # type: ignore[arg-type]
    assert (health.checkpoint_failure is not None) == reported
    assert ("WAL checkpoint failed" in caplog.text) == reported
