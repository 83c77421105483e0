"""Stores: SQLite (the embedded default) and PostgreSQL, behind narrow contracts.

What lives here: the contracts by concern (`base`: `TrailStore`, `OutboxStore`,
`OpsStore`, and `Store` combining them); the writer that carries out a command
(`writer`); every SQL statement both dialects run (`sql`) and the transaction code
run on either connection (`tx`); row mapping (`rows`); the write-budget rule
(`slots`); the two stores (`sqlite`, `postgres`) and their migrations
(`sqlite_schema`, `postgres_schema`, with what both share in `migrations`); and
`open_store_for`, the one way in for code outside this package.

What it may import: the root helpers `bot.ids`, `bot.config` and `bot.logs`, and the
pure domain `bot.trail`; nothing of `bot.github`, `bot.workers`, `bot.http` or
`bot.web`, which sit above it.
"""

from __future__ import annotations

from pathlib import Path

from bot.store.base import Store


def sqlite_path(url: str) -> Path:
    """`sqlite:///relative/x.db` → relative path; `sqlite:////abs/x.db` → absolute.

    Here, beside the factory, so a command can say "no database at …" without
    importing the SQLite store itself.
    """
    return Path(url.removeprefix("sqlite:///"))


def open_store_for(
    url: str, *, debounce: float = 2.0, serving: bool = False, read_only: bool = False
) -> Store:
    """The store a `DATABASE_URL` names (not yet opened).

    `serving`: for the bot's own process, as opposed to a CLI command opened beside it
    (SQLite then takes over the outbox claims a killed bot left behind). `read_only`:
    for commands that only read (verify, export): no migration, nothing written.
    """
    if url.startswith("sqlite:"):
        from bot.store.sqlite import SQLiteStore

        return SQLiteStore(url, debounce=debounce, serving=serving, read_only=read_only)
    from bot.store.postgres import PostgresStore  # type: ignore[import-not-found]

    return PostgresStore(url, debounce=debounce, read_only=read_only)
