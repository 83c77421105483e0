"""The aiohttp application factory: routes, and resources opened and closed in order."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from bot import keys, reporter
from bot.config import Settings, is_loopback
from bot.github.auth import Credentials
from bot.github.checks import SpendChecks
from bot.github.client import GitHub
from bot.github.repo_config import RepoConfigs
from bot.http import access, api, errors, intake, log_routes, metrics, openapi, spend, webhooks
from bot.http import operations as ops
from bot.http.errors import json_errors
from bot.http.openapi import ApiDoc, json_content, ref
from bot.render.summary import SummaryOptions
from bot.store import open_store_for
from bot.store.base import Store, StoreUnavailable
from bot.web import app_setup as web_setup
from bot.web import pages as web_pages
from bot.web import signin, spend_pages
from bot.workers import log_integrator, missed_deliveries, retention, scan
from bot.workers.notify import RunNotifier
from bot.workers.outbox import OutboxWorker, outbox_lag

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    """Build the bot for its role; features add their routes and resources in `setup(app)`.

    `settings.role` picks the features (`FEATURES`): "intake" serves the webhooks and the
    reporter API's writes and runs the outbox and the periodic jobs; "read" serves pages,
    the read API and streams on a read-only store; "all" is both. A route a role does
    not serve is not registered, so it answers 404 (or 405 beside a route it does).

    Order matters for `cleanup_ctx`: the core resources (session, store, outbox) are
    opened first and closed last, so feature resources can rely on them.
    """
    # account_header outermost: it fills the account corner of error pages too
    middlewares = [signin.account_header, json_errors]
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=middlewares)
    app[keys.SETTINGS] = settings
    app[keys.STATS] = {}
    app[keys.NOTIFIER] = RunNotifier()
    intake_side = serves(settings, INTAKE)
    if intake_side:
        app.router.add_post("/webhook", webhooks.receive)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.cleanup_ctx.append(_resources)
    app.cleanup_ctx.append(scan.scan_pool)  # closed before the store it reads
    for feature, roles in FEATURES:
        if settings.role == "all" or settings.role in roles:
            feature(app)
    # the read API's schemas (Error, …) always; its paths where they are served
    read_doc = openapi.READ_API
    if not serves(settings, READ):
        read_doc = ApiDoc(schemas=read_doc.schemas, paths={})
    docs = [read_doc, ops.DOC, DOC]
    if serves(settings, READ):
        docs[1:1] = [log_routes.DOC, spend.DOC]
    if intake_side:
        docs[-2:-2] = [webhooks.DOC, reporter.DOC]
    openapi.setup(app, docs)
    return app


INTAKE, READ = "intake", "read"
BOTH = frozenset({INTAKE, READ})


def serves(settings: Settings, side: str) -> bool:
    """Whether a process with these settings serves `side` ("intake" or "read")."""
    return settings.role in ("all", side)


# Each feature module's `setup(app)`, with the roles that run it: routes, plus cleanup
# contexts of its own.
FEATURES: list[tuple[Callable[[web.Application], None], frozenset[str]]] = [
    (errors.setup, BOTH),
    (intake.setup, frozenset({INTAKE})),  # the request-body budget
    (api.setup_routes, frozenset({READ})),
    (spend.setup, frozenset({READ})),
    (metrics.setup, BOTH),
    (ops.setup, BOTH),
    (retention.setup, frozenset({INTAKE})),
    (missed_deliveries.setup, frozenset({INTAKE})),
    (reporter.setup, frozenset({INTAKE})),  # the writes, and the credentials they check
    (reporter.setup_credentials, frozenset({READ})),  # tokens that read private runs
    (web_pages.setup_static, BOTH),  # stylesheet and scripts: pages and /setup use them
    # before the pages: an expired link's page refusal becomes the way to sign in
    (signin.setup, frozenset({READ})),
    (web_pages.setup, frozenset({READ})),
    # after web_pages: uses its assets; /setup and the live credentials (webhook secret)
    (web_setup.setup, frozenset({INTAKE})),
    (spend_pages.setup, frozenset({READ})),  # after web_pages: uses its assets
    (log_integrator.setup, frozenset({INTAKE})),  # it writes the log
    (log_routes.setup, frozenset({READ})),
]


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        app[keys.SESSION] = session
        # A read process never writes: on SQLite it opens the file read-only (it never
        # takes the writer), on PostgreSQL its transactions are read-only.
        read_only = not serves(settings, INTAKE)
        store = open_store_for(
            settings.database_url,
            debounce=settings.comment_debounce,
            serving=True,
            read_only=read_only,
        )
        await store.open()
        app[keys.STORE] = store
        if read_only:
            _announce(settings)
            try:
                yield
            finally:
                await store.close()
            return
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
                link_token=access.link_token_for(settings.link_key, settings.link_ttl),
                pr_link_token=access.pr_link_token_for(settings.link_key, settings.link_ttl),
            ),
            repo_configs=RepoConfigs() if github is not None else None,
            # GitHub lets only Apps create check runs; a personal token gets comments only.
            spend_checks=SpendChecks() if settings.mode == "app" else None,
            # this process runs the log integrator (the intake side) and shows its checkpoints
            log_stamps=True,
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
    if not serves(settings, INTAKE):
        pass  # a read process takes no webhook: nothing to warn about them
    elif settings.setup_mode and not is_loopback(settings.host):
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
        "audit bot on http://%s:%s (store %s, mode %s, role %s)",
        settings.host,
        settings.port,
        settings.database_url.split(":", 1)[0],
        settings.mode,
        settings.role,
    )


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    store = request.app[keys.STORE]
    problem = store.check_health()  # writes failing, checkpoints failing, file lost
    if problem is not None:
        return web.json_response({"status": f"store not ready: {problem}"}, status=503)
    try:
        status = await store.outbox_status()
    except StoreUnavailable as exc:  # the store logged it once (a lost file, say)
        return web.json_response({"status": f"store not ready: {exc.reason}"}, status=503)
    except Exception:
        log.exception("store not reachable")
        return web.json_response({"status": "store unreachable"}, status=503)
    worker = request.app.get(keys.OUTBOX)
    if worker is None:  # a read process: ready when the store answers; the outbox is intake's
        counts = {"pending": status["pending"], "failed": status["failed"], "lag_seconds": 0.0}
        return web.json_response({"status": "ready", "outbox": counts})
    lag = outbox_lag(status, worker.clock())  # the worker's clock
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
                "summary": "Ready: the store takes writes and the outbox is not stuck",
                "description": "Not ready while the store's writes fail (disk full, I/O "
                "error, read-only file; ready again once a write succeeds), while WAL "
                "checkpoints fail and the WAL grows, after the database file was replaced or "
                "removed under the bot (until a restart), and when the oldest due outbox row "
                "is more than "
                "AUDIT_READY_MAX_OUTBOX_LAG_SECONDS overdue; rows waiting for a backoff or a "
                "rate limit are not due, so a GitHub outage alone does not fail it.",
                "operationId": "readyz",
                "responses": {
                    "200": json_content(ref("Health"), '`{"status": "ready", "outbox": {…}}`'),
                    "503": json_content(
                        ref("Health"),
                        "not ready: `status` says why (`store unreachable`, `store not "
                        "ready: …`, or the outbox lag with `outbox`)",
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
