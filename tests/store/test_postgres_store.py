"""What only the PostgreSQL store has: its start-up against a server (the rest of its
behaviour is the shared contract in test_store_contract.py)."""

from __future__ import annotations

import socket

import asyncpg
import pytest

from bot.store.base import StoreError
from bot.store.postgres import PostgresStore
from bot.store.postgres_schema import POSTGRES_MIGRATIONS


async def test_an_unreachable_server_fails_in_one_line_without_the_password() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = PostgresStore(f"postgresql://bot:s3cret-pw@127.0.0.1:{port}/audit")

    with pytest.raises(StoreError) as caught:
        await store.open()

    message = str(caught.value)
    assert message.startswith(f"cannot connect to PostgreSQL at 127.0.0.1:{port}/audit: ")
    assert "s3cret-pw" not in message and "\n" not in message


async def test_start_records_every_migration_once(postgres_url: str) -> None:
    for _ in range(2):
        store = PostgresStore(postgres_url)
        await store.open()
        await store.close()

    conn = await asyncpg.connect(postgres_url)
    try:
        versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_version")]
        tables = {
            r[0]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
    finally:
        await conn.close()
    assert sorted(versions) == list(range(1, len(POSTGRES_MIGRATIONS) + 1))
    assert {"runs", "events", "deliveries", "outbox", "comments", "pruned_runs"} <= tables
