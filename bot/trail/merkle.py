"""The log's Merkle tree (RFC 9162 §2.1): hashing, appending, proofs and their checks.

The store keeps the hash of every *perfect subtree*, addressed by (level, index): level 0
holds the leaf hashes and the node at (level, index) covers leaves
[index·2^level, (index+1)·2^level). Every subtree RFC 9162 ever hashes (a root, a proof
element) is a run of such perfect subtrees, so a root or proof needs only O(log n) stored
hashes and nothing is ever rehashed. Each proof comes in three parts so the store can
fetch everything in one query: `*_nodes` lists the addresses needed, `*_from` combines the
fetched hashes, and the plain function does both through a `get` callback.

Pure: no I/O. Every refusal is a `ProofError` that says why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = HASH()

Address = tuple[int, int]  # (level, index) of a perfect subtree
Node = tuple[int, int, bytes]  # (level, index, hash), as the store keeps it
Get = Callable[[int, int], bytes]

LEAF_PREFIX = b"audit-bot/leaf/v1\x00"


class ProofError(ValueError):
    """A root or proof cannot be built from, or does not verify against, what was given."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf_data(run_id: str, seq: int, event_hash_hex: str) -> bytes:
    """The bytes of the leaf for event `seq` of `run_id`, binding the event's chain hash.

    Format (all integers big-endian, unsigned):

        b"audit-bot/leaf/v1\\x00"        18 bytes, fixed prefix and version
        len(run_id as UTF-8)            4 bytes
        run_id as UTF-8                 that many bytes
        seq                             8 bytes
        the event's chain hash          32 bytes (the raw bytes of the 64 hex digits)

    Every field is fixed-size or length-prefixed, so one byte string has one reading.
    The chain hash pins every earlier event of the run, so the head's leaf proves the
    whole trail.
    """
    if not run_id:
        raise ProofError("a leaf needs a run id")
    if not 1 <= seq < 2**64:
        raise ProofError(f"seq {seq} is out of range")
    if len(event_hash_hex) != 64 or any(c not in "0123456789abcdef" for c in event_hash_hex):
        raise ProofError("an event hash is 64 lowercase hex digits")
    run = run_id.encode()
    return (
        LEAF_PREFIX
        + len(run).to_bytes(4, "big")
        + run
        + seq.to_bytes(8, "big")
        + bytes.fromhex(event_hash_hex)
    )


# --- appending ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Appended:
    """What integrating a batch produced: the nodes to store and the tree's new edge."""

    size: int
    frontier: tuple[bytes, ...]
    nodes: tuple[Node, ...]


def frontier_nodes(size: int) -> list[Address]:
    """Addresses of the right edge of a tree of `size` leaves, largest subtree first.

    This "compact range" is all `append` needs to continue the tree.
    """
    return root_nodes(size)


def append(size: int, frontier: Sequence[bytes], leaves: Iterable[bytes]) -> Appended:
    """Add leaf hashes after `size` leaves whose right edge is `frontier`.

    Costs one hash per new perfect subtree: O(batch + log n), never a rehash of the tree.
    """
    if size < 0 or len(frontier) != size.bit_count():
        raise ProofError(f"a tree of size {size} has {size.bit_count()} frontier hashes")
    levels = [level for level, _ in frontier_nodes(size)]
    stack = list(zip(levels, frontier, strict=True))
    nodes: list[Node] = []
    for leaf in leaves:
        _check_hash(leaf, "leaf hash")
        level, index, value = 0, size, leaf
        nodes.append((0, index, value))
        while stack and stack[-1][0] == level:
            value = node_hash(stack.pop()[1], value)
            level, index = level + 1, index >> 1
            nodes.append((level, index, value))
        stack.append((level, value))
        size += 1
    return Appended(size, tuple(value for _, value in stack), tuple(nodes))


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """The root of the tree whose right edge is `frontier` (what a checkpoint signs)."""
    return _fold(frontier) if frontier else EMPTY_ROOT


# --- roots and proofs from stored nodes --------------------------------------------------


def range_nodes(start: int, end: int) -> list[Address]:
    """The perfect subtrees, left to right, that make up leaves [start, end).

    `start` must be aligned to a power of two at least `end - start`, as every subtree
    RFC 9162 hashes is; then MTH(D[start:end]) is these hashes folded from the right.
    """
    width = end - start
    if width <= 0 or start % (1 << (width - 1).bit_length()):
        raise ProofError(f"[{start}, {end}) is not a subtree")
    out = []
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            out.append((level, start >> level))
            start += 1 << level
    return out


def root_nodes(size: int) -> list[Address]:
    return range_nodes(0, size) if size else []


def root_from(size: int, hashes: Mapping[Address, bytes]) -> bytes:
    return _range_hash(0, size, hashes) if size else EMPTY_ROOT


def root(size: int, get: Get) -> bytes:
    """MTH of the first `size` leaves."""
    return root_from(size, _fetch(root_nodes(size), get))


def inclusion_nodes(index: int, size: int) -> list[Address]:
    return [a for start, end in _inclusion_ranges(index, size) for a in range_nodes(start, end)]


def inclusion_from(index: int, size: int, hashes: Mapping[Address, bytes]) -> list[bytes]:
    return [_range_hash(s, e, hashes) for s, e in _inclusion_ranges(index, size)]


def inclusion_proof(index: int, size: int, get: Get) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf side first."""
    return inclusion_from(index, size, _fetch(inclusion_nodes(index, size), get))


def consistency_nodes(m: int, n: int) -> list[Address]:
    return [a for start, end in _consistency_ranges(m, n) for a in range_nodes(start, end)]


def consistency_from(m: int, n: int, hashes: Mapping[Address, bytes]) -> list[bytes]:
    return [_range_hash(s, e, hashes) for s, e in _consistency_ranges(m, n)]


def consistency_proof(m: int, n: int, get: Get) -> list[bytes]:
    """PROOF(m, D[0:n]) of RFC 9162 §2.1.4.1; empty when m is 0 or m == n."""
    return consistency_from(m, n, _fetch(consistency_nodes(m, n), get))


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs form PATH(index, D[0:size]), in proof order."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    out = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start += k
    out.reverse()
    return out


def _consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs form PROOF(m, D[0:n]) (SUBPROOF unrolled), in order."""
    if not 0 <= m <= n:
        raise ProofError(f"no consistency proof from size {m} to size {n}")
    if m in (0, n):
        return []
    out = []
    start, end, whole = 0, n, True
    while m != end:
        k = _split(end - start)
        if m <= start + k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start, whole = start + k, False
    if not whole:
        out.append((start, end))
    out.reverse()
    return out


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 9162 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_hash(start: int, end: int, hashes: Mapping[Address, bytes]) -> bytes:
    try:
        return _fold([hashes[a] for a in range_nodes(start, end)])
    except KeyError as missing:
        raise ProofError(f"node {missing.args[0]} is not available") from None


def _fold(values: Sequence[bytes]) -> bytes:
    acc = values[-1]
    for value in reversed(values[:-1]):
        acc = node_hash(value, acc)
    return acc


def _fetch(addresses: Iterable[Address], get: Get) -> dict[Address, bytes]:
    return {a: get(*a) for a in addresses}


# --- verification ------------------------------------------------------------------------


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """RFC 9162 §2.1.3.2: `leaf` is leaf `index` of the tree of `size` with `root_hash`."""
    _check_hash(leaf, "leaf hash")
    _check_hash(root_hash, "root hash")
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        _check_hash(p, "proof hash")
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is too short for the tree size")
    if r != root_hash:
        raise ProofError("inclusion proof does not lead to the root hash")


def verify_consistency(
    m: int, n: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: the tree of size `n` with `new_root` extends the one of size `m`."""
    _check_hash(old_root, "old root hash")
    _check_hash(new_root, "new root hash")
    for p in proof:
        _check_hash(p, "proof hash")
    if not 0 <= m <= n:
        raise ProofError(f"old size {m} is larger than new size {n}")
    if m == n or m == 0:
        _verify_trivial_consistency(m, n, old_root, new_root, proof)
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if m & (m - 1) == 0:
        path.insert(0, old_root)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof is too short for the tree sizes")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root hash")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root hash")


def _verify_trivial_consistency(
    m: int, n: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Equal sizes need equal roots, size 0 the empty tree's root; either an empty proof."""
    if proof:
        raise ProofError("consistency proof should be empty for these sizes")
    if m == n and old_root != new_root:
        raise ProofError(f"two different roots for the same size {n}")
    if m == 0 and old_root != EMPTY_ROOT:
        raise ProofError("the old root is not the empty tree's")


def _check_hash(value: object, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"a {what} is {HASH_SIZE} bytes")
