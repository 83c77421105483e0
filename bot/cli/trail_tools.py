"""What the trail commands (export, import, verify, rebuild) share.

They work on the store named by `DATABASE_URL` (or `--database`), beside or instead
of a running bot, and show progress only when a person is watching (stderr is a
terminal), so their output in scripts and CI stays plain.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import TextIO

from bot.cli import settings_or_exit
from bot.store import open_store_for, sqlite_path
from bot.store.base import RunFilter, Store, StoreError, TrailStore
from bot.trail.state import State

PAGE = 200


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int],
    help: str,
    description: str,
) -> argparse.ArgumentParser:
    """A trail command's parser with `--database`; `run` runs it. Each command module
    keeps its `HELP` and `DESCRIPTION` texts beside its code and opens with one call."""
    parser = subparsers.add_parser(name, help=help, description=description)
    parser.add_argument(
        "--database",
        metavar="URL",
        help="the store to use (default: DATABASE_URL, else sqlite:///./data/audit.db)",
    )
    parser.set_defaults(run=run)
    return parser


def fail(message: str, code: int = 2) -> int:
    print(f"audit-bot: {message}", file=sys.stderr)
    return code


def database_url(args: argparse.Namespace, *, must_exist: bool) -> str:
    """The store's URL; exit 2 if an existing SQLite file is needed and absent."""
    url = args.database or settings_or_exit().database_url
    if not url.startswith(("sqlite:///", "postgresql:", "postgres:")):
        raise SystemExit(fail(f"--database must be sqlite:///path or postgresql://…, not {url!r}"))
    if must_exist and url.startswith("sqlite:") and not sqlite_path(url).exists():
        raise SystemExit(fail(f"no database at {sqlite_path(url)}"))
    return url


async def open_store(url: str, *, read_only: bool = False) -> Store:
    """The store, open; exit 2 with one line (never the password) when it cannot be used."""
    store = open_store_for(url, debounce=0, read_only=read_only)
    try:
        await store.open()
    except (StoreError, OSError, sqlite3.Error) as exc:
        with contextlib.suppress(Exception):
            await store.close()
        raise SystemExit(fail(f"cannot use the database: {exc}")) from None
    return store


@contextlib.asynccontextmanager
async def trail_session(
    url: str, label: str, *, read_only: bool = False
) -> AsyncIterator[tuple[Store, Progress]]:
    """The open store and a progress line, both closed however the command ends.

    `read_only` for commands that only read: the database is neither migrated nor
    written, so a backup kept as evidence stays byte for byte as it was.
    """
    store = await open_store(url, read_only=read_only)
    progress = Progress(label)
    try:
        yield store, progress
    finally:
        progress.close()
        await store.close()


async def run_ids(store: TrailStore, targets: Sequence[str]) -> AsyncIterator[str]:
    """The runs named, else every run in the store (newest first)."""
    if targets:
        for target in targets:
            yield target
        return
    async for state in runs_matching(store, RunFilter()):
        yield state["id"]


async def runs_matching(store: TrailStore, where: RunFilter) -> AsyncIterator[State]:
    """Every run the filter selects, newest first, one page in memory at a time."""
    cursor = where.before
    while True:
        page = await store.list_runs(replace(where, before=cursor, limit=PAGE))
        for run in page:
            yield run
        if len(page) < PAGE:
            return
        cursor = page[-1]["id"]


class Progress:
    """`label: runs 1,234, events 56,789` redrawn in place on a terminal, else silent."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.counts: dict[str, int] = {}
        self._drawn = 0.0

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n
        if self.enabled and time.monotonic() - self._drawn >= 0.1:
            self._draw()

    def _draw(self) -> None:
        parts = ", ".join(f"{name} {n:,}" for name, n in self.counts.items())
        self.stream.write(f"\r\x1b[2K{self.label}: {parts}")
        self.stream.flush()
        self._drawn = time.monotonic()

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
