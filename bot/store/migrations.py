"""The migration SQL both dialects run, written once; each dialect's module composes it.

Table shapes differ where the dialects do (types, `COLLATE NOCASE` against `lower(repo)`
indexes, SQLite's `WITHOUT ROWID`); what is the same in both is here, so a change to
one of these tables cannot reach only one store.
"""

from __future__ import annotations

SCHEMA_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
SCHEMA_VERSION = "SELECT max(version) FROM schema_version"
SCHEMA_VERSION_INSERT = "INSERT INTO schema_version (version) VALUES ($1)"

# Tables of the same shape in both (SQLite appends `WITHOUT ROWID` to some)
EVENTS_TABLE = """CREATE TABLE events (
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
    )"""
DELIVERIES_TABLE = """CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        event TEXT,
        action TEXT,
        received_at TEXT NOT NULL,
        outcome TEXT NOT NULL,
        response TEXT,
        fingerprint TEXT
    )"""
BOT_STATE_TABLE = """CREATE TABLE bot_state (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )"""
# Columns of the same type in both, within tables whose other columns differ
BOT_LOG_COLUMNS = """at TEXT NOT NULL,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        data TEXT NOT NULL"""
RUN_TAIL_COLUMNS = """started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_seq INTEGER NOT NULL,
        head_hash TEXT NOT NULL,
        state TEXT NOT NULL"""
OUTBOX_KEY_COLUMNS = """key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        repo TEXT NOT NULL"""
OUTBOX_STATE_COLUMNS = """version INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        state TEXT NOT NULL,
        last_error TEXT"""
RUN_KEY_INDEXES = """
    CREATE UNIQUE INDEX runs_open_key ON runs (key) WHERE is_open = 1 AND key IS NOT NULL;
    CREATE INDEX runs_key ON runs (key, id);"""
OUTBOX_DUE_INDEX = "CREATE INDEX outbox_due ON outbox (state, due_at);"
WRITE_SLOTS_INDEX = "CREATE INDEX write_slots_at ON write_slots (installation, at);"

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

# Migration 8 in both dialects: a pruned run keeps whether it was private (NULL, as for
# runs pruned before, is treated as private).
PRUNED_PRIVATE_COLUMN = "ALTER TABLE pruned_runs ADD COLUMN private"


def newer_than_bot(current: int, known: int) -> str:
    """Why a database cannot be used: its schema is newer than this bot's migrations."""
    return (
        f"the database schema is version {current}, newer than this bot ({known}): upgrade the bot"
    )


# Migration 7 in both dialects: the transparency log (`bot.store.log`). `{hash}` is the
# dialect's byte-string type (BLOB, BYTEA). Leaves and nodes are never deleted: retention
# removes events, and a removed run's leaf still proves it was logged. `events.leaf_index`
# marks an event as logged; the partial index finds the ones still waiting.
LOG_TABLES = """
    CREATE TABLE log_leaves (
        idx BIGINT PRIMARY KEY,
        run_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX log_leaves_run ON log_leaves (run_id, seq);
    CREATE TABLE log_nodes (
        level INTEGER NOT NULL,
        idx BIGINT NOT NULL,
        hash {hash} NOT NULL,
        PRIMARY KEY (level, idx)
    ){without_rowid};
    CREATE TABLE log_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        size BIGINT NOT NULL,
        frontier TEXT NOT NULL
    );
    INSERT INTO log_head (id, size, frontier) VALUES (1, 0, '');
    CREATE TABLE log_checkpoints (
        size BIGINT PRIMARY KEY,
        root TEXT NOT NULL,
        note TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    ALTER TABLE events ADD COLUMN leaf_index BIGINT;
    CREATE INDEX events_unlogged ON events (recorded_at, run_id, seq) WHERE leaf_index IS NULL;
"""
