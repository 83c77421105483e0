"""Stores: SQLite (embedded default) and PostgreSQL, behind one contract."""

from __future__ import annotations

from pathlib import Path

from bot.store.base import Store


def sqlite_path(url: str) -> Path:
    """`sqlite:///relative/x.db` → relative path; `sqlite:////abs/x.db` → absolute."""
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
