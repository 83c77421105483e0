"""Stores: SQLite (embedded default) and PostgreSQL, behind one contract."""

from __future__ import annotations

from bot.store.base import Store


def open_store_for(url: str, *, debounce: float = 2.0) -> Store:
    """The store a `DATABASE_URL` names (not yet opened)."""
    if url.startswith("sqlite:"):
        from bot.store.sqlite import SQLiteStore

        return SQLiteStore(url, debounce=debounce)
    from bot.store.postgres import PostgresStore  # type: ignore[import-not-found]

    return PostgresStore(url, debounce=debounce)
