"""`audit-bot import FILE`: add the runs an NDJSON export holds, verifying each chain.

Each line must be one event as `export` writes it. A malformed line is reported with
its line number and counted, never silently dropped; since every event is chained to
the one before, the run it belonged to then fails verification and is refused whole.
A run whose chain does not verify is not imported at all; a run already stored with
the same head is skipped; everything else is stored run by run, each in one
transaction. Exit status: 0 when every line was imported or already present, 1
otherwise, 2 when the file or the database cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from bot.cli.trail_tools import add_command, database_url, fail, trail_session
from bot.ids import is_run_id
from bot.store.base import RunExists, StoreError, TrailStore
from bot.trail.events import Event, verify_chain
from bot.trail.run_keys import pr_run_key, review_run_key
from bot.trail.state import State, fold

HELP = "add the runs an NDJSON export holds, verifying each chain"
DESCRIPTION = (
    "Read NDJSON written by `audit-bot export` (FILE, or - for stdin) and "
    "store every run whose hash chain verifies."
)

_HASH = re.compile(r"^[0-9a-f]{64}$")
_FIELDS = ("run_id", "seq", "type", "at", "recorded_at", "source", "data", "prev_hash", "hash")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "import", main, HELP, DESCRIPTION)
    parser.add_argument("file", metavar="FILE", help="the NDJSON file, or - for stdin")


class Malformed(ValueError):
    pass


def parse_line(raw: bytes) -> Event:
    """One exported event, checked field by field; Malformed says what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("not UTF-8") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise Malformed(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise Malformed("not a JSON object")
    missing = [name for name in _FIELDS if name not in data]
    if missing:
        raise Malformed("missing " + ", ".join(missing))
    extra = sorted(set(data) - set(_FIELDS))
    if extra:
        raise Malformed("unknown field " + ", ".join(extra))
    if not isinstance(data["run_id"], str) or not is_run_id(data["run_id"]):
        raise Malformed("run_id is not a run ID")
    seq = data["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise Malformed("seq is not a positive integer")
    for name in ("type", "at", "recorded_at"):
        if not isinstance(data[name], str) or not data[name]:
            raise Malformed(f"{name} is not a string")
    source = data["source"]
    if not isinstance(source, dict) or not all(
        isinstance(source.get(k), str) for k in ("kind", "id")
    ):
        raise Malformed("source needs string kind and id")
    if not isinstance(data["data"], dict):
        raise Malformed("data is not an object")
    for name in ("prev_hash", "hash"):
        if not isinstance(data[name], str) or not _HASH.match(data[name]):
            raise Malformed(f"{name} is not 64 lower-case hex digits")
    return Event.from_dict(data)


def natural_key(state: State) -> str | None:
    """The key webhooks use to find this run again (PR and review runs only)."""
    repo, pr = state.get("repo"), state.get("pr")
    if not repo or pr is None:
        return None
    if state.get("kind") == "pr" and state.get("head_sha"):
        return pr_run_key(repo, int(pr), state["head_sha"])
    reviewer = (state.get("review") or {}).get("reviewer")
    if state.get("kind") == "review" and reviewer:
        return review_run_key(repo, int(pr), reviewer)
    return None


@dataclass
class Report:
    name: str
    imported: int = 0
    imported_events: int = 0
    present: int = 0
    refused: int = 0
    malformed: int = 0

    def problem(self, text: str) -> None:
        print(text, file=sys.stderr)

    def summary(self) -> str:
        parts = [
            f"imported {self.imported} run{'s' if self.imported != 1 else ''} "
            f"({self.imported_events} events)"
        ]
        if self.present:
            parts.append(f"{self.present} already present")
        parts.append(f"{self.refused} refused")
        parts.append(f"{self.malformed} malformed line{'s' if self.malformed != 1 else ''}")
        return ", ".join(parts)


def groups(stream: BinaryIO, report: Report) -> Iterator[tuple[int, list[Event]]]:
    """Runs as consecutive groups of well-formed events (first line number, events)."""
    run_id: str | None = None
    first = 0
    events: list[Event] = []
    finished: set[str] = set()
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            event = parse_line(raw.rstrip(b"\r\n"))
        except Malformed as exc:
            report.malformed += 1
            report.problem(f"{report.name}:{number}: malformed line: {exc}")
            continue
        if event.run_id != run_id:
            if events:
                yield first, events
            if event.run_id in finished:
                report.malformed += 1
                report.problem(
                    f"{report.name}:{number}: run {event.run_id} appeared earlier in the file; "
                    "an export keeps each run's events together"
                )
                run_id, events = None, []
                continue
            if run_id is not None:
                finished.add(run_id)
            run_id, first, events = event.run_id, number, []
        events.append(event)
    if events:
        yield first, events


async def import_file(stream: BinaryIO, name: str, url: str) -> int:
    report = Report(name)
    async with trail_session(url, "importing") as (store, progress):
        for line, events in groups(stream, report):
            await _import_run(store, line, events, report)
            progress.add("runs")
            progress.add("events", len(events))
    print(report.summary())
    return 0 if not report.refused and not report.malformed else 1


async def _import_run(store: TrailStore, line: int, events: list[Event], report: Report) -> None:
    run_id = events[0].run_id
    where = f"{report.name}:{line}: run {run_id}"
    broken = verify_chain(events, expected_run=run_id)
    if broken is not None:
        report.refused += 1
        report.problem(f"{where} not imported: event {broken.seq}: {broken.reason}")
        return
    state = fold(run_id, events)
    try:
        await store.import_run(events, natural_key(state))
    except RunExists:
        stored = await store.get_run(run_id)
        if stored is not None and stored.get("head_hash") == state["head_hash"]:
            report.present += 1
            report.problem(f"{where} is already stored with the same head; skipped")
            return
        report.refused += 1
        report.problem(f"{where} not imported: a different run with this ID is stored")
        return
    except StoreError as exc:
        report.refused += 1
        report.problem(f"{where} not imported: {exc}")
        return
    report.imported += 1
    report.imported_events += len(events)


def main(args: argparse.Namespace) -> int:
    url = database_url(args, must_exist=False)
    if args.file == "-":
        return asyncio.run(import_file(sys.stdin.buffer, "<stdin>", url))
    try:
        stream = open(args.file, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        return fail(f"cannot read {args.file}: {exc.strerror}")
    with stream:
        return asyncio.run(import_file(stream, args.file, url))
