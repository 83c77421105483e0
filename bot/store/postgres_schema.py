"""Versioned schema migrations for the PostgreSQL store.

The same approach as SQLite's (`bot.store.sqlite_schema`): numbered scripts applied in
order at start, each in its own transaction, `schema_version` recording the highest
applied. Several instances may start at once against one database, so the whole
upgrade runs under a session advisory lock: the first applies what is new, the
others wait and then find nothing to do.

Shape notes: JSON is kept as text (exactly the bytes the writer produced, as in
SQLite); repository names compare case-insensitively like GitHub's (SQLite uses
`COLLATE NOCASE`, here `lower(repo)` indexes); `is_open` and `private` are small
integers so both stores share `schema.run_columns`.
"""

from __future__ import annotations

from typing import Any

from bot.store.base import StoreError
from bot.store.sqlite_schema import MERGE_SUMMARY_KEYS

# pg_advisory_lock key: "audit-bot migrations" (any constant the bot alone uses)
MIGRATION_LOCK = 0x6175_6469_7462_6F74

POSTGRES_MIGRATIONS: list[str] = [
    # 1: the initial shape
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        key TEXT,
        kind TEXT NOT NULL,
        repo TEXT NOT NULL,
        pr BIGINT,
        head_sha TEXT,
        status TEXT NOT NULL,
        is_open SMALLINT NOT NULL,
        installation_id BIGINT,
        private SMALLINT,
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_seq INTEGER NOT NULL,
        head_hash TEXT NOT NULL,
        state TEXT NOT NULL
    );
    CREATE UNIQUE INDEX runs_open_key ON runs (key) WHERE is_open = 1 AND key IS NOT NULL;
    CREATE INDEX runs_key ON runs (key, id);
    CREATE INDEX runs_pr ON runs (lower(repo), pr, id);
    CREATE INDEX runs_head ON runs (lower(repo), head_sha, kind, id);
    CREATE INDEX runs_started ON runs (started_at);
    CREATE TABLE events (
        run_id TEXT NOT NULL REFERENCES runs (id),
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        at TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        source TEXT NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        event TEXT,
        action TEXT,
        received_at TEXT NOT NULL,
        outcome TEXT NOT NULL,
        response TEXT,
        fingerprint TEXT
    );
    CREATE TABLE bot_log (
        id BIGSERIAL PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TABLE outbox (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        repo TEXT NOT NULL,
        pr BIGINT NOT NULL,
        installation_id BIGINT,
        due_at DOUBLE PRECISION NOT NULL,
        version INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        state TEXT NOT NULL,
        last_error TEXT,
        claimed_until DOUBLE PRECISION,
        claimed_by TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (state, due_at);
    CREATE TABLE comments (
        repo TEXT NOT NULL,
        pr BIGINT NOT NULL,
        comment_id BIGINT,
        body TEXT NOT NULL,
        body_sha TEXT NOT NULL,
        posted_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX comments_pr ON comments (lower(repo), pr);
    """,
    # 2: retention: what was pruned, when and why (a pruned run's API answers 410)
    """
    CREATE TABLE pruned_runs (
        run_id TEXT PRIMARY KEY,
        repo TEXT NOT NULL,
        pr BIGINT,
        kind TEXT NOT NULL,
        last_seq INTEGER NOT NULL,
        head_hash TEXT NOT NULL,
        pruned_at TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    """,
    # 3: small named values the bot keeps for itself (missed-delivery high-water mark)
    """
    CREATE TABLE bot_state (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    # 4: the open runs of a PR are found without scanning its closed ones
    """
    CREATE INDEX runs_open_pr ON runs (lower(repo), pr) WHERE is_open = 1;
    """,
    # 5: GitHub writes per installation, counted where every instance sees them (pacing)
    """
    CREATE TABLE write_slots (installation BIGINT NOT NULL, at DOUBLE PRECISION NOT NULL);
    CREATE INDEX write_slots_at ON write_slots (installation, at);
    """,
    # 6: one summary row per PR however its runs spell the repository
    MERGE_SUMMARY_KEYS,
]


async def check_readable(conn: Any) -> int:
    """The schema version of a database read without migrating it, if this bot can read it
    (the runs and events tables have kept their shape since the first version)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    current = await conn.fetchval("SELECT max(version) FROM schema_version") if exists else None
    if current is None:
        raise StoreError("not an audit-bot database (no schema_version table)")
    if current > len(POSTGRES_MIGRATIONS):
        raise StoreError(
            f"the database schema is version {current}, newer than this bot "
            f"({len(POSTGRES_MIGRATIONS)}): upgrade the bot"
        )
    return int(current)


async def migrate_postgres(conn: Any) -> int:
    """Apply what is new on an asyncpg connection; returns the schema version in force."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
        if current > len(POSTGRES_MIGRATIONS):
            raise RuntimeError(
                f"the database schema is version {current}, newer than this bot "
                f"({len(POSTGRES_MIGRATIONS)}): upgrade the bot"
            )
        for version, script in enumerate(POSTGRES_MIGRATIONS[current:], start=current + 1):
            async with conn.transaction():
                await conn.execute(script)
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return len(POSTGRES_MIGRATIONS)
