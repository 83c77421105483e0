"""Retention: removing whole old runs, and saying so when someone asks for one.

`AUDIT_RETENTION_DAYS` and `AUDIT_RETENTION_MAX_RUNS` (per repository) bound what the
store keeps. A run is only ever removed whole (its events and its projection), never
trimmed, so every trail the store still holds verifies from its first event. Runs of
open pull requests are never removed: a PR is open while it has an open `pr`-kind run
(opened by `pull_request` opened/reopened/synchronize, ended by closed), and a run
that has not ended itself is never removed either.

Each removal is recorded in the bot-level log and in `pruned_runs`, so the run's API
answers 410 with when and why instead of a bare 404 (`bot.http.access.missing_run`).

The delivery records that make redeliveries and retried reporter calls duplicates go
too, after `AUDIT_RETENTION_DAYS` but never sooner than `DEDUPE_DAYS`: GitHub
redelivers only deliveries of the last three days, so older records guard nothing,
and without this the table would grow by a row per webhook for good.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from bot import keys
from bot.store.base import PrunedRun
from bot.workers.periodic import every

log = logging.getLogger(__name__)

INTERVAL = 3600.0  # seconds between passes; retention is measured in days
FIRST_PASS_DELAY = 5.0  # let start-up (migrations, outbox) go first
DEDUPE_DAYS = 7  # delivery records are kept at least this long (GitHub redelivers 3 days)
BATCH = 500
DELIVERY_BATCH = 5000


async def prune_once(app: web.Application, now: float | None = None) -> list[PrunedRun]:
    """One retention pass: prune in batches until nothing more may go."""
    settings = app[keys.SETTINGS]
    if settings.retention_days is None and settings.retention_max_runs is None:
        return []
    store = app[keys.STORE]
    when = time.time() if now is None else now
    pruned: list[PrunedRun] = []
    while True:
        batch = await store.prune_runs(
            when, settings.retention_days, settings.retention_max_runs, limit=BATCH
        )
        pruned += batch
        if len(batch) < BATCH:
            break
    keep_days = max(settings.retention_days or 0, DEDUPE_DAYS)
    forgotten = 0
    while True:  # in batches, so the SQLite writer is never held for long
        count = await store.prune_deliveries(when - keep_days * 86400, limit=DELIVERY_BATCH)
        forgotten += count
        if count < DELIVERY_BATCH:
            break
    if forgotten:
        log.info("forgot %d delivery records older than %d days", forgotten, keep_days)
    for run in pruned:
        log.info(
            "pruned run %s: %s",
            run.run_id,
            run.reason,
            extra={"run": run.run_id, "repo": run.repo, "pr": run.pr},
        )
    return pruned


def setup(app: web.Application) -> None:
    settings = app[keys.SETTINGS]
    if settings.retention_days is not None or settings.retention_max_runs is not None:
        app.cleanup_ctx.append(
            every("retention", INTERVAL, prune_once, first_delay=FIRST_PASS_DELAY)
        )
