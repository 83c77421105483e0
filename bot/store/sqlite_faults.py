"""What the SQLite writer checks so that a 2xx still means "on disk" when the disk fails.

- `storage_fault(exc)`: whether an exception raised while writing is the storage's
  (disk full, I/O error, read-only file, file gone) rather than the job's own.
- `FileIdentity`: the database file the writer opened is still the one at its path
  (same device and inode) and its `-wal` file still exists. A file replaced or
  unlinked under the bot, or a `-wal` deleted, would otherwise take every later
  commit into a file nobody reads again, and lose it at the next restart.
- `Checkpointer`: `PRAGMA wal_checkpoint(PASSIVE)` at most every 5 s, after a
  commit, its result checked. Failing checkpoints while the `-wal` grows past a bound
  (an immutable database file, say) are reported instead of growing without end.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from bot.store.base import StoreHealth

# The primary result codes that mean the storage failed, not the statement.
_STORAGE_CODES = {
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_IOERR: "disk I/O error",
    sqlite3.SQLITE_READONLY: "the database file is read-only",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
    sqlite3.SQLITE_CORRUPT: "the database file is corrupt",
    sqlite3.SQLITE_NOTADB: "the database file is not a database",
}
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM}
# Messages for errors raised without a result code (or an injected one).
_STORAGE_MESSAGES = (
    "disk is full",
    "disk i/o error",
    "readonly database",
    "unable to open database",
    "malformed",
)


def storage_fault(exc: BaseException) -> str | None:
    """A short reason when `exc` is the storage failing, else None (the job's own error)."""
    if isinstance(exc, OSError):
        if exc.errno in _STORAGE_ERRNOS:
            return f"{os.strerror(exc.errno or 0).lower()} ({errno.errorcode.get(exc.errno or 0)})"
        return None
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _STORAGE_CODES:
        return f"{_STORAGE_CODES[code & 0xFF]} ({exc})"
    text = str(exc).lower()
    if any(marker in text for marker in _STORAGE_MESSAGES):
        return str(exc)
    return None


class FileIdentity:
    """The database file as opened: its device and inode, and whether a `-wal` existed."""

    def __init__(self, path: Path, interval: float = 1.0) -> None:
        self.path = path
        self.wal = Path(f"{path}-wal")
        self.interval = interval
        self._opened: tuple[int, int] | None = None
        self._wal_opened: tuple[int, int] | None = None
        self._checked_at = float("-inf")
        self._last: str | None = None

    def record(self) -> None:
        """Remember the file at the path now (call right after opening it)."""
        st = os.stat(self.path)
        self._opened = (st.st_dev, st.st_ino)
        try:
            wal = os.stat(self.wal)
            self._wal_opened = (wal.st_dev, wal.st_ino)
        except FileNotFoundError:
            self._wal_opened = None

    def check(self) -> str | None:
        """Why the path no longer leads to the opened file, or None."""
        self._checked_at = time.monotonic()
        if self._opened is None:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._last = f"{self.path} was removed"
            return self._last
        except OSError as exc:
            self._last = f"{self.path} cannot be read: {exc.strerror}"
            return self._last
        if (st.st_dev, st.st_ino) != self._opened:
            self._last = f"{self.path} was replaced by another file"
        elif self._wal_opened is not None and _identity(self.wal) != self._wal_opened:
            # gone, or created anew by a later connection: the writer's WAL is lost
            self._last = f"{self.wal} was removed"
        else:
            self._last = None
        return self._last

    def check_cached(self) -> str | None:
        """`check()`, at most once per interval (for `/readyz`)."""
        if time.monotonic() - self._checked_at < self.interval:
            return self._last
        return self.check()


class Checkpointer:
    """PASSIVE checkpoints after commits, at most once per `interval`, results checked."""

    def __init__(
        self,
        wal: Path,
        health: StoreHealth,
        fault: Callable[[str], None],
        *,
        interval: float = 5.0,
        wal_limit: int = 64 * 1024 * 1024,
    ) -> None:
        self.wal = wal
        self.health = health
        self.fault = fault  # the store's seam: raises to fail the checkpoint
        self.interval = interval
        self.wal_limit = wal_limit
        self._last = float("-inf")

    def after_commit(self, conn: sqlite3.Connection) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        try:
            self.fault("checkpoint")
            busy, frames, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except (sqlite3.Error, OSError) as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            return
        if busy or (frames > 0 and done < 0):
            # Readers or another checkpoint held it this time: normal under load, and
            # worth a line only once the WAL outgrows its bound.
            self._failed(f"the checkpoint could not run (busy={busy}, frames={frames})", busy=True)
            return
        # A PASSIVE checkpoint leaves frames that readers still need; that is normal.
        self.health.checkpoint_succeeded()

    def _failed(self, reason: str, busy: bool = False) -> None:
        try:
            size = self.wal.stat().st_size
        except OSError:
            size = 0
        if size > self.wal_limit:
            growth = f"the WAL is {size // 1024} KiB, over {self.wal_limit // 1024} KiB"
            self.health.checkpoint_failed(reason, growth)
        elif not busy:
            self.health.report(reason, "WAL checkpoint failed", key=f"checkpoint: {reason}")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)
