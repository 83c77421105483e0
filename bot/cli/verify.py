"""`audit-bot verify [RUN | --all]`: recompute chains and projections, name divergences.

For each run: every event's hash is recomputed from its content and the hash before
it, seqs must run 1..n without a gap, and the fold of the events must equal the
stored projection (which pins the trail's length and head). The first divergence of
each run is printed, naming the event (edited, deleted or reordered); exit 1 if any.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.cli.trail_tools import add_command, database_url, fail, run_ids, trail_session
from bot.ids import is_run_id
from bot.workers.scan import divergence, scan_trail

HELP = "recompute hash chains and projections; exit 1 on any divergence"
DESCRIPTION = "Recompute each run's hash chain and projection from its events."


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "verify", main, HELP, DESCRIPTION)
    parser.add_argument("target", nargs="?", metavar="RUN", help="the run to verify")
    parser.add_argument("--all", action="store_true", help="verify every run")
    parser.add_argument("--bundle", metavar="FILE", help="check a bundle offline (no database)")
    parser.add_argument("--key", metavar="KEY", help="with --bundle: the verifier key you trust")
    parser.add_argument("--checkpoint", metavar="OLDER.txt", help="with --bundle: an older one")
    parser.add_argument(
        "--log", action="store_true", help="check every stored checkpoint against the leaves"
    )


async def verify(args: argparse.Namespace) -> int:
    if (args.target is None) == (not args.all):
        return fail("give a RUN or --all")
    if args.target is not None and not is_run_id(args.target):
        return fail(f"{args.target!r} is not a run ID")
    checked = diverged = 0
    url = database_url(args, must_exist=True)
    async with trail_session(url, "verifying", read_only=True) as (store, progress):
        if args.target is not None and await store.get_run(args.target) is None:
            return fail(f"no run {args.target}")
        async for run_id in run_ids(store, [args.target] if args.target else []):
            scan = await scan_trail(store, run_id)
            problem = divergence(scan, await store.get_run(run_id))
            checked += 1
            progress.add("runs")
            progress.add("events", scan.count)
            if problem is not None:
                diverged += 1
                progress.close()
                print(f"{run_id}: {problem}")
            elif args.target is not None:
                print(
                    f"{run_id}: chain verified, {scan.count} events, head {scan.state['head_hash']}"
                )
    if args.all:
        print(
            f"verified {checked} run{'s' if checked != 1 else ''}: "
            f"{checked - diverged} ok, {diverged} diverged",
            file=sys.stderr,
        )
    return 1 if diverged else 0


def main(args: argparse.Namespace) -> int:
    from bot.cli import log_verify

    if args.bundle:
        return log_verify.verify_bundle_file(args)
    if args.log:
        return asyncio.run(log_verify.verify_log(args))
    return asyncio.run(verify(args))
