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


# Migration 9 in both dialects: the per-day spend rollup (`bot.trail.spend_rollup`),
# one row per (run, UTC day, category, model, currency), the amount as four exact
# integer parts. `{repo_type}` is the dialect's repository column; the backfill reads
# every stored spend event once, `{json}` extracting a field of its data, `{day}` its
# day number and `{pos}` finding the decimal point in the canonical amount text.
SPEND_DAILY_TABLE = """CREATE TABLE spend_daily (
        run_id TEXT NOT NULL,
        day INTEGER NOT NULL,
        month INTEGER NOT NULL,
        category TEXT NOT NULL,
        model TEXT NOT NULL,
        currency TEXT NOT NULL,
        repo {repo_type},
        pr BIGINT,
        kind TEXT NOT NULL,
        private SMALLINT NOT NULL,
        hi BIGINT NOT NULL,
        units BIGINT NOT NULL,
        nano BIGINT NOT NULL,
        atto BIGINT NOT NULL,
        PRIMARY KEY (run_id, day, category, model, currency)
    )"""
_SPEND_SPLIT = """SELECT s.*,
        CASE WHEN {pos}(s.a, '.') > 0 THEN substr(s.a, 1, {pos}(s.a, '.') - 1)
             ELSE s.a END AS whole,
        substr(CASE WHEN {pos}(s.a, '.') > 0 THEN substr(s.a, {pos}(s.a, '.') + 1)
             ELSE '' END || '000000000000000000', 1, 18) AS frac
        FROM (SELECT e.run_id, e.at, {json_amount} AS a,
              coalesce({json_category}, 'other') AS category,
              coalesce({json_model}, '') AS model, {json_currency} AS currency,
              r.repo, r.pr, r.kind, CASE WHEN r.private = 0 THEN 0 ELSE 1 END AS private
              FROM events e JOIN runs r ON r.id = e.run_id
              WHERE e.type = 'spend' AND {json_amount} IS NOT NULL) s"""
SPEND_DAILY_BACKFILL = (
    """INSERT INTO spend_daily (run_id, day, month, category, model, currency, repo, pr,
        kind, private, hi, units, nano, atto)
    SELECT run_id, {day} AS d,
        CAST(substr(at, 1, 4) AS INTEGER) * 12 + CAST(substr(at, 6, 2) AS INTEGER) - 1 AS m,
        category, model, currency, repo, pr, kind, private,
        sum(CASE WHEN length(whole) > 15
            THEN CAST(substr(whole, 1, length(whole) - 15) AS BIGINT) ELSE 0 END),
        sum(CAST(substr(whole, {greatest}(length(whole) - 14, 1)) AS BIGINT)),
        sum(CAST(substr(frac, 1, 9) AS BIGINT)),
        sum(CAST(substr(frac, 10, 9) AS BIGINT))
    FROM ("""
    + _SPEND_SPLIT
    + """) p
    GROUP BY run_id, d, m, category, model, currency, repo, pr, kind, private"""
)


def spend_daily_migration(
    repo_type: str, index_repo: str, json_field: str, day: str, pos: str, greatest: str
) -> str:
    """Migration 9 in one dialect: the table, its index and the backfill."""
    fields = {f"json_{name}": json_field.format(name) for name in SPEND_ROLLUP_FIELDS}
    backfill = SPEND_DAILY_BACKFILL.format(day=day, pos=pos, greatest=greatest, **fields)
    return f"""
    {SPEND_DAILY_TABLE.format(repo_type=repo_type)};
    CREATE INDEX spend_daily_repo ON spend_daily ({index_repo}, day);
    {backfill};
    """


SPEND_ROLLUP_FIELDS = ("amount", "category", "model", "currency")


# The coarse rollup: one row per (repository, day, kind, category, model, currency,
# private flag) for the common queries (`by` kind, category, model or repository),
# which then read a few rows a day instead of one a run. Its `runs_*` counters count a
# run once per bucket: `spend_marks` remembers which (run, day|week|month, dimension)
# a run has already been counted for, and the first spend of that pair adds 1 to the
# row it lands in (`r`: any spend, `c`: per category, `m`: per model).
SPEND_COUNTERS = tuple(f"{dim}_{period}" for dim in "rcm" for period in "dwm")
SPEND_ROLLUP_TABLE = f"""CREATE TABLE spend_rollup (
        repo_key TEXT NOT NULL,
        day INTEGER NOT NULL,
        kind TEXT NOT NULL,
        category TEXT NOT NULL,
        model TEXT NOT NULL,
        currency TEXT NOT NULL,
        private SMALLINT NOT NULL,
        repo TEXT NOT NULL,
        month INTEGER NOT NULL,
        hi BIGINT NOT NULL,
        units BIGINT NOT NULL,
        nano BIGINT NOT NULL,
        atto BIGINT NOT NULL,
        {", ".join(f"{c} BIGINT NOT NULL" for c in SPEND_COUNTERS)},
        PRIMARY KEY (repo_key, day, kind, category, model, currency, private)
    )"""
SPEND_MARKS_TABLE = """CREATE TABLE spend_marks (
        run_id TEXT NOT NULL,
        mark TEXT NOT NULL,
        currency TEXT NOT NULL,
        PRIMARY KEY (run_id, mark, currency)
    )"""
_PERIODS = {"d": "day", "w": "(day - (day + 3) % 7)", "m": "month"}
_DIMS = {"r": "''", "c": "category", "m": "model"}


def _first_flags() -> str:
    """Per fine row: 1 where it is a run's first of its (period, dimension, currency)."""
    flags = []
    for dim, value in _DIMS.items():
        for period, expr in _PERIODS.items():
            part = f"run_id, {expr}, currency" + (f", {value}" if dim != "r" else "")
            flags.append(
                f"CASE WHEN row_number() OVER (PARTITION BY {part} ORDER BY day, category, "
                f"model) = 1 THEN 1 ELSE 0 END AS {dim}_{period}"
            )
    return ", ".join(flags)


SPEND_ROLLUP_BACKFILL = f"""INSERT INTO spend_rollup (repo_key, day, kind, category, model,
        currency, private, repo, month, hi, units, nano, atto, {", ".join(SPEND_COUNTERS)})
    SELECT lower(repo), day, kind, category, model, currency, private, min(repo), month,
        sum(hi), sum(units), sum(nano), sum(atto),
        {", ".join(f"sum({c})" for c in SPEND_COUNTERS)}
    FROM (SELECT spend_daily.*, {_first_flags()} FROM spend_daily) f
    GROUP BY lower(repo), day, kind, category, model, currency, private, month"""
SPEND_MARKS_BACKFILL = "INSERT INTO spend_marks (run_id, mark, currency) " + " UNION ".join(
    f"SELECT run_id, '{period}' || {expr} || ':{dim}:' || {value}, currency FROM spend_daily"
    for dim, value in _DIMS.items()
    for period, expr in _PERIODS.items()
)


def spend_rollup_migration(rollup_suffix: str) -> str:
    """The coarse rollup and its marks, filled from `spend_daily` (migration 9's end)."""
    return f"""
    {SPEND_ROLLUP_TABLE}{rollup_suffix};
    {SPEND_MARKS_TABLE}{rollup_suffix};
    {SPEND_ROLLUP_BACKFILL};
    {SPEND_MARKS_BACKFILL};
    """


# Migration 10 in both dialects: "Sign in with GitHub" (`bot.auth.sessions`). A row is
# a signed-in session (`kind` 'session') or a sign-in under way ('login': its state and
# PKCE verifier, taken once by the callback). `id` is a digest of the random value the
# browser holds, never the value; `sealed` is encrypted (the user's tokens, the
# verifier); times are epoch seconds.
SESSIONS_TABLE = """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        login TEXT NOT NULL,
        sealed TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        seen_at BIGINT NOT NULL
    );
    CREATE INDEX sessions_seen ON sessions (seen_at);
    CREATE INDEX sessions_created ON sessions (created_at);
"""
