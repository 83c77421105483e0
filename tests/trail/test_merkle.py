"""The log's Merkle tree against RFC 9162's own recursive definitions and known roots."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.trail import merkle as m


# --- RFC 9162 §2.1, written straight from the definitions -------------------------------
def mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def path(i: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if i < k:
        return [*path(i, leaves[:k]), mth(leaves[k:])]
    return [*path(i - k, leaves[k:]), mth(leaves[:k])]


def subproof(i: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if i == n:
        return [] if b else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if i <= k:
        return [*subproof(i, leaves[:k], b), mth(leaves[k:])]
    return [*subproof(i - k, leaves[k:], False), mth(leaves[:k])]


def proof(i: int, leaves: list[bytes]) -> list[bytes]:
    return subproof(i, leaves, True)


# --- a store made with the appender ------------------------------------------------------
def build(data: list[bytes], batches: list[int] | None = None) -> tuple[dict, list[bytes]]:
    """Append `data` in batches; the stored nodes and each size's root along the way."""
    store: dict[tuple[int, int], bytes] = {}
    size, frontier = 0, ()
    roots = []
    hashes = [m.leaf_hash(d) for d in data]
    for count in batches or [len(data)]:
        done = m.append(size, frontier, hashes[size : size + count])
        for level, index, value in done.nodes:
            assert (level, index) not in store
            store[(level, index)] = value
        size, frontier = done.size, done.frontier
        roots.append(m.frontier_root(frontier))
    return store, roots


def getter(store: dict) -> m.Get:
    return lambda level, index: store[(level, index)]


DATA = [f"leaf {i}".encode() for i in range(70)]
STORE, _ = build(DATA)
GET = getter(STORE)


def test_every_size_index_and_pair_up_to_70() -> None:
    for n in range(1, 71):
        leaves = DATA[:n]
        root = m.root(n, GET)
        assert root == mth(leaves)
        for i in range(n):
            got = m.inclusion_proof(i, n, GET)
            assert got == path(i, leaves)
            m.verify_inclusion(m.leaf_hash(leaves[i]), i, n, got, root)
        for old in range(1, n + 1):
            got = m.consistency_proof(old, n, GET)
            assert got == (proof(old, leaves) if old < n else [])
            m.verify_consistency(old, n, mth(DATA[:old]), root, got)


def test_nodes_and_from_fetch_in_one_go() -> None:
    wanted = m.inclusion_nodes(37, 70)
    fetched = {a: STORE[a] for a in wanted}  # one query
    assert m.inclusion_from(37, 70, fetched) == path(37, DATA[:70])
    wanted = m.consistency_nodes(23, 70) + m.root_nodes(70)
    fetched = {a: STORE[a] for a in wanted}
    assert m.consistency_from(23, 70, fetched) == proof(23, DATA[:70])
    assert m.root_from(70, fetched) == mth(DATA)
    with pytest.raises(m.ProofError, match="not available"):
        m.inclusion_from(37, 70, {})


def test_empty_tree() -> None:
    assert m.root(0, GET) == m.EMPTY_ROOT == mth([])
    assert m.frontier_root(()) == m.EMPTY_ROOT
    assert m.consistency_proof(0, 5, GET) == []
    m.verify_consistency(0, 5, m.EMPTY_ROOT, m.root(5, GET), [])


def test_random_batch_splits_give_the_same_roots() -> None:
    rng = random.Random(15)
    for _ in range(30):
        n = rng.randint(1, 70)
        cuts = sorted(rng.sample(range(1, n), rng.randint(0, min(6, n - 1)))) if n > 1 else []
        batches = [b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
        store, roots = build(DATA[:n], batches)
        assert store == {a: STORE[a] for a in store}  # the same nodes, each stored once
        ends = [sum(batches[: i + 1]) for i in range(len(batches))]
        assert roots == [mth(DATA[:e]) for e in ends]


def test_append_costs_one_hash_per_new_node() -> None:
    store, _ = build(DATA[:64])
    # 2n - 1 perfect subtrees in a tree of 64: each hashed exactly once
    assert len(store) == 127


def test_append_refuses_a_frontier_of_the_wrong_length() -> None:
    with pytest.raises(m.ProofError, match="frontier"):
        m.append(3, [m.leaf_hash(b"x")], [])


@settings(max_examples=25, deadline=None)
@given(st.integers(71, 3000), st.data())
def test_larger_random_sizes(n: int, data: st.DataObject) -> None:
    leaves = [i.to_bytes(4, "big") for i in range(n)]
    store, roots = build(leaves, data.draw(st.sampled_from([[n], [n // 2, n - n // 2]])))
    get = getter(store)
    assert roots[-1] == mth(leaves)
    i = data.draw(st.integers(0, n - 1))
    assert m.inclusion_proof(i, n, get) == path(i, leaves)
    old = data.draw(st.integers(1, n))
    got = m.consistency_proof(old, n, get)
    assert got == (proof(old, leaves) if old < n else [])
    m.verify_consistency(old, n, m.root(old, get), roots[-1], got)


# --- RFC 6962 reference inputs and roots (transparency-dev/merkle, testonly) -------------
REFERENCE_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
REFERENCE_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
REFERENCE_NODES = {
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
}


def test_reference_roots() -> None:
    store, roots = build(REFERENCE_LEAVES, [1] * 8)
    assert [m.EMPTY_ROOT.hex()] + [r.hex() for r in roots] == REFERENCE_ROOTS
    get = getter(store)
    assert [m.root(n, get).hex() for n in range(9)] == REFERENCE_ROOTS
    assert {a: store[a].hex() for a in REFERENCE_NODES} == REFERENCE_NODES


# --- refusals -----------------------------------------------------------------------------
def flip(value: bytes) -> bytes:
    return bytes([value[0] ^ 1]) + value[1:]


def test_tampered_inclusion_is_refused() -> None:
    n, i = 70, 37
    root, leaf = m.root(n, GET), m.leaf_hash(DATA[i])
    good = m.inclusion_proof(i, n, GET)
    refused = [
        (leaf, i, n, [flip(good[0]), *good[1:]], root, "root"),
        (leaf, i, n, good, flip(root), "root"),
        (flip(leaf), i, n, good, root, "root"),
        (leaf, i + 1, n, good, root, "root"),
        (leaf, i, n, good[:-1], root, "too short"),
        (leaf, i, n, [*good, good[0]], root, "longer"),
        (leaf, n, n, good, root, "not below"),
        (leaf, -1, n, good, root, "not below"),
        (leaf, i, n, [b"short", *good[1:]], root, "32 bytes"),
    ]
    for lf, index, size, pr, rt, reason in refused:
        with pytest.raises(m.ProofError, match=reason):
            m.verify_inclusion(lf, index, size, pr, rt)


def test_every_wrong_index_is_refused() -> None:
    n = 23
    root = m.root(n, GET)
    for i in range(n):
        good = m.inclusion_proof(i, n, GET)
        for j in range(n):
            if j != i:
                with pytest.raises(m.ProofError):
                    m.verify_inclusion(m.leaf_hash(DATA[i]), j, n, good, root)


def test_tampered_consistency_is_refused() -> None:
    old, n = 23, 70
    old_root, new_root = m.root(old, GET), m.root(n, GET)
    good = m.consistency_proof(old, n, GET)
    refused = [
        (old, n, old_root, new_root, [flip(good[0]), *good[1:]], "root"),
        (old, n, flip(old_root), new_root, good, "old root"),
        (old, n, old_root, flip(new_root), good, "new root"),
        (old, n, old_root, new_root, good[:-1], "too short"),
        (old, n, old_root, new_root, [*good, good[0]], "longer"),
        (old, n, old_root, new_root, [], "empty"),
        (n, old, new_root, old_root, good, "larger"),
        (n, n, old_root, new_root, [], "two different roots"),
        (old + 1, n, old_root, new_root, good, "root|longer|short"),
        (0, n, old_root, new_root, [], "empty tree"),
    ]
    for a, b, r1, r2, pr, reason in refused:
        with pytest.raises(m.ProofError, match=reason):
            m.verify_consistency(a, b, r1, r2, pr)


def test_a_rewritten_prefix_is_inconsistent() -> None:
    old_root = m.root(40, GET)
    rewritten = list(DATA)
    rewritten[12] = b"rewritten"
    store, _ = build(rewritten)
    get = getter(store)
    with pytest.raises(m.ProofError, match="old root"):
        m.verify_consistency(40, 70, old_root, m.root(70, get), m.consistency_proof(40, 70, get))


def test_builders_refuse_impossible_requests() -> None:
    with pytest.raises(m.ProofError, match="not in a tree"):
        m.inclusion_nodes(5, 5)
    with pytest.raises(m.ProofError, match="no consistency proof"):
        m.consistency_nodes(6, 5)
    with pytest.raises(m.ProofError, match="not a subtree"):
        m.range_nodes(3, 7)


# --- leaf data ----------------------------------------------------------------------------
def test_leaf_data_format() -> None:
    h = "ab" * 32
    data = m.leaf_data("run-1", 7, h)
    assert data == (
        b"audit-bot/leaf/v1\x00"
        + b"\x00\x00\x00\x05run-1"
        + (7).to_bytes(8, "big")
        + bytes.fromhex(h)
    )
    # length-delimited: moving a byte between fields gives a different leaf
    assert m.leaf_data("run-", 7, h) != m.leaf_data("run-1", 7, h)
    assert len({m.leaf_data(r, s, h) for r in ("a", "ab", "é") for s in (1, 2)}) == 6


@pytest.mark.parametrize(
    ("run", "seq", "digest", "reason"),
    [
        ("", 1, "ab" * 32, "run id"),
        ("r", 0, "ab" * 32, "seq"),
        ("r", 2**64, "ab" * 32, "seq"),
        ("r", 1, "AB" * 32, "hex"),
        ("r", 1, "ab" * 31, "hex"),
    ],
)
def test_leaf_data_refuses(run: str, seq: int, digest: str, reason: str) -> None:
    with pytest.raises(m.ProofError, match=reason):
        m.leaf_data(run, seq, digest)
