"""Operating the bot: health, readiness, Prometheus metrics, and logs without secrets."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import keys
from bot.github.redelivery import check_once
from bot.logs import JsonFormatter
from tests.support.bot import REPO, SECRET, Bot, load_payload
from tests.support.fake_github import FakeGitHub


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, keyed by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_healthz_and_readyz(bot: Bot) -> None:
    assert await bot.request("GET", "/healthz") == (200, {"status": "ok"})
    status, body = await bot.request("GET", "/readyz")
    assert status == 200 and body["status"] == "ready"
    assert body["outbox"] == {"pending": 0, "failed": 0, "lag_seconds": 0.0}


async def test_readyz_fails_when_the_outbox_is_stuck(make_bot) -> None:
    bot = await make_bot(AUDIT_READY_MAX_OUTBOX_LAG_SECONDS="0.3")
    await bot.app[keys.OUTBOX].stop()  # a wedged worker: nothing goes out any more
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    assert (await bot.request("GET", "/readyz"))[0] == 200
    await asyncio.sleep(0.5)
    status, body = await bot.request("GET", "/readyz")
    assert status == 503 and body["status"].startswith("outbox lag")
    assert body["outbox"]["pending"] == 1 and body["outbox"]["lag_seconds"] > 0.3


async def test_readyz_fails_when_the_store_is_unreachable(bot: Bot) -> None:
    await bot.app[keys.OUTBOX].stop()
    await bot.store.close()
    assert await bot.request("GET", "/readyz") == (503, {"status": "store unreachable"})
    assert (await bot.request("GET", "/healthz"))[0] == 200  # alive, just not ready


async def test_metrics_count_what_happened(bot: Bot, github: FakeGitHub) -> None:
    github.rate_limit_remaining = 4000
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    await bot.settle()
    pushed = load_payload("pull_request.synchronize", pull_request__head__sha="ab" * 20)
    await bot.deliver("pull_request", pushed, delivery="dup")
    await bot.deliver("pull_request", pushed, delivery="dup")  # GitHub redelivering
    await bot.deliver("star", load_payload("star.created"))
    await bot.deliver("pull_request", load_payload("pull_request.opened"), secret="wrong")
    await bot.settle()
    await bot.request("GET", "/api/runs?repo=" + REPO)
    status, text = await bot.request("GET", "/metrics")
    assert status == 200
    got = samples(text)

    def value(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    webhook = {"source": "webhook", "event": "pull_request"}
    assert value("audit_deliveries_total", **webhook, outcome="recorded") == 2
    assert value("audit_deliveries_total", **webhook, outcome="duplicate") == 1
    assert value("audit_deliveries_total", source="webhook", event="star", outcome="ignored") == 1
    assert value("audit_webhook_rejected_total", status="401") == 1
    _, listed = await bot.request("GET", "/api/runs?repo=" + REPO)
    assert value("audit_events_appended_total") == sum(r["seq"] for r in listed["runs"]) >= 3
    assert value("audit_outbox_pending") == 0 and value("audit_outbox_failed") == 0
    assert value("audit_github_writes_total") == 2  # created, then edited
    assert value("audit_outbox_attempts_total", result="delivered") >= 1
    assert value("audit_github_rate_limit_remaining", installation="1") < 4000
    count = value(
        "audit_http_request_duration_seconds_count", method="POST", route="/webhook", status="200"
    )
    assert count == 4
    routes = {dict(labels).get("route") for (name, labels) in got if "duration" in name}
    assert "/api/runs" in routes and not any("Hello-World" in str(r) for r in routes)


async def test_app_mode_logs_carry_ids_and_never_a_secret(
    make_bot, github: FakeGitHub, app_pem: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await make_bot(GITHUB_TOKEN="", GITHUB_APP_ID="4242", GITHUB_PRIVATE_KEY=app_pem)
    github.fail("POST", r"/issues/2/comments$", 401)  # a refused token: dropped, re-minted
    github.fail("PATCH", r"/issues/comments/", 502)
    await bot.deliver("pull_request", load_payload("pull_request.opened"), delivery="d-1")
    for _ in range(100):
        await bot.app[keys.OUTBOX].drain()
        if github.comments_on(REPO, 2):
            break
        await asyncio.sleep(0.02)
    await bot.deliver("pull_request", load_payload("pull_request.review_requested"))
    for _ in range(100):
        await bot.app[keys.OUTBOX].drain()
        if "octocat" in github.comments_on(REPO, 2)[0]["body"]:
            break
        await asyncio.sleep(0.02)
    await bot.deliver("pull_request", load_payload("pull_request.opened"), secret="wrong")
    github.hook_deliveries.append(
        {"id": 5, "guid": "g-5", "delivered_at": "2099-01-01T00:00:00Z", "status_code": 502}
    )
    github.fail("POST", r"/app/hook/deliveries/5/attempts", 500)
    await check_once(bot.app, now=4070908800.0)
    await bot.stop()

    secrets = {SECRET, "ghs_fake"}
    secrets |= {line for line in app_pem.splitlines() if "-----" not in line}
    secrets |= {
        r.headers["Authorization"].split(" ", 1)[1]
        for r in github.requests
        if "Authorization" in r.headers
    }
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    text = caplog.text + "\n".join(lines)
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"secrets in the logs: {[s[:8] + '…' for s in leaked]}"
    entries = [json.loads(line) for line in lines]
    [received] = [e for e in entries if e.get("delivery") == "d-1"]
    assert received["repo"] == REPO and received["installation"] == 1
    assert received["runs"] and received["level"] == "info"
    outbox = [e for e in entries if e["logger"] == "bot.workers.outbox"]
    assert outbox and all(e["repo"] == REPO and e["pr"] == 2 for e in outbox)
    assert {e["installation"] for e in outbox} == {1}


async def test_event_names_nobody_sends_are_counted_as_other(bot: Bot) -> None:
    # X-GitHub-Event is outside the signature: a replayed body under fresh names must
    # not grow /metrics by a label each.
    body = load_payload("star.created")
    for n in range(30):
        status, answer = await bot.deliver(f"made-up-{n}", body)
        assert (status, answer["status"]) == (200, "ignored")
    _, text = await bot.request("GET", "/metrics")
    got = samples(text)
    assert (
        got[
            (
                "audit_deliveries_total",
                (("event", "other"), ("outcome", "ignored"), ("source", "webhook")),
            )
        ]
        == 30
    )
    assert "made-up" not in text
