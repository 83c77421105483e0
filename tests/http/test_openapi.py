"""The OpenAPI document describes every route the bot serves, and the real answers fit it.

Reporter, webhook and operations routes are driven through real HTTP; each answer's
status must be one the document lists for that operation, its content type one it
names, its body valid against the schema and its documented headers present. Each
test then checks that it saw every status the document claims, so the description
can neither miss an answer nor promise one the bot never gives. The request-body
schemas are checked both ways: bodies the bot accepts fit them, and bodies they
refuse the bot refuses with 422.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec

from bot import keys
from tests.support.bot import HEAD, REPO, Bot, load_payload, sign
from tests.support.fake_github import FakeGitHub
from tests.support.oidc_issuer import LocalIssuer
from tests.support.reporter_kit import BASE_TX, STATIC, oidc_env, token_for, x402_header

ADMIN = "admin-token-for-openapi-tests"
# Routes a browser reads (HTML pages, their assets and live fragments), not the API.
PAGE_PREFIXES = ("/runs", "/repos", "/static", "/setup")


@dataclass
class Answer:
    status: int
    headers: Any
    body: Any


@dataclass
class Described:
    """Calls the bot and holds each answer against the document it serves."""

    bot: Bot
    spec: dict[str, Any]
    seen: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    @classmethod
    async def of(cls, bot: Bot) -> Described:
        assert bot.session is not None
        async with bot.session.get(f"{bot.url}/api/openapi.json") as response:
            assert response.status == 200
            spec = await response.json()
        validate_spec(spec)
        return cls(bot, spec)

    def operation(self, method: str, template: str) -> dict[str, Any]:
        return self.spec["paths"][template][method.lower()]

    def validator(self, schema: dict[str, Any]) -> OAS31Validator:
        """A validator resolving `#/components/...` against this document."""
        return OAS31Validator({"allOf": [schema], "components": self.spec["components"]})

    def request_schema(self, method: str, template: str) -> OAS31Validator:
        body = self.operation(method, template)["requestBody"]
        return self.validator(body["content"]["application/json"]["schema"])

    async def call(
        self,
        method: str,
        template: str,
        expect: int,
        url: str | None = None,
        **kwargs: Any,
    ) -> Answer:
        assert self.bot.session is not None
        async with self.bot.session.request(
            method, self.bot.url + (url or template), **kwargs
        ) as response:
            raw = await response.read()
            answer = Answer(response.status, response.headers, raw)
            content_type = response.content_type
        assert answer.status == expect, (method, url or template, answer.status, raw[:300])
        described = self.operation(method, template)["responses"].get(str(expect))
        assert described is not None, f"{method} {template} answered {expect}, undocumented"
        content = described.get("content", {})
        assert content_type in content, (template, expect, content_type, list(content))
        if content_type == "application/json":
            answer.body = json.loads(raw)
        else:
            answer.body = raw.decode()
        self.validator(content[content_type]["schema"]).validate(answer.body)
        for name, header in described.get("headers", {}).items():
            assert name in answer.headers, f"{template} {expect} lacks the {name} header"
            if header["schema"].get("type") == "integer":
                assert answer.headers[name].isdigit(), answer.headers[name]
        self.seen.setdefault((method.lower(), template), set()).add(str(expect))
        return answer

    def assert_every_status_seen(self, method: str, template: str) -> None:
        documented = set(self.operation(method, template)["responses"])
        assert self.seen.get((method.lower(), template), set()) == documented


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def as_json(body: Any, token: str, **headers: str) -> dict[str, Any]:
    return {
        "data": json.dumps(body),
        "headers": bearer(token, **{"Content-Type": "application/json", **headers}),
    }


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)
    return value


# --- every route is described, and only routes that exist --------------------------


async def test_every_route_the_app_serves_is_described(bot: Bot) -> None:
    described = await Described.of(bot)
    assert bot.app is not None
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in bot.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    api = {(m, p) for m, p in served if not p.startswith(PAGE_PREFIXES)}
    documented = {(m, p) for p, item in described.spec["paths"].items() for m in item}
    assert api - documented == set(), "served but not described"
    assert documented - served == set(), "described but not served"
    assert ("post", "/api/runs/{run_id}/close") in api and ("post", "/webhook") in api
    # every operation says who may call it, or is open to anyone by design
    open_to_all = {"/healthz", "/readyz", "/metrics", "/api/openapi.json"}
    for path, item in described.spec["paths"].items():
        for method, operation in item.items():
            assert "security" in operation or path in open_to_all, (method, path)
            assert operation["responses"], (method, path)


# --- the read routes and the pages ----------------------------------------------------


async def test_read_routes_and_pages_answer_only_what_is_described(make_bot) -> None:
    bot = await make_bot(AUDIT_MAX_LIVE_STREAMS="0")  # no live tails: SSE answers 503
    api = await Described.of(bot)
    five = {"number": 5, "pull_request__number": 5}
    _, gone = await bot.deliver("pull_request", load_payload("pull_request.opened", **five))
    await bot.deliver("pull_request", load_payload("pull_request.closed.merged", **five))
    assert await bot.store.prune_runs(time.time() + 400 * 86400, 30, None)
    gone_id = gone["runs"][-1]
    _, opened = await bot.deliver("pull_request", load_payload("pull_request.opened"))
    run_id = opened["runs"][-1]
    await bot.settle()
    missing = "0" * 26
    calls = {
        "/api/runs": [(200, f"?repo={REPO}"), (400, "?limit=0")],
        "/api/runs/{run_id}": [(200, run_id), (400, f"{run_id}?x=1"), (404, missing)],
        "/api/runs/{run_id}/events": [(200, f"{run_id}/events"), (400, f"{run_id}/events?x=1")],
        "/api/summary": [(200, f"?repo={REPO}&pr=2"), (400, "?pr=2"), (404, "?repo=a/b&pr=1")],
        "/runs/{run_id}": [(200, run_id), (400, f"{run_id}?x=1"), (404, missing)],
        "/repos/{owner}/{repo}/pull/{number}": [(200, "2"), (400, "0"), (404, "99")],
    }
    calls["/api/runs/{run_id}/events"] += [(404, f"{missing}/events"), (410, f"{gone_id}/events")]
    calls["/api/runs/{run_id}"].append((410, gone_id))
    tail = {"headers": {"Accept": "text/event-stream"}}
    calls["/runs/{run_id}"].append((410, gone_id))
    for template, answers in calls.items():
        base = template.split("{", 1)[0] if "{" in template else template
        if template.startswith("/repos"):
            base = f"/repos/{REPO}/pull/"
        for status, rest in answers:
            await api.call("GET", template, status, base + rest)
        if template == "/api/runs/{run_id}/events":
            await api.call("GET", template, 503, f"/api/runs/{run_id}/events", **tail)
        api.assert_every_status_seen("GET", template)


# --- the reporter API ---------------------------------------------------------------

OPEN = "/api/runs"
EVENTS = "/api/runs/{run_id}/events"
CLOSE = "/api/runs/{run_id}/close"

EVERY_EVENT = [
    {"type": "step.started", "name": "review", "at": "2024-05-01T10:00:00Z"},
    {"type": "note", "text": "two files\nchanged"},
    {
        "type": "spend",
        "amount": "0.0125",
        "currency": "usd",
        "category": "llm",
        "input_tokens": 1200,
        "output_tokens": 300,
        "model": "some-model",
        "unit_price": 0.5,
        "description": "first pass",
    },
    {"type": "spend", "amount": 0, "currency": "USDC", "category": None},
    {
        "type": "proof",
        "network": "base",
        "tx": BASE_TX,
        "amount": "0.01",
        "currency": "USDC",
        "payer": "0x" + "12" * 20,
        "description": "paid API",
    },
    {"type": "proof", "network": "eip155:8453", "status": "pending"},
    {"type": "proof", "x402": x402_header(), "description": "x402 call"},
    {
        "type": "step.finished",
        "name": "review",
        "status": "failed",
        "at": "2024-05-01T10:05:00+02:00",
    },
]

# (route, body) the document refuses and so must the bot (422), each for its own reason.
REFUSED = [
    (OPEN, {"kind": "pr"}),
    (OPEN, {"kind": "Review"}),
    (OPEN, {"kind": "review", "colour": "blue"}),
    (OPEN, {"kind": "review", "pr": 0}),
    (OPEN, {"kind": "review", "head_sha": "abc"}),
    (OPEN, {"kind": "review", "budget": {}}),
    (OPEN, {"kind": "review", "events": [{"type": "launch"}]}),
    (OPEN, {"kind": "review", "idempotency_key": "has space"}),
    (EVENTS, {}),
    (EVENTS, {"events": []}),
    (EVENTS, {"events": [{"type": "note"}]}),
    (EVENTS, {"events": [{"type": "note", "text": ""}]}),
    (EVENTS, {"events": [{"type": "spend", "amount": "-1", "currency": "USD"}]}),
    (EVENTS, {"events": [{"type": "spend", "amount": "1", "currency": "$"}]}),
    (EVENTS, {"events": [{"type": "spend", "amount": "1e3", "currency": "USD"}]}),
    (EVENTS, {"events": [{"type": "spend", "amount": "1", "currency": "USD", "cost": 1}]}),
    (EVENTS, {"events": [{"type": "proof", "network": "base"}]}),
    (EVENTS, {"events": [{"type": "proof", "network": "base", "tx": BASE_TX, "amount": "1"}]}),
    (EVENTS, {"events": [{"type": "proof", "x402": "", "network": "base"}]}),
    (EVENTS, {"events": [{"type": "step.finished", "name": "x", "status": "done"}]}),
    (EVENTS, {"events": [{"type": "note", "text": "x"}] * 501}),
    (CLOSE, {"status": "done"}),
    (CLOSE, {"status": "failed", "reason": ""}),
    (CLOSE, {"status": "failed", "why": "x"}),
]


async def refused_bodies_answer_422(
    api: Described,
    token: str,
    open_body: dict[str, Any],
    events: str,
    close: str,
    key: dict[str, str],
) -> None:
    """Bodies the description refuses get 422 with field errors; a reused key without."""
    for template, body in REFUSED:
        with pytest.raises(ValidationError):
            api.request_schema("POST", template).validate(body)
        url = {OPEN: OPEN, EVENTS: events, CLOSE: close}[template]
        answer = await api.call("POST", template, 422, url, **as_json(body, token))
        assert answer.body["errors"], (body, answer.body)
    # the same key for a different request: 422 without field errors
    conflict = {"events": [{"type": "note", "text": "other"}]}
    answer = await api.call("POST", EVENTS, 422, events, **as_json(conflict, token, **key))
    assert "errors" not in answer.body and "idempotency key" in answer.body["error"]
    answer = await api.call("POST", OPEN, 422, **as_json({**open_body, "name": "x"}, token))
    assert "errors" not in answer.body


async def unknown_runs_answer_404(
    api: Described, token: str, run_id: str, events: str, close: str, note: dict[str, Any]
) -> None:
    """Events or close for a run that does not exist (or is no run ID) answer 404."""
    unknown = "/api/runs/" + "0" * 26
    for template, url, body in ((EVENTS, events, note), (CLOSE, close, {})):
        suffix = url.removeprefix(f"/api/runs/{run_id}")
        await api.call("POST", template, 404, unknown + suffix, **as_json(body, token))
        await api.call(
            "POST", template, 404, "/api/runs/not-a-run" + suffix, **as_json(body, token)
        )


async def test_reporter_answers_and_bodies_match_the_description(
    make_bot: Callable[..., Awaitable[Bot]], issuer: LocalIssuer
) -> None:
    bot = await make_bot(**oidc_env(issuer, AUDIT_API_MAX_BODY_BYTES="32768"))
    api = await Described.of(bot)
    token = token_for(issuer)
    open_body = {
        "kind": "review",
        "name": "LLM review",
        "repo": REPO,
        "pr": 2,
        "head_sha": HEAD.upper(),
        "budget": "5 USD, 10 USDC",
        "idempotency_key": "open-1",
        "events": EVERY_EVENT[:2],
    }
    api.request_schema("POST", OPEN).validate(open_body)
    opened = await api.call("POST", OPEN, 201, **as_json(open_body, token))
    assert opened.body["replayed"] is False and opened.body["pr"] == 2
    replay = await api.call("POST", OPEN, 200, **as_json(open_body, token))
    assert replay.body == {**opened.body, "replayed": True}
    # a static token must name the repository; an object budget; no PR
    static_body = {"kind": "ci", "repo": REPO, "budget": {"usd": "1.5"}}
    api.request_schema("POST", OPEN).validate(static_body)
    other = await api.call("POST", OPEN, 201, **as_json(static_body, STATIC))
    assert other.body["pr"] is None

    run_id = opened.body["id"]
    events, close = EVENTS.replace("{run_id}", run_id), CLOSE.replace("{run_id}", run_id)
    batch = {"events": EVERY_EVENT}
    api.request_schema("POST", EVENTS).validate(batch)
    key = {"Idempotency-Key": "batch-1"}
    recorded = await api.call("POST", EVENTS, 201, events, **as_json(batch, token, **key))
    assert recorded.body["recorded"] == len(EVERY_EVENT) and len(recorded.body["proofs"]) == 3
    assert recorded.body["spend"] == {"USD": "0.0125", "USDC": "0"}
    again = await api.call("POST", EVENTS, 200, events, **as_json(batch, token, **key))
    assert again.body["replayed"] is True and again.body["recorded"] == 0

    await refused_bodies_answer_422(api, token, open_body, events, close, key)

    await refusals_common_to_every_route(api, token, issuer, events, close)
    # events or close for runs that are not open to reports
    note = {"events": [{"type": "note", "text": "late"}]}
    await unknown_runs_answer_404(api, token, run_id, events, close, note)
    status, delivered = await bot.deliver("pull_request", load_payload("pull_request.opened"))
    assert status == 200
    pr_run = delivered["runs"][-1]
    for template, body in ((EVENTS, note), (CLOSE, {"status": "failed"})):
        url = template.replace("{run_id}", pr_run)
        answer = await api.call("POST", template, 409, url, **as_json(body, token))
        assert "webhooks" in answer.body["error"]

    # no body and no content type (as `curl -X POST` sends) closes as succeeded
    bare = {
        "headers": bearer(token, **{"Idempotency-Key": "close-1"}),
        "skip_auto_headers": ["Content-Type"],
    }
    closed = await api.call("POST", CLOSE, 200, close, **bare)
    assert closed.body["status"] == "succeeded" and closed.body["replayed"] is False
    replayed = await api.call("POST", CLOSE, 200, close, **bare)
    assert replayed.body["replayed"] is True
    api.request_schema("POST", CLOSE).validate({"status": "failed", "reason": "line\nbreak"})
    await api.call("POST", CLOSE, 409, close, **as_json({"status": "failed"}, token))
    await api.call("POST", EVENTS, 409, events, **as_json(note, token))

    # issuer keys unreachable: 503 with Retry-After, on a bot that never fetched them
    issuer.jwks_status = 500
    down = await make_bot(**oidc_env(issuer))
    api_down = await Described.of(down)
    for template, url, body in (
        (OPEN, OPEN, open_body),
        (EVENTS, events, note),
        (CLOSE, close, {}),
    ):
        await api_down.call("POST", template, 503, url, **as_json(body, token))
        api.seen[("post", template)].add("503")

    for template in (OPEN, EVENTS, CLOSE):
        api.assert_every_status_seen("POST", template)
    status, run = await bot.request("GET", f"/api/runs/{run_id}", headers=bearer(token))
    assert status == 200 and run["seq"] == 1 + 2 + len(EVERY_EVENT) + 1  # nothing else written


async def refusals_common_to_every_route(
    api: Described, token: str, issuer: LocalIssuer, events: str, close: str
) -> None:
    """400, 401, 403, 413 and 415 on each route, in the order the bot checks them."""
    note = {"events": [{"type": "note", "text": "x"}]}
    outsider = token_for(issuer, repository="octo-org/elsewhere")
    routes = ((OPEN, OPEN, {"kind": "review", "repo": REPO}), (EVENTS, events, note))
    for template, url, body in (*routes, (CLOSE, close, {"status": "failed"})):
        answer = await api.call("POST", template, 401, url, json=body)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        answer = await api.call("POST", template, 401, url, **as_json(body, "not-a-token"))
        assert "invalid_token" in answer.headers["WWW-Authenticate"]
        answer = await api.call("POST", template, 403, url, **as_json(body, outsider))
        # Opening names the repository the caller asked for; an existing run's is not told.
        assert (REPO in answer.body["error"]) == (template == OPEN)
        headers = bearer(token, **{"Content-Type": "application/json"})
        await api.call("POST", template, 400, url, data=b"{not json", headers=headers)
        await api.call("POST", template, 400, url, data=b'{"kind": NaN}', headers=headers)
        plain = bearer(token, **{"Content-Type": "text/plain"})
        await api.call("POST", template, 415, url, data=json.dumps(body), headers=plain)
        big = {**body, "padding": "x" * 40_000}
        answer = await api.call("POST", template, 413, url, **as_json(big, token))
        assert "32768" in answer.body["error"]


async def test_reporter_without_credentials_configured_is_401(
    make_bot: Callable[..., Awaitable[Bot]],
) -> None:
    api = await Described.of(await make_bot(AUDIT_OIDC_ENABLED="false"))
    answer = await api.call("POST", OPEN, 401, **as_json({"kind": "review"}, "anything"))
    assert "no credentials configured" in answer.body["error"]


# --- the webhook --------------------------------------------------------------------


def signed(body: bytes, event: str = "pull_request", **headers: str | None) -> dict[str, Any]:
    sent = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign(body),
        **headers,
    }
    return {"data": body, "headers": {k: v for k, v in sent.items() if v is not None}}


async def test_webhook_answers_match_the_description(
    bot: Bot, make_bot: Callable[..., Awaitable[Bot]]
) -> None:
    api = await Described.of(bot)
    opened = json.dumps(load_payload("pull_request.opened")).encode()
    first = signed(opened, **{"X-GitHub-Delivery": "delivery-1"})
    answer = await api.call("POST", "/webhook", 200, **first)
    assert answer.body["status"] == "recorded" and answer.body["events"] >= 1
    answer = await api.call("POST", "/webhook", 200, **first)
    assert (answer.body["status"], answer.body["events"]) == ("duplicate", 0)
    # GitHub's form-encoded delivery format
    review = json.dumps(load_payload("pull_request.review_requested"))
    form = urlencode({"payload": review}).encode()
    sent = signed(form, **{"Content-Type": "application/x-www-form-urlencoded"})
    answer = await api.call("POST", "/webhook", 200, **sent)
    assert answer.body["status"] == "recorded"
    ping = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    answer = await api.call("POST", "/webhook", 200, **signed(ping, event="ping"))
    assert answer.body["status"] == "logged"  # app-level events go to the bot log

    await api.call("POST", "/webhook", 400, **signed(opened, **{"X-GitHub-Event": None}))
    await api.call("POST", "/webhook", 400, **signed(opened, **{"X-GitHub-Delivery": None}))
    await api.call("POST", "/webhook", 400, **signed(b"[1, 2]"))
    payload = load_payload("pull_request.opened")
    del payload["pull_request"]["head"]["sha"]
    answer = await api.call("POST", "/webhook", 400, **signed(json.dumps(payload).encode()))
    assert answer.body["field"] == "pull_request.head.sha"
    unsigned = signed(opened, **{"X-Hub-Signature-256": None})
    await api.call("POST", "/webhook", 401, **unsigned)
    await api.call("POST", "/webhook", 401, **signed(opened, **{"X-Hub-Signature-256": sign(b"")}))
    await api.call("POST", "/webhook", 415, **signed(opened, **{"Content-Type": "text/plain"}))
    small = await make_bot(AUDIT_MAX_BODY_BYTES="4096")
    await Described(small, api.spec).call("POST", "/webhook", 413, **signed(opened))
    api.seen[("post", "/webhook")].add("413")
    # Setup mode beyond loopback (no credentials, no secret): every delivery is refused.
    closed = await make_bot(HOST="0.0.0.0", GITHUB_WEBHOOK_SECRET="", GITHUB_TOKEN="")
    await Described(closed, api.spec).call("POST", "/webhook", 503, **signed(opened))
    api.seen[("post", "/webhook")].add("503")
    api.assert_every_status_seen("POST", "/webhook")


# --- operations: health, readiness, metrics, outbox ---------------------------------


async def test_health_readiness_and_metrics_match_the_description(
    make_bot: Callable[..., Awaitable[Bot]],
) -> None:
    bot = await make_bot(AUDIT_READY_MAX_OUTBOX_LAG_SECONDS="0.1")
    api = await Described.of(bot)
    assert (await api.call("GET", "/healthz", 200)).body == {"status": "ok"}
    ready = await api.call("GET", "/readyz", 200)
    assert ready.body["status"] == "ready" and ready.body["outbox"]["pending"] == 0
    metrics = await api.call("GET", "/metrics", 200)
    assert "audit_http_request_duration_seconds" in metrics.body
    # a wedged worker: the outbox lag passes the bound
    await bot.app[keys.OUTBOX].stop()  # type: ignore[index]
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    await asyncio.sleep(0.2)
    stuck = await api.call("GET", "/readyz", 503)
    assert stuck.body["status"].startswith("outbox lag") and stuck.body["outbox"]["pending"] == 1
    await bot.store.close()
    gone = await api.call("GET", "/readyz", 503)
    assert gone.body == {"status": "store unreachable"}
    await api.call("GET", "/healthz", 200)
    for path in ("/healthz", "/readyz", "/metrics"):
        api.assert_every_status_seen("GET", path)


async def test_outbox_answers_match_the_description(
    make_bot: Callable[..., Awaitable[Bot]], github: FakeGitHub
) -> None:
    bot = await make_bot(AUDIT_ADMIN_TOKEN=ADMIN)
    api = await Described.of(bot)
    counts = await api.call("GET", "/api/outbox", 200)
    assert counts.body["pending"] == 0 and "AUDIT_ADMIN_TOKEN" in counts.body["note"]
    github.fail("POST", r"/issues/2/comments$", 404)  # given up on
    github.fail("POST", r"/issues/3/comments$", 502)  # retried with backoff
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    three = load_payload("pull_request.opened", number=3, pull_request__number=3)
    await bot.deliver("pull_request", three)

    async def both() -> Any:
        _, body = await bot.request("GET", "/api/outbox", headers=bearer(ADMIN))
        return body if body["failures"] and body["retrying"] else None

    await until(both)
    rows = await api.call("GET", "/api/outbox", 200, headers=bearer(ADMIN))
    assert [r["pr"] for r in rows.body["failures"]] == [2]
    assert [r["pr"] for r in rows.body["retrying"]] == [3] and "note" not in rows.body
    counts = await api.call("GET", "/api/outbox", 200)
    assert counts.body["failed"] == 1 and "failures" not in counts.body
    await api.call("GET", "/api/outbox", 401, headers=bearer("wrong"))
    await api.call("GET", "/api/outbox", 401, headers={"Authorization": f"Basic {ADMIN}"})
    api.assert_every_status_seen("GET", "/api/outbox")


async def test_the_description_refuses_wrong_shapes(bot: Bot) -> None:
    """The schemas are strict enough to catch drift, not just `type: object`."""
    api = await Described.of(bot)

    def answer_schema(method: str, template: str, status: str) -> OAS31Validator:
        content = api.operation(method, template)["responses"][status]["content"]
        return api.validator(content["application/json"]["schema"])

    wrong = [
        (("POST", OPEN, "201"), {"id": "x", "url": "u", "repo": REPO, "pr": 2, "kind": "ci"}),
        (("POST", EVENTS, "422"), {"error": "invalid request", "errors": [{"path": "x"}]}),
        (("POST", CLOSE, "200"), {"run_id": "0" * 26, "status": "succeeded", "spend": {}}),
        (("GET", "/api/outbox", "200"), {"pending": 0, "failed": 0, "lag_seconds": 0.0}),
        (("GET", "/readyz", "200"), {"status": "ready", "outbox": {"pending": 0}}),
        (("POST", "/webhook", "200"), {"status": "done", "delivery": "d", "runs": [], "events": 0}),
    ]
    for (method, template, status), body in wrong:
        with pytest.raises(ValidationError):
            answer_schema(method, template, status).validate(body)
