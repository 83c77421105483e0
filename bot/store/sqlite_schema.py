"""Versioned schema migrations and the projection's indexed columns.

Migrations are numbered and applied in order at start, each in its own transaction;
`schema_version` records the highest applied, so an upgrade only runs what is new.
"""

from __future__ import annotations

import sqlite3

from bot.store.base import StoreError

# Migration 6 in both dialects: one summary row per PR however its runs spell the
# repository (rows.outbox_key). Of a PR's rows under several spellings one stays, a
# pending one before a failed one (any pending row refreshes the whole PR), and takes
# the shared key.
MERGE_SUMMARY_KEYS = """
    DELETE FROM outbox WHERE kind = 'summary' AND EXISTS (
        SELECT 1 FROM outbox o WHERE o.kind = 'summary' AND o.key <> outbox.key
        AND lower(o.repo) = lower(outbox.repo) AND o.pr = outbox.pr
        AND ((o.state = 'pending' AND outbox.state <> 'pending')
             OR (o.state = outbox.state AND o.key < outbox.key)));
    UPDATE outbox SET key = 'summary:' || lower(repo) || '#' || pr
    WHERE kind = 'summary' AND key <> 'summary:' || lower(repo) || '#' || pr;
"""

SQLITE_MIGRATIONS: list[str] = [
    # 1: the initial shape
    """
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
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_seq INTEGER NOT NULL,
        head_hash TEXT NOT NULL,
        state TEXT NOT NULL
    );
    CREATE UNIQUE INDEX runs_open_key ON runs (key) WHERE is_open = 1 AND key IS NOT NULL;
    CREATE INDEX runs_key ON runs (key, id);
    CREATE INDEX runs_pr ON runs (repo, pr, id);
    CREATE INDEX runs_head ON runs (repo, head_sha, kind, id);
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
    ) WITHOUT ROWID;
    CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        event TEXT,
        action TEXT,
        received_at TEXT NOT NULL,
        outcome TEXT NOT NULL,
        response TEXT,
        fingerprint TEXT
    ) WITHOUT ROWID;
    CREATE TABLE bot_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TABLE outbox (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        repo TEXT NOT NULL,
        pr INTEGER NOT NULL,
        installation_id INTEGER,
        due_at REAL NOT NULL,
        version INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        state TEXT NOT NULL,
        last_error TEXT,
        claimed_until REAL,
        claimed_by TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (state, due_at);
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
    """
    CREATE TABLE bot_state (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 4: the open runs of a PR are found without scanning its closed ones
    """
    CREATE INDEX runs_open_pr ON runs (repo, pr, id) WHERE is_open = 1;
    """,
    # 5: GitHub writes per installation, counted where every instance sees them (pacing)
    """
    CREATE TABLE write_slots (installation INTEGER NOT NULL, at REAL NOT NULL);
    CREATE INDEX write_slots_at ON write_slots (installation, at);
    """,
    # 6: one summary row per PR however its runs spell the repository
    MERGE_SUMMARY_KEYS,
]


def check_readable(conn: sqlite3.Connection) -> int:
    """The schema version of a database opened read-only, if this bot can read it.

    Every version reads the same: the runs and events tables have kept their shape
    since the first, so an older database is read as it is, never upgraded.
    """
    try:
        current = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"not an audit-bot database ({exc})") from None
    if current > len(SQLITE_MIGRATIONS):
        raise StoreError(
            f"the database schema is version {current}, newer than this bot "
            f"({len(SQLITE_MIGRATIONS)}): upgrade the bot"
        )
    return int(current)


def migrate_sqlite(conn: sqlite3.Connection) -> int:
    """Apply what is new; returns the schema version now in force.

    The version is read inside each migration's write transaction, so a second
    process starting on the same file (a trail command beside the bot) waits for the
    first one's migration and then skips it instead of running it again.
    """
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
            if current > len(SQLITE_MIGRATIONS):
                raise RuntimeError(
                    f"the database schema is version {current}, newer than this bot "
                    f"({len(SQLITE_MIGRATIONS)}): upgrade the bot"
                )
            if current == len(SQLITE_MIGRATIONS):
                conn.execute("COMMIT")
                return current
            for statement in SQLITE_MIGRATIONS[current].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (current + 1,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
