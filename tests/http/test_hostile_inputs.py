"""One test per hole the hostile sweep (tests/http/test_hostile_sweep.py) found, each over
real HTTP: what the client sent, what it must get back, and what must not change."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.bot import REPO, Bot, load_payload, sign
from tests.support.reporter_kit import post

STATIC = "hostile-static-token"


async def raw(bot: Bot, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes aiohttp's client would refuse to send; status, headers and body.

    (tests/http/test_hostile_sweep.py sends every request of its sweep with it.)
    """
    where = urlsplit(bot.url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    writer.write(request)
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ")[1]), headers, body


def webhook(body: bytes, **headers: bytes) -> bytes:
    sent = {
        b"X-GitHub-Event": b"pull_request",
        b"X-GitHub-Delivery": b"d-1",
        b"Content-Type": b"application/json",
        b"X-Hub-Signature-256": sign(body).encode(),
        **{name.replace("_", "-").encode(): value for name, value in headers.items()},
    }
    head = b"".join(name + b": " + value + b"\r\n" for name, value in sent.items())
    return (
        b"POST /webhook HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n"
        + head
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


BODY = json.dumps(load_payload("pull_request.opened")).encode()


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [
        ("X_Hub_Signature_256", "sha256=é".encode(), 401),
        ("X_Hub_Signature_256", b"sha256=\xff\xfe", 401),
        ("X_GitHub_Delivery", b"\xff\xfe", 400),
        ("X_GitHub_Delivery", "déjà-vu".encode(), 400),
        ("X_GitHub_Delivery", b"two words", 400),
        ("X_GitHub_Event", b"pull_request\xff", 400),
        ("X_GitHub_Event", "évènement".encode(), 400),
    ],
)
async def test_webhook_headers_that_are_not_printable_ascii_are_refused(
    bot: Bot, header: str, value: bytes, status: int
) -> None:
    """They used to be a 500 (a TypeError comparing signatures, a UnicodeEncodeError
    storing the delivery); a non-UTF-8 event name also made every later /metrics 500."""
    got, _, body = await raw(bot, webhook(BODY, **{header: value}))
    assert got == status, body
    assert header.split("_")[-1].lower() in json.loads(body)["error"].lower()
    assert await bot.store.delivery_counts() == {}
    assert (await bot.request("GET", "/metrics"))[0] == 200
    status, answer = await bot.deliver("pull_request", None, raw=BODY, delivery="d-1")
    assert (status, answer["status"]) == (200, "recorded")  # the same body, well sent


@pytest.fixture
async def reporter(make_bot: Any) -> Bot:
    return await make_bot(AUDIT_API_TOKENS=f"{STATIC}=codertocat/*", AUDIT_OIDC_ENABLED="false")


@pytest.mark.parametrize(
    "at", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "9999-12-31T23:00:00-01:00"]
)
async def test_an_event_time_outside_years_1_to_9999_in_utc_is_a_422(
    reporter: Bot, at: str
) -> None:
    """`at` is stored in UTC; these are valid ISO times that do not fit there (was a 500)."""
    note = {"type": "note", "text": "x", "at": at}
    status, answer = await post(
        reporter, "/api/runs", {"kind": "ci", "repo": REPO, "events": [note]}, STATIC
    )
    assert status == 422, answer
    assert answer["errors"] == [{"path": "events[0].at", "reason": answer["errors"][0]["reason"]}]
    assert "9999" in answer["errors"][0]["reason"]
    status, opened = await post(reporter, "/api/runs", {"kind": "ci", "repo": REPO}, STATIC)
    assert status == 201
    status, answer = await post(
        reporter, f"/api/runs/{opened['id']}/events", {"events": [note]}, STATIC
    )
    assert status == 422 and answer["errors"][0]["path"] == "events[0].at"
    assert (await reporter.store.get_run(opened["id"]))["seq"] == 1


async def test_pages_show_a_stored_time_that_does_not_fit_in_utc(bot: Bot) -> None:
    """A signed payload's own times are stored as sent; the pages used to 500 on one
    past year 9999 in UTC (the run page, its live fragment and the PR page)."""
    late = "9999-12-31T23:59:59-23:59"
    payload = load_payload("pull_request.opened", pull_request__updated_at=late)
    status, answer = await bot.deliver("pull_request", payload)
    assert status == 200, answer
    run_id = answer["runs"][0]
    for path in (f"/runs/{run_id}", f"/runs/{run_id}/live", f"/repos/{REPO}/pull/2"):
        status, page = await bot.request("GET", path)
        assert status == 200, (path, page)
        assert late in (page if isinstance(page, str) else json.dumps(page)), path


async def test_a_report_without_a_key_into_a_closed_run_writes_nothing(reporter: Bot) -> None:
    """README: none of the 4xx answers writes anything, except that a call refused for a
    closed run is remembered under its idempotency key. A keyless one left a row."""
    status, opened = await post(reporter, "/api/runs", {"kind": "ci", "repo": REPO}, STATIC)
    run_id = opened["id"]
    assert (await post(reporter, f"/api/runs/{run_id}/close", {}, STATIC))[0] == 200
    before = await reporter.store.delivery_counts()
    note = {"events": [{"type": "note", "text": "late"}]}
    for route, body in (("events", note), ("close", {}), ("close", {"status": "failed"})):
        status, answer = await post(reporter, f"/api/runs/{run_id}/{route}", body, STATIC)
        assert status == 409 and "already closed (succeeded)" in answer["error"], answer
    assert await reporter.store.delivery_counts() == before
    keyed = {**note, "idempotency_key": "late-1"}
    for _ in range(2):  # a keyed call is remembered, so its retry is refused the same way
        status, _ = await post(reporter, f"/api/runs/{run_id}/events", keyed, STATIC)
        assert status == 409
    after = await reporter.store.delivery_counts()
    assert sum(after.values()) == sum(before.values()) + 1


async def test_a_wrong_method_is_a_json_405_that_lists_the_allowed_ones(bot: Bot) -> None:
    for method, path, allowed in (
        ("GET", "/webhook", {"POST"}),
        ("DELETE", "/api/runs", {"GET", "HEAD", "POST"}),
        ("PUT", "/healthz", {"GET", "HEAD"}),
    ):
        async with bot.session.request(method, bot.url + path) as response:  # type: ignore[union-attr]
            assert response.status == 405
            assert set(response.headers["Allow"].split(",")) == allowed, path
            assert (await response.json())["error"] == "Method Not Allowed"


async def test_a_missing_static_asset_is_a_json_404(bot: Bot) -> None:
    for name in ("nothing.css", "..%2Fapp.py", "%00", "audit.css%00"):
        status, answer = await bot.request("GET", f"/static/{name}")
        assert (status, answer) == (404, {"error": "no such asset"}), name
    assert (await bot.request("GET", "/static/audit.css"))[0] == 200


async def test_a_request_the_http_parser_refuses_is_one_quiet_log_line(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp answers it 400 itself; it logged the parser's error at ERROR with a
    traceback quoting the line, here an Authorization header holding a token."""
    caplog.set_level(logging.DEBUG)
    for header in (
        b"Authorization: Bearer tok-sent-by-client\x01",
        b"X-Any: \x00tok-sent-by-client",
    ):
        status, _, _ = await raw(
            bot,
            b"GET /healthz HTTP/1.1\r\nHost: bot\r\n" + header + b"\r\nConnection: close\r\n\r\n",
        )
        assert status == 400
    refused = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(refused) == 2
    for record in refused:
        assert record.levelno == logging.INFO and record.exc_info is None
        assert record.getMessage().startswith("refused a malformed HTTP request from 127.0.0.1")
    assert not any("tok-sent-by-client" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "token", [b"a.\xff.c", b"eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.\xff.c", "é.b.c".encode()]
)
async def test_a_jwt_shaped_token_that_is_not_ascii_is_just_a_wrong_token(
    reporter_bot: Bot, token: bytes
) -> None:
    """PyJWT encodes the token to UTF-8 first; the lone surrogates of a header that is
    not UTF-8 made that raise, a 500 on every route that reads a credential."""
    auth = b"Authorization: Bearer " + token + b"\r\n"
    _, delivered = await reporter_bot.deliver("pull_request", load_payload("pull_request.opened"))
    run_id = delivered["runs"][0]
    body = b'{"kind": "ci", "repo": "Codertocat/Hello-World"}'
    for request, status in (
        (b"POST /api/runs HTTP/1.1\r\nContent-Type: application/json\r\n", 401),
        (f"POST /api/runs/{run_id}/close HTTP/1.1\r\n".encode(), 401),
        (f"GET /api/runs/{run_id} HTTP/1.1\r\n".encode(), 200),  # public: open to anyone
        (b"GET /api/runs HTTP/1.1\r\n", 200),
    ):
        sent = request + b"Host: bot\r\nConnection: close\r\n" + auth
        sent += b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        got, _, answer = await raw(reporter_bot, sent)
        assert got == status, (request, answer)
    assert (await reporter_bot.store.get_run(run_id))["seq"] == 1


@pytest.mark.parametrize("host", [b"\xff", b"", b"x:99999999", b"x:-1", b"@", b"good.example:8000"])
async def test_a_run_opened_under_any_host_header_is_answered_201(
    make_bot: Any, host: bytes
) -> None:
    """Without PUBLIC_URL the run's URL is built from `Host`, after the commit: a Host no
    URL can hold was a 500 for a run that was in fact opened (a keyless retry opened
    another). Such a Host now gets the page's path alone."""
    bot = await make_bot(
        PUBLIC_URL="", AUDIT_API_TOKENS=f"{STATIC}=codertocat/*", AUDIT_OIDC_ENABLED="false"
    )
    body = json.dumps({"kind": "ci", "repo": REPO}).encode()
    status, _, answer = await raw(
        bot,
        b"POST /api/runs HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n"
        b"Authorization: Bearer " + STATIC.encode() + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body,
    )
    assert status == 201, answer
    opened = json.loads(answer)
    expected = "http://good.example:8000" if host == b"good.example:8000" else ""
    assert opened["url"] == f"{expected}/runs/{opened['id']}"
    assert await bot.store.delivery_counts() == {"POST /api/runs:recorded": 1}


@pytest.mark.parametrize("encoding", [b"gzip", b"deflate"])
async def test_a_body_whose_compression_is_broken_is_a_400(
    bot: Bot, encoding: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp inflates `Content-Encoding` bodies as they are read, and raised a broken
    stream from `request.read()`: a 500 before any signature check, logged twice with
    tracebacks (once more when aiohttp drained the rest)."""
    caplog.set_level(logging.INFO)
    garbage = b"\x1f\x8b not really gzip"
    status, _, body = await raw(bot, webhook(garbage, Content_Encoding=encoding))
    assert status == 400 and "content encoding" in json.loads(body)["error"]
    assert await bot.store.delivery_counts() == {}
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
