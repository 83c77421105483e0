"""The transparency log's storage, against SQLite and a real PostgreSQL.

Integration over committed events must give the root `merkle` gives over the same
leaves; two instances integrating at once must never give one size two roots; retention
removes events, never leaves.
"""

from __future__ import annotations

import asyncio
import time

from bot.store import log as tlog
from bot.store.base import Store
from bot.trail import merkle
from tests.store import test_store_contract as contract
from tests.store.test_store_contract import close, note, open_run

# the contract's fixtures: each test runs against SQLite and PostgreSQL
store_url = contract.store_url
open_store = contract.open_store
store = contract.store
two = contract.two


def leaves_root(leaves: list[tuple[str, int, str]]) -> bytes:
    hashes = [merkle.leaf_hash(merkle.leaf_data(*leaf)) for leaf in leaves]
    return merkle.frontier_root(merkle.append(0, [], hashes).frontier)


async def logged(store: Store) -> list[tuple[str, int, str]]:
    return [(r.run_id, r.seq, r.hash) for r in await store.log_leaves(0, 10_000)]


async def test_integration_gives_merkle_root_over_the_committed_events(store: Store) -> None:
    runs = []
    for pr in range(1, 4):
        result = await store.apply(open_run(pr, f"h{pr}", note("a"), note("b")))
        runs.append(result.opened[0])
    empty = await store.integrate(4)
    assert empty.size == 4 and await store.log_size() == 4
    rest = await store.integrate(100)
    assert rest.size == 9
    leaves = await logged(store)
    assert {(r, s) for r, s, _ in leaves} == {(r, s) for r in runs for s in (1, 2, 3)}
    for run_id in runs:
        events = await store.get_events(run_id)
        for event in events:
            assert (run_id, event.seq, event.hash) in leaves
    assert rest.root == leaves_root(leaves) == await tlog.root_at(store, 9)
    assert (await store.integrate(100)).size == 9  # nothing new: same head

    index = await store.leaf_index(runs[1], 3)
    assert index is not None
    proof = await tlog.inclusion_proof(store, index, 9)
    leaf = merkle.leaf_hash(merkle.leaf_data(*leaves[index]))
    merkle.verify_inclusion(leaf, index, 9, proof, rest.root)
    old_root = leaves_root(leaves[:4])
    merkle.verify_consistency(4, 9, old_root, rest.root, await tlog.consistency_proof(store, 4, 9))


async def test_covering_size_is_the_smallest_tree_holding_the_events(store: Store) -> None:
    """What the PR comment's checkpoint is chosen by: None while one event waits."""
    first = (await store.apply(open_run(1, "h1", note("a")))).opened[0]  # seq 1, 2
    assert await store.covering_size([]) == 0
    assert await store.covering_size([(first, 2)]) is None  # not integrated yet
    await store.integrate(100)
    second = (await store.apply(open_run(2, "h2", note("b")))).opened[0]
    assert await store.covering_size([(first, 2)]) == 2
    assert await store.covering_size([(first, 2), (second, 2)]) is None
    await store.integrate(100)
    assert await store.covering_size([(first, 2), (second, 2)]) == 4
    assert await store.covering_size([(second, 1), (first, 1), (first, 1)]) == 3
    assert await store.covering_size([(first, 9)]) is None  # no such event


async def test_checkpoints_are_all_kept(store: Store) -> None:
    assert await store.latest_checkpoint() is None
    await store.save_checkpoint(3, b"\x01" * 32, "note 3\n")
    await store.save_checkpoint(5, b"\x02" * 32, "note 5\n")
    await store.save_checkpoint(5, b"\x03" * 32, "another 5\n")  # same size: ignored
    latest = await store.latest_checkpoint()
    assert latest is not None and (latest.size, latest.root, latest.note) == (
        5,
        b"\x02" * 32,
        "note 5\n",
    )
    assert [c.size for c in await store.checkpoints()] == [3, 5]


async def test_retention_removes_events_never_leaves(store: Store) -> None:
    gone = (await store.apply(open_run(1, "old", note("x")))).opened[0]
    await store.apply(close(gone))
    kept = (await store.apply(open_run(2, "new", note("y")))).opened[0]
    head = await store.integrate(100)
    pruned = await store.prune_runs(
        time.time() + 3 * 86400, retention_days=1, max_runs_per_repo=None
    )
    assert [p.run_id for p in pruned] == [gone]
    assert await store.get_events(gone) == []
    leaves = await store.log_leaves(0, 100)
    assert len(leaves) == head.size == 5
    assert all(leaf.event_hash is None for leaf in leaves if leaf.run_id == gone)
    assert all(leaf.event_hash == leaf.hash for leaf in leaves if leaf.run_id == kept)
    index = await store.leaf_index(gone, 3)
    assert index is not None
    proof = await tlog.inclusion_proof(store, index, head.size)
    leaf = merkle.leaf_hash(merkle.leaf_data(gone, 3, leaves[index].hash))
    merkle.verify_inclusion(leaf, index, head.size, proof, head.root)
    assert (await store.integrate(100)).root == head.root


async def test_two_instances_integrating_never_give_one_size_two_roots(
    two: tuple[Store, Store],
) -> None:
    a, b = two
    roots: dict[int, set[bytes]] = {}

    async def integrate(store: Store) -> None:
        for _ in range(30):
            head = await store.integrate(3)
            roots.setdefault(head.size, set()).add(head.root)
            await asyncio.sleep(0)

    async def write(store: Store, base: int) -> None:
        for pr in range(base, base + 10):
            await store.apply(open_run(pr, "h", note("n")))

    await asyncio.gather(write(a, 1), write(b, 100), integrate(a), integrate(b))
    while (await a.integrate(100)).size < 40:
        pass
    final = await b.integrate(100)
    roots.setdefault(final.size, set()).add(final.root)
    assert final.size == 40
    assert all(len(found) == 1 for found in roots.values()), roots
    leaves = await logged(a)
    assert len(leaves) == len(set(leaves)) == 40
    assert final.root == leaves_root(leaves)
    for size, found in roots.items():
        assert found == {leaves_root(leaves[:size]) if size else merkle.EMPTY_ROOT}
