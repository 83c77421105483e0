"""What "Sign in with GitHub" adds to a read, measured in one process.

On a SQLite store with `--runs` private runs over `--repos` repositories:

- resolving a signed-in browser (cookie MAC, one session read, the cached answer of
  what GitHub lets the user read), against one `get_run` (a read every request makes);
- a listing (`GET /api/runs` without filters) for a user GitHub lets read `--repos`
  repositories, whose names become the query's LIKE patterns, against an anonymous
  listing (public runs only) and an admin listing (no rule at all).

CPU time (process_time) per call, median of `--rounds` rounds. Run from the
repository root:  .venv/bin/python bench/signin_reads.py [--runs N] [--repos N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.auth.sessions import Sessions, record_key
from bot.auth.user_access import SignIn
from bot.http.access import Reader
from bot.ids import new_run_id
from bot.store.base import RunFilter
from bot.store.sqlite import SQLiteStore
from bot.trail import events as ev


def trail(run_id: str, repo: str) -> list[ev.Event]:
    opened = ev.NewEvent(
        ev.RUN_OPENED, {"kind": "agent", "repo": repo, "pr": 1, "name": "loop", "private": True}
    )
    return [ev.seal(run_id, 1, opened, ev.Source("import", "bench"), ev.utc_now(), ev.GENESIS_HASH)]


async def per_call(job: Any, rounds: int, calls: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            await job()
        samples.append((time.process_time() - start) / calls)
    return statistics.median(samples)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(f"sqlite:///{Path(tmp)}/audit.db", debounce=0.0)
        await store.open()
        try:
            repos = [f"acme/repo-{i}" for i in range(args.repos * 2)]
            ids = []
            for n in range(args.runs):
                run_id = new_run_id()
                await store.import_run(trail(run_id, repos[n % len(repos)]))
                ids.append(run_id)
            sessions = Sessions(store, "bench-session-key-0123456789", idle=3600, max_age=86400)
            http: Any = None  # never asked: the answer is in the cache
            signin = SignIn(sessions, http, api_url="", web_url="", client=lambda: None, cookie="c")
            secret = await sessions.start("octo", 1, {"access": "ghu_x"})
            readable = frozenset(r.lower() for r in repos[: args.repos])
            signin.cache[record_key(secret)] = readable  # what GitHub answered, cached
            cookie = sessions.cookie_value(secret)
            user = await signin.user(cookie)
            assert user is not None and user.repositories == readable

            base = await per_call(lambda: store.get_run(ids[0]), args.rounds, 300)
            who = await per_call(lambda: signin.user(cookie), args.rounds, 300)
            print(f"get_run                       {base * 1e6:8.0f} µs CPU")
            print(
                f"signed-in browser resolved    {who * 1e6:8.0f} µs CPU"
                f"  ({who / base:.1f}x get_run)"
            )

            where = RunFilter(limit=50)
            shapes = {
                "anonymous (public runs only)": Reader(),
                f"signed in, {args.repos} repositories": Reader(user=user),
                "admin (no rule)": Reader(admin=True),
            }
            first = None
            for name, reader in shapes.items():
                scoped = RunFilter(limit=50, readable=reader.scope(where))

                async def listing(scoped: RunFilter = scoped) -> Any:
                    return await store.list_runs(scoped)

                cost = await per_call(listing, args.rounds, 20)
                first = first or cost
                found = len(await store.list_runs(scoped))
                print(
                    f"list 50, {name:32} {cost * 1e3:7.2f} ms CPU"
                    f"  ({cost / first:.1f}x, {found} runs)"
                )
        finally:
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
