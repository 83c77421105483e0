"""`GET /metrics` in Prometheus' text format, and request latency for every route.

Each app has its own `CollectorRegistry` (tests build many apps in one process, and
a global registry would refuse the second). Counters the bot already keeps (the
commit pipeline's stats, the outbox worker's tallies, the rate limit GitHub last
reported) are read when scraped; the outbox gauges are read from the store then.

Names: `audit_deliveries_total{source,event,outcome}`, `audit_webhook_rejected_total
{status}`, `audit_events_appended_total`, `audit_outbox_pending`, `audit_outbox_failed`,
`audit_outbox_lag_seconds`, `audit_outbox_attempts_total{result}`,
`audit_github_writes_total`, `audit_github_rate_limit_remaining{installation}`,
`audit_http_request_duration_seconds{method,route,status}`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from bot import keys
from bot.http.errors import ApiError
from bot.store.base import StoreUnavailable
from bot.workers.commit import EVENTS_APPENDED
from bot.workers.outbox import outbox_lag

log = logging.getLogger(__name__)

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The app's registry and the metrics that are observed as things happen."""

    def __init__(self, app: web.Application) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "audit_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        # labelled histograms by (method, route, status): `labels()` checks and locks on
        # every call, and every request observes one
        self._latency_children: dict[tuple[str, str, int], Any] = {}
        self.rejected = PromCounter(
            "audit_webhook_rejected",
            "Webhook deliveries answered 4xx (nothing written), by status",
            ["status"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "audit_outbox_pending", "Outbox rows waiting to be delivered", registry=self.registry
        )
        self.outbox_failed = Gauge(
            "audit_outbox_failed",
            "Outbox rows given up on (see GET /api/outbox)",
            registry=self.registry,
        )
        self.outbox_lag = Gauge(
            "audit_outbox_lag_seconds",
            "How overdue the oldest pending outbox row is",
            registry=self.registry,
        )
        self.registry.register(_Tallies(app))

    def request_latency(self, method: str, route: str, status: int) -> Any:
        """The latency histogram's child for these labels, looked up once."""
        key = (method, route, status)
        child = self._latency_children.get(key)
        if child is None:
            child = self.latency.labels(method, route, str(status))
            self._latency_children[key] = child
        return child


METRICS = web.AppKey("metrics", Metrics)


class _Tallies(Collector):
    """Counters kept elsewhere in the bot, read at scrape time."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        stats = self.app.get(keys.STATS, {})
        deliveries = CounterMetricFamily(
            "audit_deliveries",
            "Deliveries and API commands committed, by source, event and outcome",
            labels=["source", "event", "outcome"],
        )
        for key, count in sorted(stats.items(), key=repr):
            if isinstance(key, tuple) and len(key) == 3:
                source, event, outcome = key
                deliveries.add_metric([str(source), str(event or "-"), str(outcome)], count)
        yield deliveries
        yield CounterMetricFamily(
            "audit_events_appended",
            "Trail events committed",
            value=stats.get(EVENTS_APPENDED, 0),
        )
        worker = self.app.get(keys.OUTBOX)
        if worker is not None:
            attempts = CounterMetricFamily(
                "audit_outbox_attempts",
                "Outbox deliveries by result",
                labels=["result"],
            )
            for result, value in (
                ("delivered", worker.delivered),
                ("unchanged", worker.skipped_unchanged),
                ("retried", worker.retried),
                ("paced", worker.paced),
                ("failed", worker.failed),
            ):
                attempts.add_metric([result], value)
            yield attempts
            yield CounterMetricFamily(
                "audit_github_writes", "Summary comments written on GitHub", value=worker.writes
            )
        github = self.app.get(keys.GITHUB)
        remaining = GaugeMetricFamily(
            "audit_github_rate_limit_remaining",
            "Requests left in GitHub's primary rate limit, as last reported",
            labels=["installation"],
        )
        if github is not None:
            for installation, seen in sorted(github.rate_limits.items(), key=lambda kv: str(kv[0])):
                remaining.add_metric([str(installation or "token")], seen.remaining)
        yield remaining


def _route(request: web.Request) -> str:
    """The route template (`/api/runs/{run_id}`), never the raw path (cardinality)."""
    info = request.match_info
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    metrics = request.app[METRICS]
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except (web.HTTPException, ApiError) as exc:
        status = exc.status
        raise
    finally:
        route = _route(request)
        metrics.request_latency(request.method, route, status).observe(
            time.perf_counter() - started
        )
        if route == "/webhook" and 400 <= status < 500:
            metrics.rejected.labels(str(status)).inc()


async def metrics_page(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    try:
        status = await request.app[keys.STORE].outbox_status()
    except StoreUnavailable:
        pass  # the store logged it once; /readyz says why
    except Exception:
        log.exception("store not reachable for /metrics")
    else:
        metrics.outbox_pending.set(status["pending"])
        metrics.outbox_failed.set(status["failed"])
        metrics.outbox_lag.set(outbox_lag(status, time.time()))
    return web.Response(
        body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def setup(app: web.Application) -> None:
    app[METRICS] = Metrics(app)
    app.middlewares.append(observe)
    app.router.add_get("/metrics", metrics_page)
