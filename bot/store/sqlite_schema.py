"""Versioned schema migrations for the SQLite store.

Migrations are numbered and applied in order at start, each in its own transaction;
`schema_version` records the highest applied, so an upgrade only runs what is new.
"""

from __future__ import annotations

import sqlite3

from bot.store import migrations as shared
from bot.store.base import StoreError

SQLITE_MIGRATIONS: list[str] = [
    # 1: the initial shape
    f"""
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        key TEXT,
        kind TEXT NOT NULL,
        repo TEXT NOT NULL COLLATE NOCASE,
        pr INTEGER,
        head_sha TEXT,
        status TEXT NOT NULL,
        is_open INTEGER NOT NULL,
        installation_id INTEGER,
        private INTEGER,
        {shared.RUN_TAIL_COLUMNS}
    );
    {shared.RUN_KEY_INDEXES}
    CREATE INDEX runs_pr ON runs (repo, pr, id);
    CREATE INDEX runs_head ON runs (repo, head_sha, kind, id);
    {shared.EVENTS_TABLE} WITHOUT ROWID;
    {shared.DELIVERIES_TABLE} WITHOUT ROWID;
    CREATE TABLE bot_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        {shared.BOT_LOG_COLUMNS}
    );
    CREATE TABLE outbox (
        {shared.OUTBOX_KEY_COLUMNS},
        pr INTEGER NOT NULL,
        installation_id INTEGER,
        due_at REAL NOT NULL,
        {shared.OUTBOX_STATE_COLUMNS},
        claimed_until REAL,
        claimed_by TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    {shared.OUTBOX_DUE_INDEX}
    CREATE TABLE comments (
        repo TEXT NOT NULL COLLATE NOCASE,
        pr INTEGER NOT NULL,
        comment_id INTEGER,
        body TEXT NOT NULL,
        body_sha TEXT NOT NULL,
        posted_at TEXT NOT NULL,
        PRIMARY KEY (repo, pr)
    );
    """,
    # 2: retention: what was pruned, when and why (a pruned run's API answers 410)
    """
    CREATE TABLE pruned_runs (
        run_id TEXT PRIMARY KEY,
        repo TEXT NOT NULL COLLATE NOCASE,
        pr INTEGER,
        kind TEXT NOT NULL,
        last_seq INTEGER NOT NULL,
        head_hash TEXT NOT NULL,
        pruned_at TEXT NOT NULL,
        reason TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 3: small named values the bot keeps for itself (missed-delivery high-water mark)
    f"""
    {shared.BOT_STATE_TABLE} WITHOUT ROWID;
    """,
    # 4: the open runs of a PR are found without scanning its closed ones
    """
    CREATE INDEX runs_open_pr ON runs (repo, pr, id) WHERE is_open = 1;
    """,
    # 5: GitHub writes per installation, counted where every instance sees them (pacing)
    f"""
    CREATE TABLE write_slots (installation INTEGER NOT NULL, at REAL NOT NULL);
    {shared.WRITE_SLOTS_INDEX}
    """,
    # 6: one summary row per PR however its runs spell the repository
    shared.MERGE_SUMMARY_KEYS,
    # 7: the transparency log: leaves, perfect-subtree nodes, its head, checkpoints
    shared.LOG_TABLES.format(hash="BLOB", without_rowid=" WITHOUT ROWID"),
    # 8: the read rule in the query: public runs listed without touching private ones,
    # and a pruned run keeps its visibility (its 410 is for those who could read it)
    f"""
    CREATE INDEX runs_public ON runs (id) WHERE private = 0;
    CREATE INDEX runs_public_repo ON runs (repo, pr, id) WHERE private = 0;
    {shared.PRUNED_PRIVATE_COLUMN} INTEGER;
    """,
    # 9: the per-day spend rollup (GET /api/spend), backfilled from the stored events
    shared.spend_daily_migration(
        repo_type="TEXT NOT NULL COLLATE NOCASE",
        index_repo="repo",
        json_field="json_extract(e.data, '$.{}')",
        day="CAST(julianday(substr(at, 1, 10)) - 2440587.5 AS INTEGER)",
        pos="instr",
        greatest="max",
    )
    + shared.spend_rollup_migration(" WITHOUT ROWID"),
    # 10: sessions of "Sign in with GitHub" and sign-ins under way
    shared.SESSIONS_TABLE,
]


def check_readable(conn: sqlite3.Connection) -> int:
    """The schema version of a database opened read-only, if this bot can read it.

    Every version reads the same: the runs and events tables have kept their shape
    since the first, so an older database is read as it is, never upgraded.
    """
    try:
        current = conn.execute(shared.SCHEMA_VERSION).fetchone()[0] or 0
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"not an audit-bot database ({exc})") from None
    if current > len(SQLITE_MIGRATIONS):
        raise StoreError(shared.newer_than_bot(current, len(SQLITE_MIGRATIONS)))
    return int(current)


def migrate_sqlite(conn: sqlite3.Connection) -> int:
    """Apply what is new; returns the schema version now in force.

    The version is read inside each migration's write transaction, so a second
    process starting on the same file (a trail command beside the bot) waits for the
    first one's migration and then skips it instead of running it again.
    """
    conn.execute(shared.SCHEMA_VERSION_TABLE)
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute(shared.SCHEMA_VERSION).fetchone()[0] or 0
            if current > len(SQLITE_MIGRATIONS):
                raise RuntimeError(shared.newer_than_bot(current, len(SQLITE_MIGRATIONS)))
            if current == len(SQLITE_MIGRATIONS):
                conn.execute("COMMIT")
                return current
            for statement in SQLITE_MIGRATIONS[current].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(shared.SCHEMA_VERSION_INSERT.replace("$", "?"), (current + 1,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
