"""The transparency log's SQL, written once, and the code both stores run it with.

Integration takes the log head's row under a lock (`{lock}`: `FOR UPDATE` in
PostgreSQL; SQLite has one writer), so instances integrating at once queue up and
each extends the tree the previous one left: one size never has two roots. The
events not yet logged are found through a partial index (`leaf_index IS NULL`), in
the order they were recorded; the store's order is the log's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.store.base import CheckpointRecord, LeafRecord, LogHead, LogStore
from bot.store.sql import Dialect
from bot.store.tx import Db
from bot.trail import merkle

HEAD_LOCKED = "SELECT size, frontier FROM log_head WHERE id = 1{lock}"
HEAD_SIZE = "SELECT size FROM log_head WHERE id = 1"
HEAD_UPDATE = "UPDATE log_head SET size = $1, frontier = $2 WHERE id = 1"
PENDING = (
    "SELECT run_id, seq, hash FROM events WHERE leaf_index IS NULL "
    "ORDER BY recorded_at, run_id, seq LIMIT $1"
)
MARK_LOGGED = "UPDATE events SET leaf_index = $1 WHERE run_id = $2 AND seq = $3"
LEAF_INSERT = "INSERT INTO log_leaves (idx, run_id, seq, hash) VALUES ($1, $2, $3, $4)"
NODE_INSERT = "INSERT INTO log_nodes (level, idx, hash) VALUES ($1, $2, $3)"
LEAF_INDEX = "SELECT min(idx) FROM log_leaves WHERE run_id = $1 AND seq = $2"
LEAVES = (
    "SELECT l.idx, l.run_id, l.seq, l.hash, e.hash FROM log_leaves l LEFT JOIN events e "
    "ON e.run_id = l.run_id AND e.seq = l.seq WHERE l.idx >= $1 ORDER BY l.idx LIMIT $2"
)
CHECKPOINT_INSERT = (
    "INSERT INTO log_checkpoints (size, root, note, created_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (size) DO NOTHING"
)
CHECKPOINT_COLUMNS = "size, root, note, created_at"
CHECKPOINT_LATEST = f"SELECT {CHECKPOINT_COLUMNS} FROM log_checkpoints ORDER BY size DESC LIMIT 1"
CHECKPOINTS = f"SELECT {CHECKPOINT_COLUMNS} FROM log_checkpoints ORDER BY size"


def covering_query(count: int) -> str:
    """How many of `count` (run id, seq) events are logged, and the highest first leaf
    index among them: `$1, $2` per event. A join, not `IN (VALUES …)`, which SQLite
    answers by scanning the whole table."""
    pairs = ", ".join(
        f"(CAST(${2 * i + 1} AS TEXT), CAST(${2 * i + 2} AS BIGINT))" for i in range(count)
    )
    return (
        f"WITH wanted (run_id, seq) AS (VALUES {pairs}) "
        "SELECT count(*), max(first) FROM (SELECT min(l.idx) AS first FROM wanted "
        "JOIN log_leaves l ON l.run_id = wanted.run_id AND l.seq = wanted.seq "
        "GROUP BY l.run_id, l.seq) AS logged"
    )


def nodes_query(count: int) -> str:
    """One statement fetching `count` (level, index) nodes: `$1, $2` per node.

    A join on the primary key: `(level, idx) IN (VALUES …)` reads the same but SQLite
    plans it as a scan of every node (20 ms at 20,000 leaves, growing with the tree).
    """
    pairs = ", ".join(
        f"(CAST(${2 * i + 1} AS INTEGER), CAST(${2 * i + 2} AS BIGINT))" for i in range(count)
    )
    return (
        f"WITH wanted (level, idx) AS (VALUES {pairs}) SELECT n.level, n.idx, n.hash "
        "FROM wanted JOIN log_nodes n ON n.level = wanted.level AND n.idx = wanted.idx"
    )


async def integrate(db: Db, q: Dialect, batch_limit: int) -> LogHead:
    """`LogStore.integrate` inside the caller's transaction."""
    size, frontier_text = await db.fetchrow(q(HEAD_LOCKED))
    frontier = _frontier(frontier_text)
    pending = await db.fetch(q(PENDING), batch_limit)
    if not pending:
        return LogHead(size, merkle.frontier_root(frontier))
    leaves = [merkle.leaf_hash(merkle.leaf_data(r[0], int(r[1]), r[2])) for r in pending]
    done = merkle.append(size, frontier, leaves)
    await db.executemany(
        q(LEAF_INSERT), [(size + i, r[0], int(r[1]), r[2]) for i, r in enumerate(pending)]
    )
    await db.executemany(q(MARK_LOGGED), [(size + i, r[0], r[1]) for i, r in enumerate(pending)])
    await db.executemany(q(NODE_INSERT), list(done.nodes))
    await db.execute(q(HEAD_UPDATE), done.size, "".join(h.hex() for h in done.frontier))
    return LogHead(done.size, merkle.frontier_root(done.frontier))


async def get_nodes(
    db: Db, q: Dialect, addresses: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    wanted = list(dict.fromkeys(addresses))
    if not wanted:
        return {}
    params = [value for address in wanted for value in address]
    found = await db.fetch(q(nodes_query(len(wanted))), *params)
    return {(int(r[0]), int(r[1])): bytes(r[2]) for r in found}


async def covering_size(db: Db, q: Dialect, events: Sequence[tuple[str, int]]) -> int | None:
    """`LogStore.covering_size`: the smallest tree holding all `events`, None while one
    of them is not logged yet (0 for no events)."""
    wanted = list(dict.fromkeys(events))
    if not wanted:
        return 0
    params = [value for event in wanted for value in event]
    found, highest = await db.fetchrow(q(covering_query(len(wanted))), *params)
    if int(found) < len(wanted):
        return None
    return int(highest) + 1


def checkpoint_record(row: Any) -> CheckpointRecord:
    return CheckpointRecord(int(row[0]), bytes.fromhex(row[1]), row[2], row[3])


def leaf_record(row: Any) -> LeafRecord:
    return LeafRecord(int(row[0]), row[1], int(row[2]), row[3], row[4])


def _frontier(text: str) -> list[bytes]:
    raw = bytes.fromhex(text)
    return [raw[i : i + merkle.HASH_SIZE] for i in range(0, len(raw), merkle.HASH_SIZE)]


# -- proofs from a LogStore (one node query each) -----------------------------------


async def root_at(store: LogStore, size: int) -> bytes:
    return merkle.root_from(size, await store.get_nodes(merkle.root_nodes(size)))


async def inclusion_proof(store: LogStore, index: int, size: int) -> list[bytes]:
    nodes = await store.get_nodes(merkle.inclusion_nodes(index, size))
    return merkle.inclusion_from(index, size, nodes)


async def consistency_proof(store: LogStore, m: int, n: int) -> list[bytes]:
    nodes = await store.get_nodes(merkle.consistency_nodes(m, n))
    return merkle.consistency_from(m, n, nodes)
