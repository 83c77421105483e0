"""The aiohttp application factory: routes, and resources opened and closed in order."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bot import keys, reporter
from bot.config import Settings
from bot.github.auth import Credentials
from bot.github.checks import SpendChecks
from bot.github.client import GitHub
from bot.github.live_credentials import is_loopback
from bot.github.repo_config import RepoConfigs
from bot.http import access, api, errors, intake, metrics, openapi, webhooks
from bot.http import operations as ops
from bot.http.errors import json_errors
from bot.http.openapi import ApiDoc, json_content, ref
from bot.render.summary import SummaryOptions
from bot.store import open_store_for
from bot.store.base import Store
from bot.web import app_setup as web_setup
from bot.web import pages as web_pages
from bot.workers import missed_deliveries, retention, scan
from bot.workers.notify import RunNotifier
from bot.workers.outbox import OutboxWorker, outbox_lag

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    """Build the whole bot; features add their routes and resources in `setup(app)`.

    Order matters for `cleanup_ctx`: the core resources (session, store, outbox) are
    opened first and closed last, so feature resources can rely on them.
    """
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[json_errors])
    app[keys.SETTINGS] = settings
    app[keys.STATS] = {}
    app[keys.NOTIFIER] = RunNotifier()
    app.router.add_post("/webhook", webhooks.receive)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.cleanup_ctx.append(_resources)
    app.cleanup_ctx.append(scan.scan_pool)  # closed before the store it reads
    for feature in FEATURES:
        feature(app)
    openapi.setup(app, [openapi.READ_API, webhooks.DOC, reporter.DOC, ops.DOC, DOC])
    return app


# Each feature module's `setup(app)`: routes, plus cleanup contexts of its own.
FEATURES = [
    errors.setup,
    intake.setup,
    api.setup_routes,
    metrics.setup,
    ops.setup,
    retention.setup,
    missed_deliveries.setup,
    reporter.setup,
    web_pages.setup,
    web_setup.setup,  # after web_pages: uses its assets; /setup and the live credentials
]


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        app[keys.SESSION] = session
        store = open_store_for(
            settings.database_url, debounce=settings.comment_debounce, serving=True
        )
        await store.open()
        app[keys.STORE] = store
        github = _github(settings, session, store)
        if github is not None:
            app[keys.GITHUB] = github
        worker = OutboxWorker(
            store,
            github,
            debounce=settings.comment_debounce,
            options=lambda repo, pr: SummaryOptions(
                public_url=settings.link_base,
                explorers=settings.explorers,
                link_token=access.link_token_for(settings.link_key),
                pr_link_token=access.pr_link_token_for(settings.link_key),
            ),
            repo_configs=RepoConfigs() if github is not None else None,
            # GitHub lets only Apps create check runs; a personal token gets comments only.
            spend_checks=SpendChecks() if settings.mode == "app" else None,
        )
        app[keys.OUTBOX] = worker
        worker.start()
        _announce(settings)
        try:
            yield
        finally:
            await worker.stop(flush_within=settings.shutdown_grace)
            await store.close()


def _github(settings: Settings, session: aiohttp.ClientSession, store: Store) -> GitHub | None:
    """The GitHub client; None in dry run, where summaries are rendered but not posted."""
    if settings.mode == "dry-run":
        return None
    app_id, key = settings.app_id, settings.private_key
    credentials = Credentials(
        session, api_url=settings.api_url, app_id=app_id, private_key=key, token=settings.token
    )
    return GitHub(session, credentials, store)


def _announce(settings: Settings) -> None:
    if settings.setup_mode and not is_loopback(settings.host):
        log.warning("SETUP MODE: no webhook secret yet, so every webhook is refused until /setup")
    elif settings.unsigned_webhooks:
        log.warning(
            "LOCAL MODE: GITHUB_WEBHOOK_SECRET is not set, so webhooks are accepted "
            "WITHOUT signature checks; listening on %s only",
            settings.host,
        )
    if settings.mode == "dry-run":
        log.warning("DRY RUN: no GitHub credentials; summaries are rendered and stored, not posted")
    log.info(
        "audit bot on http://%s:%s (store %s, mode %s)",
        settings.host,
        settings.port,
        settings.database_url.split(":", 1)[0],
        settings.mode,
    )


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        status = await request.app[keys.STORE].outbox_status()
    except Exception:
        log.exception("store not reachable")
        return web.json_response({"status": "store unreachable"}, status=503)
    lag = outbox_lag(status, request.app[keys.OUTBOX].clock())  # the worker's clock
    bound = request.app[keys.SETTINGS].ready_max_lag
    outbox = {"pending": status["pending"], "failed": status["failed"], "lag_seconds": lag}
    if lag > bound:  # the outbox is stuck: GitHub side effects are not going out
        return web.json_response(
            {"status": f"outbox lag {lag:.0f} s is over {bound:.0f} s", "outbox": outbox},
            status=503,
        )
    return web.json_response({"status": "ready", "outbox": outbox})


# The OpenAPI description of the routes above and of /metrics (bot.http.metrics).
_OUTBOX_COUNTS = {
    "type": "object",
    "required": ["pending", "failed", "lag_seconds"],
    "additionalProperties": False,
    "properties": {
        "pending": {"type": "integer", "minimum": 0},
        "failed": {"type": "integer", "minimum": 0},
        "lag_seconds": {"type": "number", "minimum": 0},
    },
}
_HEALTH = {
    "type": "object",
    "required": ["status"],
    "additionalProperties": False,
    "properties": {"status": {"type": "string"}, "outbox": _OUTBOX_COUNTS},
}
DOC = ApiDoc(
    schemas={"Health": _HEALTH},
    paths={
        "/healthz": {
            "get": {
                "summary": "Alive: answers while the process runs",
                "operationId": "healthz",
                "responses": {"200": json_content(ref("Health"), '{"status": "ok"}')},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Ready: the store answers and the outbox is not stuck",
                "description": "Not ready when the oldest due outbox row is more than "
                "AUDIT_READY_MAX_OUTBOX_LAG_SECONDS overdue; rows waiting for a backoff or a "
                "rate limit are not due, so a GitHub outage alone does not fail it.",
                "operationId": "readyz",
                "responses": {
                    "200": json_content(ref("Health"), '`{"status": "ready", "outbox": {…}}`'),
                    "503": json_content(
                        ref("Health"),
                        "not ready: `status` says why (`store unreachable`, or the outbox lag "
                        "with `outbox`)",
                    ),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (text exposition format)",
                "operationId": "metrics",
                "responses": {
                    "200": {
                        "description": "audit_deliveries_total, audit_webhook_rejected_total, "
                        "audit_events_appended_total, audit_outbox_*, audit_github_*, "
                        "audit_http_request_duration_seconds",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    },
)
