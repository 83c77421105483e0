"""`audit-bot spend --repo OWNER/NAME | --owner OWNER [--since …] [--until …]
[--interval day|week|month] [--by kind|category|model|repo|pr] [--currency C] [--csv]`.

The figures `GET /api/spend` answers, read from the database without migrating or
writing it (like `export`): for operators and cron jobs, who hold the database and so
see private repositories too. Plain text by default (one bucket a line, then the
totals per currency); `--csv` prints exactly the API's CSV.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys

from multidict import MultiDict

from bot.cli.trail_tools import add_command, database_url, fail, trail_session
from bot.http import params as query
from bot.http.spend import csv_text, spend_query
from bot.store.base import StoreError
from bot.trail.spend_rollup import DIMENSIONS, INTERVALS, Bucket, totals

HELP = "print spend over time for a repository or an owner"
DESCRIPTION = (
    "Sum the spend of a repository or of every repository of an owner into UTC day, "
    "week (from Monday) or month buckets, exact per currency, as text or CSV."
)
OPTIONS = ("repo", "owner", "since", "until", "interval", "by", "currency")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "spend", main, HELP, DESCRIPTION)
    parser.add_argument("--repo", metavar="OWNER/NAME", help="one repository")
    parser.add_argument("--owner", metavar="OWNER", help="every repository of an owner")
    parser.add_argument("--since", metavar="DATE", help="from this day (default: 365 days ago)")
    parser.add_argument("--until", metavar="DATE", help="up to this day, exclusive")
    parser.add_argument("--interval", choices=INTERVALS, default="week")
    parser.add_argument("--by", choices=DIMENSIONS, default="kind")
    parser.add_argument("--currency", metavar="CODE", help="only this currency")
    parser.add_argument("--csv", action="store_true", help="CSV, as GET /api/spend?format=csv")


def table(buckets: list[Bucket]) -> str:
    rows = [("start", "end", "key", "currency", "amount", "runs")]
    for b in buckets:
        d = b.as_dict()
        rows.append((d["start"], d["end"], d["key"], d["currency"], d["amount"], str(d["runs"])))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.append("")
    lines += [f"total  {t['amount']} {t['currency']}" for t in totals(buckets)] or ["total  none"]
    return "\n".join(lines) + "\n"


async def spend(args: argparse.Namespace) -> int:
    given = MultiDict(
        (name, getattr(args, name)) for name in OPTIONS if getattr(args, name) is not None
    )
    try:
        wanted = dataclasses.replace(spend_query(given), all_private=True)
    except query.BadParameter as exc:
        return fail(f"--{exc.name} {exc.reason}")
    url = database_url(args, must_exist=True)
    async with trail_session(url, "summing", read_only=True) as (store, _progress):
        try:
            buckets = await store.spend(wanted)
        except Exception as exc:  # a database older than the rollup (migration 7)
            if isinstance(exc, StoreError) or "spend_daily" in str(exc):
                return fail("the database has no spend rollup yet: start the bot once to migrate")
            raise
    sys.stdout.write(csv_text(buckets) if args.csv else table(buckets))
    return 0


def main(args: argparse.Namespace) -> int:
    return asyncio.run(spend(args))
