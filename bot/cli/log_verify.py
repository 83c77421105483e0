"""`audit-bot verify --bundle` (offline) and `audit-bot verify --log` (the stored tree).

`--bundle FILE --key KEY [--checkpoint OLDER.txt]` needs no database and no network:
`bot.trail.bundle.verify_bundle` checks it all. `--log` recomputes the tree from the
stored leaves and checks every stored checkpoint's signature and root; it first checks
each leaf against its event (while retention kept it), naming the first that changed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.cli import settings_or_exit
from bot.cli.trail_tools import database_url, fail, trail_session
from bot.store.base import CheckpointRecord, LogStore
from bot.trail import checkpoint as cp
from bot.trail import merkle
from bot.trail.bundle import BundleError, verify_bundle
from bot.workers.log_signing import load_signer

PAGE = 5000


def verify_bundle_file(args: argparse.Namespace) -> int:
    if not args.key:
        return fail("--bundle needs --key (the verifier key you trust)")
    try:
        bundle = json.loads(Path(args.bundle).read_text(encoding="utf-8"))
        older = Path(args.checkpoint).read_text(encoding="utf-8") if args.checkpoint else None
        key = Path(args.key).read_text().strip() if Path(args.key).is_file() else args.key
        lines = verify_bundle(bundle, [key], older_checkpoint=older)
    except (OSError, ValueError) as exc:  # BundleError is a ValueError
        kind = "bundle check failed" if isinstance(exc, BundleError) else "cannot read"
        print(f"FAILED: {kind}: {exc}")
        return 1
    print("\n".join(lines))
    print("OK: the bundle verifies")
    return 0


async def verify_log(args: argparse.Namespace) -> int:
    try:
        verifier = load_signer(settings_or_exit(), create=False).verifier
    except (FileNotFoundError, ValueError) as exc:
        return fail(f"no verifier key: {exc}")
    url = database_url(args, must_exist=True)
    async with trail_session(url, "verifying the log", read_only=True) as (store, _):
        problem = await check_log(store, verifier)
    if problem:
        print(f"FAILED: {problem}")
        return 1
    print("OK: every stored checkpoint is signed and matches the tree recomputed from the leaves")
    return 0


async def check_log(store: LogStore, verifier: cp.Verifier) -> str | None:
    """The first problem with the stored log, or None."""
    checkpoints = await store.checkpoints()
    pending = list(checkpoints)
    size, frontier, start = 0, (), 0
    while True:
        leaves = await store.log_leaves(start, PAGE)
        for leaf in leaves:
            if leaf.event_hash is not None and leaf.event_hash != leaf.hash:
                return (
                    f"leaf {leaf.index} changed: event {leaf.seq} of run {leaf.run_id} has hash "
                    f"{leaf.event_hash}, the log recorded {leaf.hash}"
                )
        for leaf in leaves:
            done = merkle.append(
                size,
                frontier,
                [merkle.leaf_hash(merkle.leaf_data(leaf.run_id, leaf.seq, leaf.hash))],
            )
            size, frontier = done.size, done.frontier
            while pending and pending[0].size == size:
                problem = _check_checkpoint(
                    pending.pop(0), merkle.frontier_root(frontier), verifier
                )
                if problem:
                    return problem
        if len(leaves) < PAGE:
            break
        start += PAGE
    if pending:
        return f"checkpoint of size {pending[0].size} is larger than the stored tree ({size})"
    return None


def _check_checkpoint(record: CheckpointRecord, root: bytes, verifier: cp.Verifier) -> str | None:
    try:
        signed = cp.open_checkpoint(record.note, [verifier], verifier.name)
    except cp.CheckpointError as exc:
        return f"checkpoint of size {record.size}: {exc}"
    if signed.size != record.size or signed.root != root:
        return (
            f"checkpoint of size {record.size}: its root is not the tree recomputed from the "
            "stored leaves (a leaf before it was changed)"
        )
    return None
