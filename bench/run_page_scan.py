"""What a live run page pays per update: a whole verification against a continued one.

The run page shows "chain verified", computed on render. A live page re-renders after
each new event; `bot/web/verified.py` continues its last verified scan over the new
events instead of re-hashing and refolding the whole trail. This script stores one run
of `--events` events in a SQLite file (through the store, as `audit-bot import` does),
then times, in the same process:

- a whole pass (`scan_trail`), what every update cost before and still costs once a
  minute per watched run (`FULL_SCAN_SECONDS`);
- an update: two events appended, then the page's scan continued over them.

Run from the repository root:  .venv/bin/python bench/run_page_scan.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.ids import new_run_id
from bot.store.sqlite import SQLiteStore
from bot.trail import events as ev
from bot.trail import intents as it
from bot.web.pages import MAX_ROWS
from bot.web.verified import VerifiedTrails
from bot.workers.scan import scan_trail

ORIGIN = ev.Source("import", "bench")


def trail(run_id: str, count: int) -> list[ev.Event]:
    """A sealed agent run: opened, then `count - 1` notes."""
    opened = ev.NewEvent(
        ev.RUN_OPENED, {"kind": "agent", "repo": "acme/widgets", "pr": 1, "name": "loop"}
    )
    at = ev.utc_now()
    events = [ev.seal(run_id, 1, opened, ORIGIN, at, ev.GENESIS_HASH)]
    for n in range(2, count + 1):
        note = ev.NewEvent(ev.NOTE, {"text": f"step {n}"})
        events.append(ev.seal(run_id, n, note, ORIGIN, at, events[-1].hash))
    return events


async def measure(count: int, updates: int) -> None:
    with tempfile.TemporaryDirectory(prefix="run-page-bench-") as tmp:
        store = SQLiteStore(f"sqlite:///{Path(tmp)}/audit.db", debounce=0.0)
        await store.open()
        try:
            run_id = new_run_id()
            started = time.perf_counter()
            await store.import_run(trail(run_id, count))
            print(f"stored one run of {count:,} events in {time.perf_counter() - started:.1f} s")

            whole = []
            for _ in range(3):
                started = time.perf_counter()
                scan = await scan_trail(store, run_id, keep_recent=MAX_ROWS)
                whole.append(time.perf_counter() - started)
                assert scan.verified and scan.count == count

            cache = VerifiedTrails()
            await cache.scan(store, run_id, MAX_ROWS)  # the page's first render
            continued = []
            for n in range(updates):
                notes = [ev.NewEvent(ev.NOTE, {"text": f"live {n}.{k}"}) for k in range(2)]
                source = ev.Source("api", f"bench-{n}", "events")
                await store.apply(it.Command(source, [it.Append(it.ById(run_id), notes)]))
                started = time.perf_counter()
                scan, _ = await cache.scan(store, run_id, MAX_ROWS)
                continued.append(time.perf_counter() - started)
                assert scan.verified and scan.continued_after, "the update was not continued"
        finally:
            await store.close()
    full_ms = statistics.median(whole) * 1000
    update_ms = statistics.median(continued) * 1000
    print(f"whole pass over {count:,} events:   median {full_ms:9.1f} ms  (3 runs)")
    print(
        f"update (2 new events, continued): median {update_ms:9.1f} ms, "
        f"max {max(continued) * 1000:.1f} ms  ({updates} updates)"
    )
    print(f"ratio whole / update: {full_ms / update_ms:,.0f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events in the run")
    parser.add_argument("--updates", type=int, default=10, help="live updates timed")
    args = parser.parse_args(argv)
    if args.events < 2 or args.updates < 1:
        parser.error("--events must be >= 2 and --updates >= 1")
    asyncio.run(measure(args.events, args.updates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
