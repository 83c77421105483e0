"""How long one append takes through `store.apply` on a run with a large state.

A run with `--currencies` currencies spread over every category, then `--events`
more events (spends, notes and payment proofs in turn), then `--appends` single-event
appends timed one by one, with the size of the stored state. Prints the figures.

    .venv/bin/python bench/append_cost.py [--currencies 20] [--events 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.store.sqlite import SQLiteStore
from bot.trail import events as ev
from bot.trail.intents import Append, ById, Command, OpenRun, RunSpec
from bot.trail.money import CATEGORIES

BATCH = 500


def _currency(i: int) -> str:
    return "X" + "".join(chr(65 + (i // 26**k) % 26) for k in range(4))


def _event(i: int, currencies: int) -> ev.NewEvent:
    kind = i % 3
    if kind == 0:
        data = {
            "amount": "0.01",
            "currency": _currency(i % currencies),
            "category": CATEGORIES[i % len(CATEGORIES)],
        }
        return ev.NewEvent(ev.SPEND, data)
    if kind == 1:
        return ev.NewEvent(ev.NOTE, {"text": f"step {i}"})
    tx = f"0x{i:064x}"
    proof = {"network": "eip155:8453", "tx": tx, "amount": "0.01", "currency": "USDC"}
    return ev.NewEvent(ev.PROOF, proof)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(f"sqlite:///{tmp}/bench.db")
        await store.open()
        try:
            spec = RunSpec(kind="agent", repo="o/r", pr=None, head_sha=None)
            first = Command(ev.Source("api", "open"), [OpenRun("k", spec)])
            run_id = (await store.apply(first)).opened[0]
            wide = [
                ev.NewEvent(
                    ev.SPEND, {"amount": "1", "currency": _currency(c), "category": category}
                )
                for c in range(args.currencies)
                for category in CATEGORIES
            ]
            started = time.perf_counter()
            pending = wide + [_event(i, args.currencies) for i in range(args.events)]
            for n, start in enumerate(range(0, len(pending), BATCH)):
                batch = pending[start : start + BATCH]
                command = Command(ev.Source("api", f"fill-{n}"), [Append(ById(run_id), batch)])
                await store.apply(command)
            filled = time.perf_counter() - started
            timings = []
            for i in range(args.appends):
                one = [ev.NewEvent(ev.NOTE, {"text": f"timed {i}"})]
                command = Command(ev.Source("api", f"timed-{i}"), [Append(ById(run_id), one)])
                t0 = time.perf_counter()
                await store.apply(command)
                timings.append((time.perf_counter() - t0) * 1000)
            state = await store.get_run(run_id)
            import orjson

            size = len(orjson.dumps(state))
        finally:
            await store.close()
    timings.sort()
    print(
        f"{args.currencies} currencies x {len(CATEGORIES)} categories, {args.events:,} events "
        f"(filled in {filled:.1f} s); state {size / 1024:.1f} KiB; one append: "
        f"median {statistics.median(timings):.2f} ms, p95 {timings[int(len(timings) * 0.95)]:.2f} "
        f"ms, max {timings[-1]:.2f} ms over {len(timings)}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--currencies", type=int, default=20)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--appends", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
