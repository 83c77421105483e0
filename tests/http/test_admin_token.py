"""GET /api/outbox and the run-read API check the admin token with one rule.

The outbox list and a private run open for exactly the same `Authorization` headers;
a wrong credential costs the outbox list a 401 (the counts stay open to anyone), and
no header, however malformed, gets a 500.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

from tests.support.bot import Bot
from tests.support.readside import open_pr

ADMIN = "the-admin-token"
PRIVATE = "octo-org/private-thing"


async def raw_get(
    bot: Bot, path: str, authorization: bytes, method: str = "GET", body: bytes = b""
) -> tuple[int, bytes]:
    """A request with an `Authorization` header sent byte for byte (clients refuse
    non-Latin-1)."""
    url = urlsplit(bot.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        method.encode() + b" " + path.encode() + b" HTTP/1.1\r\nHost: bot\r\n"
        b"Authorization: " + authorization + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
    )
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def shown(body: Any) -> str:
    """What /api/outbox answered: the rows, the counts alone, or a refusal."""
    if "failures" in body:
        return "rows"
    return "counts" if "note" in body else f"refused: {body}"


async def test_outbox_rows_open_for_exactly_the_headers_that_open_a_private_run(
    make_bot: Any,
) -> None:
    bot = await make_bot(AUDIT_ADMIN_TOKEN=f"  {ADMIN}\n", AUDIT_OIDC_ENABLED="false")
    private = await open_pr(bot, 9, repo=PRIVATE, private=True)
    cases = {
        None: ("counts", 404),
        "": ("counts", 404),
        "Bearer": ("counts", 404),  # a scheme and no credential
        f"Bearer {ADMIN}": ("rows", 200),
        f"bearer   {ADMIN}  ": ("rows", 200),  # scheme in any case, spaces around
        f"Bearer {ADMIN}x": (401, 404),
        f"Bearer {ADMIN[:-1]}": (401, 404),
        "Bearer wrong": (401, 404),
        f"Basic {ADMIN}": (401, 404),  # the right secret under another scheme
        f"Token {ADMIN}": (401, 404),
    }
    for header, (outbox, run) in cases.items():
        headers = {} if header is None else {"Authorization": header}
        status, body = await bot.request("GET", "/api/outbox", headers=headers)
        got = status if status != 200 else shown(body)
        if status == 401:
            assert body == {"error": "invalid admin token"}, header
        status_run, _ = await bot.request("GET", f"/api/runs/{private}", headers=headers)
        assert (got, status_run) == (outbox, run), header


async def test_a_token_that_is_not_utf8_or_ascii_is_refused_not_a_500(make_bot: Any) -> None:
    bot = await make_bot(AUDIT_ADMIN_TOKEN=ADMIN)
    for sent in ("Bearer é".encode(), b"Bearer \xff\xfe", b"Bearer " + ADMIN.encode()):
        status, body = await raw_get(bot, "/api/outbox", sent)
        expected = 200 if sent.endswith(ADMIN.encode()) else 401
        assert status == expected, (sent, body)


async def test_a_non_ascii_admin_token_works(make_bot: Any) -> None:
    bot = await make_bot(AUDIT_ADMIN_TOKEN="jeton-secret-é")
    status, body = await raw_get(bot, "/api/outbox", "Bearer jeton-secret-é".encode())
    assert status == 200 and b'"failures"' in body
    status, _ = await raw_get(bot, "/api/outbox", b"Bearer jeton-secret-e")
    assert status == 401


async def test_without_an_admin_token_neither_local_mode_nor_a_signed_bot_lists_rows(
    make_bot: Any,
) -> None:
    """A blank AUDIT_ADMIN_TOKEN counts as unset; no header then earns a 401 either.

    The rows name repositories (maybe private ones), so even local mode shows counts.
    """
    local = await make_bot(GITHUB_WEBHOOK_SECRET="", GITHUB_TOKEN="", AUDIT_ADMIN_TOKEN="  ")
    signed = await make_bot(AUDIT_ADMIN_TOKEN="")
    for header in (None, "Bearer wrong", "Bearer ", "Basic x"):
        headers = {} if header is None else {"Authorization": header}
        status, body = await local.request("GET", "/api/outbox", headers=headers)
        assert (status, shown(body)) == (200, "counts"), header
        status, body = await signed.request("GET", "/api/outbox", headers=headers)
        assert (status, shown(body)) == (200, "counts"), header


async def test_a_token_that_is_not_utf8_is_just_a_wrong_token_to_every_api(
    make_bot: Any,
) -> None:
    bot = await make_bot(AUDIT_ADMIN_TOKEN=ADMIN)
    private = await open_pr(bot, 7, repo=PRIVATE, private=True)
    opened = json.dumps({"repo": PRIVATE, "pr": 7, "kind": "agent"}).encode()
    for method, path, body in (
        ("GET", f"/api/runs?repo={PRIVATE}", b""),
        ("GET", f"/api/runs/{private}", b""),
        ("POST", "/api/runs", opened),
        ("POST", f"/api/runs/{private}/close", b"{}"),
    ):
        garbled = await raw_get(bot, path, b"Bearer \xff\xfe", method, body)
        wrong = await raw_get(bot, path, b"Bearer not-the-token", method, body)
        assert garbled == wrong, (method, path)
        assert garbled[0] < 500, (method, path, garbled)
