"""How long `GET /api/spend` takes over a busy year: 100,000 runs of one repository.

The runs go in through the store's own writer (`store.apply`, the path every webhook
and report takes), 500 runs a command so the load takes seconds, not hours: each run
is opened with one or two spend events on a day of 2026 (kinds, categories, models and
two currencies spread over them), so `spend_daily` is filled by `Tx.add_spend` in the
events' transactions exactly as in production. Then the bot is served on loopback and
`/api/spend?repo=…&since=2026-01-01&until=2027-01-01&interval=week&by=kind` is asked
50 times (after 3 warm-up requests); p50 and p99 are printed, on SQLite and on a
throwaway PostgreSQL (`tests/support/pg_server.py`; skipped when none can start).

Run from the repository root:  .venv/bin/python bench/spend_query.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import create_app
from bot.config import load_settings
from bot.http import server
from bot.store import open_store_for
from bot.trail import events as ev
from bot.trail import intents as it

REPO = "acme/widgets"
KINDS = ("pr", "review", "ci", "agent")
CATEGORIES = ("llm", "ci", "api", "other")
MODELS = ("gpt-4o", "claude-sonnet", "gemini-pro", None)
BATCH = 500
QUERY = f"/api/spend?repo={REPO}&since=2026-01-01&until=2027-01-01&interval=week&by=kind"


def run_intent(n: int) -> it.OpenRun:
    day = date(2026, 1, 1) + timedelta(days=n * 365 // 100_000 % 365)
    at = f"{day.isoformat()}T{n % 24:02d}:00:00.000Z"
    events = [
        ev.NewEvent(
            ev.SPEND,
            {
                "amount": f"0.{n % 997:03d}{n % 7}",
                "currency": "EUR" if n % 10 == 0 else "USD",
                "category": CATEGORIES[n % 4],
                **({"model": MODELS[n % 4]} if MODELS[n % 4] else {}),
            },
            at=at,
        )
        for _ in range(1 + n % 2)
    ]
    spec = it.RunSpec(KINDS[n % 4], REPO, 1 + n // 20, f"{n:040x}", private=False)
    return it.OpenRun(f"{REPO}#{spec.pr}@{spec.head_sha}/{spec.kind}", spec, events)


async def fill(url: str, runs: int) -> float:
    store = open_store_for(url, debounce=0.0)
    await store.open()
    started = time.perf_counter()
    try:
        for first in range(0, runs, BATCH):
            intents = [run_intent(n) for n in range(first, min(first + BATCH, runs))]
            source = ev.Source("import", f"bench-{uuid.uuid4()}", "spend", None)
            await store.apply(it.Command(source, intents))
    finally:
        await store.close()
    return time.perf_counter() - started


async def measure(url: str, requests: int) -> tuple[list[float], dict]:
    env = {
        "DATABASE_URL": url,
        "GITHUB_WEBHOOK_SECRET": "bench-secret",
        "GITHUB_TOKEN": "",
        "HOST": "127.0.0.1",
        "PUBLIC_URL": "http://127.0.0.1",
    }
    settings = load_settings(env)
    app = create_app(settings)
    runner, port = await server.start(app, settings, "127.0.0.1", 0)
    timings: list[float] = []
    try:
        async with aiohttp.ClientSession() as session:
            for i in range(requests + 3):
                started = time.perf_counter()
                async with session.get(f"http://127.0.0.1:{port}{QUERY}") as response:
                    body = await response.json()
                    assert response.status == 200, body
                if i >= 3:
                    timings.append((time.perf_counter() - started) * 1000)
    finally:
        await runner.cleanup()
    return timings, body


def report(name: str, loaded: float, timings: list[float], body: dict, runs: int) -> None:
    timings.sort()
    p99 = timings[min(len(timings) - 1, round(len(timings) * 0.99) - 1)]
    counted = sum(b["runs"] for b in body["buckets"])
    print(
        f"{name:10} {runs} runs loaded in {loaded:.1f} s; {len(body['buckets'])} buckets, "
        f"{counted} run-buckets, totals {body['totals']}"
    )
    print(f"{'':10} GET {QUERY}: p50 {statistics.median(timings):.1f} ms, p99 {p99:.1f} ms")


async def bench_sqlite(runs: int, requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/audit.db"
        loaded = await fill(url, runs)
        timings, body = await measure(url, requests)
        report("SQLite", loaded, timings, body, runs)


async def bench_postgres(runs: int, requests: int) -> None:
    from tests.support.pg_server import PostgresUnavailable, ThrowawayPostgres

    pg = ThrowawayPostgres()
    try:
        pg.start()
    except PostgresUnavailable as exc:
        print(f"PostgreSQL skipped: {exc}")
        pg.stop()
        return
    try:
        loaded = await fill(pg.url, runs)
        timings, body = await measure(pg.url, requests)
        report("PostgreSQL", loaded, timings, body, runs)
    finally:
        pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    if args.only != "postgresql":
        asyncio.run(bench_sqlite(args.runs, args.requests))
    if args.only != "sqlite":
        asyncio.run(bench_postgres(args.runs, args.requests))


if __name__ == "__main__":
    main()
