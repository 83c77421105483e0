"""`audit-bot rebuild [RUN ...]`: recompute projections from the events.

The stored run state is a cache of the fold of its events; this recomputes it, writes
it where it differs, and says which runs changed and in which fields. Safe beside a
running bot: each run is rebuilt in one write transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

from bot.cli.trail_tools import (
    Progress,
    add_database_option,
    database_url,
    fail,
    open_store,
    runs_matching,
)
from bot.ids import is_run_id
from bot.store.base import RunFilter


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rebuild",
        help="recompute run projections from their events",
        description="Recompute every run's projection (or the RUNs given) from its events.",
    )
    parser.add_argument("targets", nargs="*", metavar="RUN", help="only these runs")
    add_database_option(parser)
    parser.set_defaults(run=main)


async def _ids(store: Any, targets: list[str]) -> AsyncIterator[str]:
    if targets:
        for target in targets:
            yield target
        return
    async for state in runs_matching(store, RunFilter()):
        yield state["id"]


async def rebuild(args: argparse.Namespace) -> int:
    bad = [t for t in args.targets if not is_run_id(t)]
    if bad:
        return fail(f"{bad[0]!r} is not a run ID")
    store = await open_store(database_url(args, must_exist=True))
    progress = Progress("rebuilding")
    total = changed = missing = 0
    try:
        async for run_id in _ids(store, args.targets):
            result = await store.rebuild_projection(run_id)
            if result is None:
                missing += 1
                progress.close()
                print(f"{run_id}: no such run", file=sys.stderr)
                continue
            before, after = result
            total += 1
            progress.add("runs")
            if before != after:
                changed += 1
                fields = sorted(
                    k for k in set(before) | set(after) if before.get(k) != after.get(k)
                )
                progress.close()
                print(f"{run_id}: rebuilt ({', '.join(fields)} changed)")
    finally:
        progress.close()
        await store.close()
    print(
        f"rebuilt {total} projection{'s' if total != 1 else ''}: {changed} changed",
        file=sys.stderr,
    )
    return 2 if missing else 0


def main(args: argparse.Namespace) -> int:
    return asyncio.run(rebuild(args))
