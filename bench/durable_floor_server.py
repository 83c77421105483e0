"""The least a durable webhook receiver can do on aiohttp and SQLite: a second baseline.

Beyond the ceiling (read the body, check the HMAC, answer) it parses the payload,
seals one hash-chained event for it, and answers only after a group-committed SQLite
transaction (WAL, `synchronous=FULL`) holding that event and the delivery id returns,
as the bot does; it keeps no runs, projections, outbox, logs or metrics. No real
receiver that commits before its 2xx does less, so `webhook_throughput.py` prints its
ratio to the ceiling as the most that design can reach on the machine.

Configured like the bot: HOST, PORT, GITHUB_WEBHOOK_SECRET, DATABASE_URL (sqlite:///…).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import queue
import sqlite3
import sys
import threading
from typing import Any

import orjson
from aiohttp import web
from ceiling_server import SECRET_KEY, healthz, signed  # bench/ is on sys.path

WRITER_KEY: web.AppKey[GroupWriter] = web.AppKey("writer", object)  # type: ignore[arg-type]
SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, event TEXT, action TEXT);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, delivery TEXT NOT NULL, body TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
"""


class GroupWriter:
    """One thread; rows that arrive while a COMMIT runs go into the next one."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(SCHEMA)
        row = self.conn.execute("SELECT hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        self.head = row[0] if row else "0" * 64
        self.jobs: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.loop = asyncio.get_running_loop()
        threading.Thread(target=self._run, daemon=True).start()

    async def commit(self, delivery: str, event: str, action: str, body: dict) -> bool:
        done: asyncio.Future[bool] = self.loop.create_future()
        self.jobs.put((delivery, event, action, body, done))
        return await done

    def _run(self) -> None:
        while True:
            group = [self.jobs.get()]
            while True:
                try:
                    group.append(self.jobs.get_nowait())
                except queue.Empty:
                    break
            deliveries, events, fresh = [], [], []
            seen = {
                r[0]
                for r in self.conn.execute(
                    f"SELECT id FROM deliveries WHERE id IN ({','.join('?' * len(group))})",
                    [g[0] for g in group],
                )
            }
            for delivery, event, action, body, done in group:
                if delivery in seen:
                    fresh.append((done, False))
                    continue
                seen.add(delivery)
                canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
                digest = hashlib.sha256(self.head.encode() + canonical).hexdigest()
                deliveries.append((delivery, event, action))
                events.append((delivery, canonical.decode(), self.head, digest))
                self.head = digest
                fresh.append((done, True))
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("INSERT INTO deliveries VALUES (?, ?, ?)", deliveries)
            self.conn.executemany(
                "INSERT INTO events (delivery, body, prev_hash, hash) VALUES (?, ?, ?, ?)", events
            )
            self.conn.execute("COMMIT")
            self.loop.call_soon_threadsafe(_settle, fresh)


def _settle(fresh: list[tuple[asyncio.Future[bool], bool]]) -> None:
    for done, recorded in fresh:
        if not done.done():
            done.set_result(recorded)


async def webhook(request: web.Request) -> web.Response:
    """Verify, parse, seal one event and commit it before answering."""
    body = await request.read()
    if not signed(request, body, request.app[SECRET_KEY]):
        return web.Response(status=401, text="bad signature")
    payload = orjson.loads(body)
    pull = payload["pull_request"]
    event = {
        "action": payload["action"],
        "pr": pull["number"],
        "head_sha": pull["head"]["sha"],
        "repo": payload["repository"]["full_name"],
        "title": pull["title"],
    }
    delivery = request.headers["X-GitHub-Delivery"]
    recorded = await request.app[WRITER_KEY].commit(
        delivery, request.headers["X-GitHub-Event"], payload["action"], event
    )
    return web.json_response({"status": "recorded" if recorded else "duplicate"})


async def start_writer(app: web.Application) -> None:
    url = os.environ.get("DATABASE_URL", "sqlite:///./floor.db")
    app[WRITER_KEY] = GroupWriter(url.removeprefix("sqlite:///"))


def main() -> int:
    secret = os.environ.get("GITHUB_WEBHOOK_SECRET", "")
    if not secret:
        print("GITHUB_WEBHOOK_SECRET is required", file=sys.stderr)
        return 2
    app = web.Application()
    app[SECRET_KEY] = secret.encode()
    app.on_startup.append(start_writer)
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    host = os.environ.get("HOST", "127.0.0.1")
    web.run_app(
        app, host=host, port=int(os.environ.get("PORT", "8080")), access_log=None, print=None
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
