"""`audit-bot export RUN --bundle FILE`: one run's self-contained, offline-checkable bundle.

The format is `bot.trail.bundle`'s: the run's events, the inclusion proof of its head
leaf in the latest signed checkpoint, that checkpoint, the verifier key, and
consistency proofs from the (at most 64) stored checkpoints before it, so an auditor
holding any of those older checkpoints (e.g. from GitHub) can check the log only grew.
"""

from __future__ import annotations

import argparse
import base64
import json

from bot.cli import settings_or_exit
from bot.cli.trail_tools import database_url, fail, trail_session
from bot.store import log as tlog
from bot.store.base import Store
from bot.trail.bundle import FORMAT
from bot.workers.log_signing import load_signer

OLDER_CHECKPOINTS = 64


def _b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(v).decode() for v in values]


async def build_bundle(store: Store, run_id: str, verifier_key: str) -> dict | str:
    """The bundle, or why there is none."""
    run = await store.get_run(run_id)
    if run is None:
        return f"no run {run_id}"
    events = await store.get_events(run_id)
    index = await store.leaf_index(run_id, run["seq"]) if run["seq"] else None
    latest = await store.latest_checkpoint()
    if index is None or latest is None or latest.size <= index:
        return f"run {run_id}'s head is not in a signed checkpoint yet (is the bot running?)"
    older = [c.size for c in await store.checkpoints() if c.size < latest.size]
    return {
        "format": FORMAT,
        "run_id": run_id,
        "events": [event.as_dict() for event in events],
        "leaf_index": index,
        "tree_size": latest.size,
        "inclusion_proof": _b64(await tlog.inclusion_proof(store, index, latest.size)),
        "checkpoint": latest.note,
        "verifier_key": verifier_key,
        "consistency": {
            str(m): _b64(await tlog.consistency_proof(store, m, latest.size))
            for m in older[-OLDER_CHECKPOINTS:]
        },
    }


async def export_bundle(args: argparse.Namespace) -> int:
    try:
        key = load_signer(settings_or_exit(), create=False).verifier.key
    except (FileNotFoundError, ValueError) as exc:
        return fail(f"no verifier key: {exc}")
    url = database_url(args, must_exist=True)
    async with trail_session(url, "exporting", read_only=True) as (store, _):
        bundle = await build_bundle(store, args.target, key)
    if isinstance(bundle, str):
        return fail(bundle)
    with open(args.bundle, "w", encoding="utf-8") as out:
        json.dump(bundle, out, indent=1)
        out.write("\n")
    print(f"wrote {args.bundle}: run {args.target}, tree size {bundle['tree_size']}")
    return 0
