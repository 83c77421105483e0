"""Versioned schema migrations for the PostgreSQL store.

The same approach as SQLite's (`bot.store.sqlite_schema`): numbered scripts applied in
order at start, each in its own transaction, `schema_version` recording the highest
applied. Several instances may start at once against one database, so the whole
upgrade runs under a session advisory lock: the first applies what is new, the
others wait and then find nothing to do.

Shape notes: JSON is kept as text (exactly the bytes the writer produced, as in
SQLite); repository names compare case-insensitively like GitHub's (SQLite uses
`COLLATE NOCASE`, here `lower(repo)` indexes); `is_open` and `private` are small
integers so both stores share `rows.run_columns`. What both dialects write the same is
in `bot.store.migrations`.
"""

from __future__ import annotations

from typing import Any

from bot.store import migrations as shared
from bot.store.base import StoreError

# pg_advisory_lock key: "audit-bot migrations" (any constant the bot alone uses)
MIGRATION_LOCK = 0x6175_6469_7462_6F74

POSTGRES_MIGRATIONS: list[str] = [
    # 1: the initial shape
    f"""
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
        {shared.RUN_TAIL_COLUMNS}
    );
    {shared.RUN_KEY_INDEXES}
    CREATE INDEX runs_pr ON runs (lower(repo), pr, id);
    CREATE INDEX runs_head ON runs (lower(repo), head_sha, kind, id);
    CREATE INDEX runs_started ON runs (started_at);
    {shared.EVENTS_TABLE};
    {shared.DELIVERIES_TABLE};
    CREATE TABLE bot_log (
        id BIGSERIAL PRIMARY KEY,
        {shared.BOT_LOG_COLUMNS}
    );
    CREATE TABLE outbox (
        {shared.OUTBOX_KEY_COLUMNS},
        pr BIGINT NOT NULL,
        installation_id BIGINT,
        due_at DOUBLE PRECISION NOT NULL,
        {shared.OUTBOX_STATE_COLUMNS},
        claimed_until DOUBLE PRECISION,
        claimed_by TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    {shared.OUTBOX_DUE_INDEX}
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
    f"""
    {shared.BOT_STATE_TABLE};
    """,
    # 4: the open runs of a PR are found without scanning its closed ones
    """
    CREATE INDEX runs_open_pr ON runs (lower(repo), pr) WHERE is_open = 1;
    """,
    # 5: GitHub writes per installation, counted where every instance sees them (pacing)
    f"""
    CREATE TABLE write_slots (installation BIGINT NOT NULL, at DOUBLE PRECISION NOT NULL);
    {shared.WRITE_SLOTS_INDEX}
    """,
    # 6: one summary row per PR however its runs spell the repository
    shared.MERGE_SUMMARY_KEYS,
    # 7: the transparency log: leaves, perfect-subtree nodes, its head, checkpoints
    shared.LOG_TABLES.format(hash="BYTEA", without_rowid=""),
    # 8: the read rule in the query: public runs listed without touching private ones,
    # and a pruned run keeps its visibility (its 410 is for those who could read it)
    f"""
    CREATE INDEX runs_public ON runs (id) WHERE private = 0;
    CREATE INDEX runs_public_repo ON runs (lower(repo), pr, id) WHERE private = 0;
    {shared.PRUNED_PRIVATE_COLUMN} SMALLINT;
    """,
    # 9: the per-day spend rollup (GET /api/spend), backfilled from the stored events
    shared.spend_daily_migration(
        repo_type="TEXT NOT NULL",
        index_repo="lower(repo)",
        json_field="(e.data::json ->> '{}')",
        day="(CAST(substr(at, 1, 10) AS date) - DATE '1970-01-01')",
        pos="strpos",
        greatest="greatest",
    )
    + shared.spend_rollup_migration(""),
    # 10: sessions of "Sign in with GitHub" and sign-ins under way
    shared.SESSIONS_TABLE,
]


async def check_readable(conn: Any) -> int:
    """The schema version of a database read without migrating it, if this bot can read it
    (the runs and events tables have kept their shape since the first version)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    current = await conn.fetchval(shared.SCHEMA_VERSION) if exists else None
    if current is None:
        raise StoreError("not an audit-bot database (no schema_version table)")
    if current > len(POSTGRES_MIGRATIONS):
        raise StoreError(shared.newer_than_bot(current, len(POSTGRES_MIGRATIONS)))
    return int(current)


async def migrate_postgres(conn: Any) -> int:
    """Apply what is new on an asyncpg connection; returns the schema version in force."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(shared.SCHEMA_VERSION_TABLE)
        current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
        if current > len(POSTGRES_MIGRATIONS):
            raise RuntimeError(shared.newer_than_bot(current, len(POSTGRES_MIGRATIONS)))
        for version, script in enumerate(POSTGRES_MIGRATIONS[current:], start=current + 1):
            async with conn.transaction():
                await conn.execute(script)
                await conn.execute(shared.SCHEMA_VERSION_INSERT, version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return len(POSTGRES_MIGRATIONS)
