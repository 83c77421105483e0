"""Hostile input on every route the app serves: never a 5xx, nothing written, no leaks.

One bot over loopback HTTP, its runs all closed (so a live tail ends at once). Each
request is written byte for byte on a raw socket: aiohttp's client refuses to send
most of these. For every route the router lists, the sweep sends what a careless or
hostile client sends: non-UTF-8, non-ASCII and control characters in the headers the
bot reads, bad query parameters, bad path parameters, every other method, bodies that
are not JSON / the wrong JSON / nested 100,000 deep / numbers past a double / huge,
and chunked bodies over the size cap. The bar:

- never a 5xx; a 4xx is JSON with an `error` string (an HTML page on the page routes),
  except the 400s aiohttp's HTTP parser answers itself for bytes HTTP does not allow
  (control characters, raw non-ASCII in the URL, an 8 KB line, a bad chunk size),
  which never reach the app;
- no answer holds a traceback, a configured secret, or anything of the private run;
- no log record carries a traceback or a token that was sent;
- the store is exactly as before: deliveries, runs, trails and the outbox.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.http.test_hostile_inputs import raw
from tests.support.bot import REPO, SECRET, Bot, load_payload, sign

STATIC = "sweep-static-token"
ADMIN = "sweep-admin-token"
SENT_SECRET = "sweep-sent-secret"  # a token only ever sent inside hostile headers
PRIVATE = "acme/secret"
CAP = 256 * 1024
NOTE = b'{"events": [{"type": "note", "text": "x"}]}'
OPEN_ELSEWHERE = b'{"kind": "ci", "repo": "acme/secret"}'  # 403 after every check
SEEDED = "sweep-seeded-delivery"  # a webhook sent again with its id is a duplicate
OPENED = json.dumps(load_payload("pull_request.opened")).encode()


@dataclass(frozen=True)
class Case:
    method: str
    target: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes = b""
    chunked: bool = False
    malformed: bool = False  # refused by aiohttp's parser: a plain-text 400

    def wire(self) -> bytes:
        lines = [self.method.encode() + b" " + self.target + b" HTTP/1.1", b"Host: bot"]
        lines += [name + b": " + value for name, value in self.headers]
        if self.chunked:
            lines.append(b"Transfer-Encoding: chunked")
        else:
            lines.append(b"Content-Length: " + str(len(self.body)).encode())
        lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body


def chunks(size: int, piece: int = 16384) -> bytes:
    out = [b"%x\r\n" % piece + b"x" * piece + b"\r\n" for _ in range(size // piece + 1)]
    return b"".join(out) + b"0\r\n\r\n"


# --- what to send ----------------------------------------------------------------------

# Header values no route may accept. Control characters and DEL are HTTP-level errors.
BAD_VALUES = [
    (b"\xff\xfe\x80", False),  # not UTF-8
    (b"caf\xc3\xa9 \xe2\x80\xae", False),  # UTF-8 but not ASCII (with a bidi override)
    (b"", False),
    (b"   ", False),
    (b"y" * 8000, False),
    (b"Bearer " + SENT_SECRET.encode() + b"\x01", True),
    (b"\x00" + SENT_SECRET.encode(), True),
    (b"a\x7fb", True),
]
HEADERS = [
    b"Authorization",
    b"X-GitHub-Delivery",
    b"X-GitHub-Event",
    b"X-Hub-Signature-256",
    b"Idempotency-Key",
    b"Last-Event-ID",
    b"Content-Type",
    b"Accept",
    b"If-None-Match",
]
EXTRA_VALUES = {
    b"Authorization": [
        b"Bearer \xff" + SENT_SECRET.encode(),
        b"Bearer a.b.c",
        b"Bearer a.\xff.c",
        b"Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.\xff.c",
        b"Basic \xff",
    ],
    b"X-Hub-Signature-256": [b"sha256=\xc3\xa9", b"sha256=\xff" * 10, b"sha1="],
    b"Last-Event-ID": [b"-1", b"1" + b"0" * 30, b"1e3", b"\xd9\xa3"],
    b"Accept": [b"text/event-stream\xff", b"application/x-ndjson;q=\xff"],
    b"Content-Type": [b"application/json; charset=\xff", b"application/\xff+json"],
}
QUERIES = [
    b"limit=abc",
    b"limit=-1",
    b"limit=1" + b"0" * 30,
    b"limit=1e3",
    b"limit=1&limit=2",
    b"limit=",
    b"limit=%ff",
    b"limit=%",
    b"after=-5",
    b"after=" + b"9" * 40,
    b"%ff=1",
    b"a=%zz",
    b"t=%ff%fe",
    b"t=%00",
    b"t=" + b"x" * 4000,
    b"format=%ff",
    b"format=sse",
    b"format=ndjson&limit=0",
    b"repo=%ff&pr=1",
    b"repo=a/b&pr=%00",
    b"since=%ff",
    b"since=9999-12-31T23:59:59-23:59",
    b"since=0001-01-01T00:00:00%2B23:59",
    b"cursor=" + b"z" * 26,
    b"v=%ff",
    b"=",
    b"&&&",
]
MALFORMED_QUERIES = [b"t=\xff", b"limit=\x00", b"t=" + b"x" * 9000]
PATH_VALUES = [
    b"x" * 10000,
    b"%2F",
    b"a%2Fb",
    b"%2F..%2F..%2Fetc%2Fpasswd",
    b"%00",
    b"0" * 26 + b"%00",
    b"%ff%fe",
    b"%2e%2e",
    b"%",
    b"%zz",
    b"-1",
    b"1" + b"0" * 30,
]
MALFORMED_PATHS = [b"\xff", b"a b", b"\x00"]
NESTED = b"[" * 100_000 + b"]" * 100_000
NESTED_OBJECTS = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
REPORTER_BODIES = [
    b"",
    b"not json",
    b"\xff\xfe{}",
    b"[]",
    b"1",
    b'"text"',
    b"null",
    NESTED,
    NESTED_OBJECTS,
    b'{"kind": 1e999}',
    b'{"kind": "ci", "repo": "Codertocat/Hello-World", "pr": ' + b"1" + b"0" * 400 + b"}",
    b'{"kind": "ci", "kind": "pr", "repo": "Codertocat/Hello-World"}',
    b'{"kind": "ci", "repo": "Codertocat/Hello-World", "budget": {"USD": 1e999}}',
    b'{"kind": "ci", "repo": "Codertocat/Hello-World", "budget": {"USD": "1e999999999"}}',
    b'{"kind": "ci", "repo": "Codertocat/Hello-World", "name": "' + b"n" * 200_000 + b'"}',
    b'{"events": [{"type": "spend", "amount": 1e999, "currency": "USD"}]}',
    b'{"events": [{"type": "spend", "amount": "' + b"9" * 5000 + b'", "currency": "USD"}]}',
    b'{"events": [{"type": "spend", "amount": NaN, "currency": "USD"}]}',
    b'{"events": [{"type": "spend", "amount": "1", "currency": {"a": []}}]}',
    b'{"events": [{"type": "note", "text": "x", "at": "9999-12-31T23:59:59-23:59"}]}',
    b'{"events": [{"type": "note", "text": "x", "at": "0001-01-01T00:00:00+23:59"}]}',
    b'{"events": [{"type": "note", "text": "x", "at": 1e999}]}',
    b'{"events": [{"type": "note", "text": "\\ud800"}]}',
    b'{"events": [{"type": ["note"]}]}',
    b'{"events": [{"type": "proof", "x402": "' + b"A" * 100_000 + b'"}]}',
    b'{"events": {"type": "note"}}',
    b'{"status": ["failed"], "idempotency_key": ["k"]}',
    b'{"events": [' + b'{"type": "note", "text": "x"},' * 600 + b"1]}",
]
WEBHOOK_BODIES = [
    b"not json",
    b"\xff\xfe{}",
    b"1",
    NESTED,
    NESTED_OBJECTS,
    b'{"action": 1e999}',
    b'{"action": ' + b"9" * 400 + b"}",
    b'{"action": "opened", "pull_request": "' + b"a" * 200_000 + b'"}',
]


ENCODED = [  # Content-Encoding: a broken stream, a bomb past the cap, one aiohttp lacks
    (b"gzip", b"not gzip at all"),
    (b"deflate", b"\x00\x01 not deflate"),
    (b"gzip", gzip.compress(b"[" + b" " * (40 * CAP) + b"]")),
    (b"br", b"not brotli"),
]


class Sweep:
    """The cases, built from the seeded ids and the app's own list of routes."""

    def __init__(self, public: str, private: str, ci: str) -> None:
        self.examples = {
            ("POST", "/webhook"): b"/webhook",
            ("GET", "/healthz"): b"/healthz",
            ("GET", "/readyz"): b"/readyz",
            ("GET", "/metrics"): b"/metrics",
            ("GET", "/api/openapi.json"): b"/api/openapi.json",
            ("GET", "/api/outbox"): b"/api/outbox",
            ("GET", "/api/runs"): b"/api/runs",
            ("POST", "/api/runs"): b"/api/runs",
            ("GET", "/api/runs/{run_id}"): f"/api/runs/{private}".encode(),
            ("GET", "/api/runs/{run_id}/events"): f"/api/runs/{public}/events".encode(),
            ("POST", "/api/runs/{run_id}/events"): f"/api/runs/{ci}/events".encode(),
            ("POST", "/api/runs/{run_id}/close"): f"/api/runs/{ci}/close".encode(),
            ("GET", "/api/summary"): f"/api/summary?repo={REPO}&pr=2".encode(),
            ("GET", "/runs/{run_id}"): f"/runs/{private}".encode(),
            ("GET", "/runs/{run_id}/live"): f"/runs/{public}/live".encode(),
            ("GET", "/repos/{owner}/{repo}/pull/{number}"): f"/repos/{PRIVATE}/pull/7".encode(),
            ("GET", "/static/{name}"): b"/static/audit.css",
            ("GET", "/setup"): b"/setup?token=guess",
            ("GET", "/setup/callback"): b"/setup/callback?code=c&state=s",
            ("GET", "/setup/installed"): b"/setup/installed?installation_id=1",
            ("GET", "/api/log/checkpoint"): b"/api/log/checkpoint",
            ("GET", "/api/spend"): f"/api/spend?repo={PRIVATE}&interval=week&by=kind".encode(),
            ("GET", "/repos/{owner}/{repo}"): f"/repos/{PRIVATE}".encode(),
            ("GET", "/repos/{owner}"): f"/repos/{PRIVATE.split('/')[0]}".encode(),
            ("GET", "/api/log/key"): b"/api/log/key",
            ("GET", "/api/log/proof/consistency"): b"/api/log/proof/consistency?from=0&to=1",
            ("GET", "/api/runs/{run_id}/proof"): f"/api/runs/{private}/proof".encode(),
        }
        self.templates = [  # routes with path parameters, `{}` for each
            ("GET", "/api/runs/{run_id}", b"/api/runs/{}"),
            ("GET", "/api/runs/{run_id}/events", b"/api/runs/{}/events"),
            ("POST", "/api/runs/{run_id}/events", b"/api/runs/{}/events"),
            ("POST", "/api/runs/{run_id}/close", b"/api/runs/{}/close"),
            ("GET", "/runs/{run_id}", b"/runs/{}"),
            ("GET", "/runs/{run_id}/live", b"/runs/{}/live"),
            ("GET", "/api/runs/{run_id}/proof", b"/api/runs/{}/proof"),
            ("GET", "/repos/{owner}/{repo}", b"/repos/{}/{}"),
            ("GET", "/repos/{owner}", b"/repos/{}"),
            ("GET", "/static/{name}", b"/static/{}"),
            ("GET", "/repos/{owner}/{repo}/pull/{number}", b"/repos/{}/{}/pull/{}"),
        ]

    @staticmethod
    def needs(method: str, path: str, body: bytes | None = None) -> tuple[Any, bytes]:
        """Headers and a body that get a request past every check but the one tried,
        and still write nothing (see the module docstring)."""
        if path == "/webhook":
            body = OPENED if body is None else body
            headers = [
                (b"Content-Type", b"application/json"),
                (b"X-GitHub-Event", b"pull_request"),
                (b"X-GitHub-Delivery", SEEDED.encode()),
                (b"X-Hub-Signature-256", sign(body).encode()),
            ]
            return headers, body
        if method == "POST":
            if body is None:
                body = {"/api/runs": OPEN_ELSEWHERE, "/api/runs/{run_id}/close": b"{}"}.get(
                    path, NOTE
                )
            return [(b"Content-Type", b"application/json"), (b"Authorization", _bearer())], body
        return [], b"" if body is None else body

    def cases(self) -> Iterator[Case]:
        for (method, path), target in self.examples.items():
            yield from self.header_cases(method, path, target)
            yield from self.query_cases(method, path, target)
            yield from self.method_cases(method, path, target)
        for method, path, template in self.templates:
            yield from self.path_cases(method, path, template)
        for path in ("/api/runs", "/api/runs/{run_id}/events", "/api/runs/{run_id}/close"):
            target = self.examples[("POST", path)]
            for body in REPORTER_BODIES:
                headers, _ = self.needs("POST", path, body)
                yield Case("POST", target, tuple(headers), body)
        for body in WEBHOOK_BODIES:
            headers, _ = self.needs("POST", "/webhook", body)
            yield Case("POST", b"/webhook", tuple(headers), body)
            form = b"payload=%ff" if body == b"1" else b"payload=" + body[:1000]
            form_headers = [(b"Content-Type", b"application/x-www-form-urlencoded")]
            form_headers += [h for h in headers[1:3]] + [
                (b"X-Hub-Signature-256", sign(form).encode())
            ]
            yield Case("POST", b"/webhook", tuple(form_headers), form)
        for (method, path), target in self.examples.items():
            if method == "POST":
                headers, _ = self.needs(method, path)
                headers = [(n, v) for n, v in headers if n != b"X-Hub-Signature-256"]
                yield Case("POST", target, tuple(headers), chunks(CAP + 1), chunked=True)
                for encoding, body in ENCODED:
                    sent = (*headers, (b"Content-Encoding", encoding))
                    yield Case("POST", target, sent, body, malformed=encoding == b"br")
                bad_chunk = b"zz\r\nxx\r\n0\r\n\r\n"
                yield Case("POST", target, tuple(headers), bad_chunk, chunked=True, malformed=True)

    def header_cases(self, method: str, path: str, target: bytes) -> Iterator[Case]:
        headers, body = self.needs(method, path)
        for name in HEADERS:
            values = [*BAD_VALUES, *((v, False) for v in EXTRA_VALUES.get(name, []))]
            for value, malformed in values:
                kept = tuple((n, v) for n, v in headers if n.lower() != name.lower())
                yield Case(method, target, (*kept, (name, value)), body, malformed=malformed)

    def query_cases(self, method: str, path: str, target: bytes) -> Iterator[Case]:
        headers, body = self.needs(method, path)
        for query in QUERIES + MALFORMED_QUERIES:
            joined = target + (b"&" if b"?" in target else b"?") + query
            malformed = query in MALFORMED_QUERIES
            yield Case(method, joined, tuple(headers), body, malformed=malformed)

    def method_cases(self, method: str, path: str, target: bytes) -> Iterator[Case]:
        for other in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"):
            if other == method or (other == "HEAD" and method == "GET"):
                continue
            headers, body = self.needs("POST" if other != "GET" else "GET", path)
            yield Case(other, target, tuple(headers), body if other != "GET" else b"")
        yield Case("FOO", target, (), malformed=True)

    def path_cases(self, method: str, path: str, template: bytes) -> Iterator[Case]:
        headers, body = self.needs(method, path)
        slots = template.count(b"{}")
        for value in PATH_VALUES + MALFORMED_PATHS:
            for slot in range(slots):
                parts = [b"acme", b"secret", b"7"][:slots] if slots > 1 else [b""]
                parts[slot] = value
                target = template
                for part in parts:
                    target = target.replace(b"{}", part, 1)
                malformed = value in MALFORMED_PATHS or len(target) > 8000
                yield Case(method, target, tuple(headers), body, malformed=malformed)


def _bearer() -> bytes:
    return f"Bearer {STATIC}".encode()


# --- the bot and what it holds ---------------------------------------------------------


async def seed(bot: Bot) -> tuple[str, str, str]:
    """A public PR run, a private PR run and a CI run, all closed."""
    private = {
        "repository__full_name": PRIVATE,
        "repository__name": "secret",
        "repository__owner__login": "acme",
        "repository__private": True,
        "pull_request__number": 7,
        "number": 7,
    }
    deliveries = [
        (None, OPENED, SEEDED),
        (load_payload("pull_request.closed.merged"), None, None),
        (load_payload("pull_request.opened", **private), None, None),
        (load_payload("pull_request.closed.merged", **private), None, None),
    ]
    for payload, body, delivery in deliveries:
        status, answer = await bot.deliver("pull_request", payload, raw=body, delivery=delivery)
        assert (status, answer["status"]) == (200, "recorded"), answer
    auth = {"Authorization": f"Bearer {STATIC}"}
    status, opened = await bot.request(
        "POST", "/api/runs", json={"kind": "ci", "repo": REPO}, headers=auth
    )
    assert status == 201, opened
    status, _ = await bot.request("POST", f"/api/runs/{opened['id']}/close", json={}, headers=auth)
    assert status == 200
    await bot.settle()
    runs = await bot.store.list_runs(_everything())
    by_repo = {(r["repo"], r["kind"]): r["id"] for r in runs}
    assert all(r["ended_at"] for r in runs), runs
    return by_repo[(REPO, "pr")], by_repo[(PRIVATE, "pr")], opened["id"]


def _everything() -> Any:
    from bot.store.base import RunFilter

    return RunFilter(limit=100)


async def snapshot(bot: Bot) -> Any:
    """Everything a request could have written."""
    runs = await bot.store.list_runs(_everything())
    trails = {r["id"]: [e.hash for e in await bot.store.get_events(r["id"], 0, 1000)] for r in runs}
    outbox = await bot.store.outbox_status()
    return (
        await bot.store.delivery_counts(),
        sorted(json.dumps(r, sort_keys=True) for r in runs),
        trails,
        (outbox["pending"], outbox["failed"]),
    )


@pytest.fixture
async def swept(make_bot: Any) -> Bot:
    return await make_bot(
        AUDIT_API_TOKENS=f"{STATIC}=codertocat/*",
        AUDIT_ADMIN_TOKEN=ADMIN,
        AUDIT_OIDC_ENABLED="false",
        AUDIT_MAX_BODY_BYTES=str(CAP),
        AUDIT_API_MAX_BODY_BYTES=str(CAP),
    )


PAGE_ROUTES = (b"/runs/", b"/repos/", b"/setup")


def problems(case: Case, status: int, content_type: bytes, body: bytes) -> list[str]:
    found = []
    if status >= 500:
        found.append(f"{status}")
    if b"Traceback" in body or b'File "' in body:
        found.append("a traceback in the answer")
    for secret in (STATIC, ADMIN, SECRET, "ghp_test_token"):
        if secret.encode() in body:
            found.append(f"the secret {secret!r} in the answer")
    if PRIVATE.encode() in body and PRIVATE.encode() not in case.target + case.body:
        found.append("the private repository in the answer")
    if 400 <= status < 500:
        if case.malformed:
            if status != 400:
                found.append(f"a malformed request answered {status}, not 400")
        elif content_type.startswith(b"application/json"):
            try:
                answer = json.loads(body) if case.method != "HEAD" else {"error": ""}
            except ValueError:
                answer = None
            if not isinstance(answer, dict) or not isinstance(answer.get("error"), str):
                found.append(f"a JSON {status} without an error string: {body[:80]!r}")
        elif not (content_type.startswith(b"text/html") and case.target.startswith(PAGE_ROUTES)):
            found.append(f"a {status} that is neither JSON nor a page: {content_type!r}")
    elif case.malformed:
        found.append(f"a malformed request was answered {status}")
    return found


async def test_every_route_survives_hostile_input(
    swept: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    public, private, ci = await seed(swept)
    sweep = Sweep(public, private, ci)
    assert swept.app is not None
    served = {
        (route.method, route.resource.canonical)
        for route in swept.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    missing = served - set(sweep.examples)
    assert not missing, f"add an example request for each new route to the sweep: {missing}"
    before = await snapshot(swept)
    caplog.set_level(logging.INFO)
    caplog.clear()
    started = time.perf_counter()
    cases = list(sweep.cases())
    failures: list[str] = []
    statuses: dict[int, int] = {}
    for case in cases:
        status, headers, body = await raw(swept, case.wire())
        content_type = headers.get("Content-Type", "").encode()
        statuses[status] = statuses.get(status, 0) + 1
        for problem in problems(case, status, content_type, body):
            failures.append(
                f"{case.method} {case.target[:60]!r} {case.headers[-1:]!r:.80}: {problem}"
            )
    elapsed = time.perf_counter() - started
    assert not failures, f"{len(failures)} of {len(cases)}:\n" + "\n".join(failures[:40])
    assert await snapshot(swept) == before
    for path in ("/metrics", "/api/runs", f"/runs/{public}"):  # nothing left poisoned
        assert (await swept.request("GET", path))[0] == 200, path
    for record in caplog.records:
        text = record.getMessage()
        assert record.exc_info is None, f"a traceback in the log: {text[:200]}"
        assert SENT_SECRET not in text and STATIC not in text, text[:200]
    assert len(cases) > 1500 and statuses.get(500, 0) == 0
    assert elapsed < 60, f"{len(cases)} requests took {elapsed:.1f} s"
