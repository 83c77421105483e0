"""`audit-bot rebuild [RUN ...]`: recompute projections from the events.

The stored run state is a cache of the fold of its events; this recomputes it, writes
it where it differs, and says which runs changed and in which fields. Safe beside a
running bot: each run is rebuilt in one write transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.cli.trail_tools import add_command, database_url, fail, run_ids, trail_session
from bot.ids import is_run_id

HELP = "recompute run projections from their events"
DESCRIPTION = "Recompute every run's projection (or the RUNs given) from its events."


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "rebuild", main, HELP, DESCRIPTION)
    parser.add_argument("targets", nargs="*", metavar="RUN", help="only these runs")


async def rebuild(args: argparse.Namespace) -> int:
    bad = [t for t in args.targets if not is_run_id(t)]
    if bad:
        return fail(f"{bad[0]!r} is not a run ID")
    total = changed = missing = 0
    url = database_url(args, must_exist=True)
    async with trail_session(url, "rebuilding") as (store, progress):
        async for run_id in run_ids(store, args.targets):
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
    print(
        f"rebuilt {total} projection{'s' if total != 1 else ''}: {changed} changed",
        file=sys.stderr,
    )
    return 2 if missing else 0


def main(args: argparse.Namespace) -> int:
    return asyncio.run(rebuild(args))
