"""`audit-bot export RUN | --repo OWNER/NAME [--since DATE]`: trails as NDJSON.

One event a line, with its seq, prev_hash and hash, exactly as `GET
/api/runs/{id}/events` streams it; each run's events together and in order, so
`audit-bot import` can verify every chain on the way in.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import TextIO

from bot.cli.trail_tools import (
    Progress,
    add_command,
    database_url,
    fail,
    runs_matching,
    trail_session,
)
from bot.http import params as query
from bot.ids import is_run_id
from bot.store.base import RunFilter, TrailStore
from bot.workers.scan import event_line

HELP = "write runs' trails as NDJSON"
DESCRIPTION = (
    "Write one run's trail, or every run of a repository, as NDJSON "
    "(one event a line, with hashes)."
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "export", main, HELP, DESCRIPTION)
    parser.add_argument("target", nargs="?", metavar="RUN", help="the run ID to export")
    parser.add_argument("--repo", metavar="OWNER/NAME", help="export every run of a repository")
    parser.add_argument("--since", metavar="DATE", help="with --repo: runs started at or after")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    parser.add_argument(
        "--bundle", metavar="FILE", help="with RUN: write a self-contained, signed JSON bundle"
    )


def _check(args: argparse.Namespace) -> RunFilter | str | int:
    if (args.target is None) == (args.repo is None):
        return fail("give either a RUN or --repo OWNER/NAME (not both)")
    if args.since and not args.repo:
        return fail("--since goes with --repo")
    if args.target is not None:
        if not is_run_id(args.target):
            return fail(f"{args.target!r} is not a run ID")
        return args.target
    try:
        return RunFilter(
            repo=query.repo(args.repo, "--repo"), since=query.moment(args.since, "--since")
        )
    except query.BadParameter as exc:
        return fail(f"{exc.name} {exc.reason}")


async def export(args: argparse.Namespace, out: TextIO) -> int:
    target = _check(args)
    if isinstance(target, int):
        return target
    url = database_url(args, must_exist=True)
    async with trail_session(url, "exporting", read_only=True) as (store, progress):
        if isinstance(target, str):
            if await store.get_run(target) is None:
                return fail(f"no run {target}")
            await _write_run(store, target, out, progress)
        else:
            async for state in runs_matching(store, target):
                await _write_run(store, state["id"], out, progress)
    out.flush()
    runs, events = progress.counts.get("runs", 0), progress.counts.get("events", 0)
    print(f"exported {runs} run{'s' if runs != 1 else ''}, {events} events", file=sys.stderr)
    return 0


async def _write_run(store: TrailStore, run_id: str, out: TextIO, progress: Progress) -> None:
    lines: list[str] = []
    async for event in store.iter_events(run_id):
        lines.append(event_line(event) + "\n")
        if len(lines) >= 500:
            out.write("".join(lines))
            progress.add("events", len(lines))
            lines.clear()
    out.write("".join(lines))
    progress.add("events", len(lines))
    progress.add("runs")


def main(args: argparse.Namespace) -> int:
    if args.bundle:
        if args.target is None or args.repo or not is_run_id(args.target):
            return fail("--bundle goes with one RUN ID")
        from bot.cli.log_bundle import export_bundle

        return asyncio.run(export_bundle(args))
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="\n") as out:
            return asyncio.run(export(args, out))
    if hasattr(sys.stdout, "reconfigure"):  # NDJSON is UTF-8 whatever the locale
        sys.stdout.reconfigure(encoding="utf-8", newline="\n")
    try:
        return asyncio.run(export(args, sys.stdout))
    except BrokenPipeError:  # `audit-bot export … | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
