"""Bad webhook input: a clear 4xx with a JSON reason, and nothing written."""

from __future__ import annotations

import json

import pytest

from tests.support.bot import Bot, load_payload, sign

OPENED = load_payload("pull_request.opened")
BODY = json.dumps(OPENED).encode()


def _without(path: str) -> bytes:
    data = load_payload("pull_request.opened")
    node = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[part]
    del node[parts[-1]]
    return json.dumps(data).encode()


CASES = [
    # (name, headers to change, raw body, secret for signing, expected status, words in error)
    ("no signature", {}, BODY, None, 401, "signature"),
    ("wrong secret", {}, BODY, "not-the-secret", 401, "signature"),
    ("bad signature format", {"X-Hub-Signature-256": "md5=abc"}, BODY, None, 401, "signature"),
    ("tampered body", {"X-Hub-Signature-256": sign(b"{}")}, BODY, None, 401, "signature"),
    ("no event header", {"X-GitHub-Event": None}, BODY, "ok", 400, "X-GitHub-Event"),
    ("no delivery header", {"X-GitHub-Delivery": None}, BODY, "ok", 400, "X-GitHub-Delivery"),
    ("not json", {}, b"{not json", "ok", 400, "JSON"),
    ("json array", {}, b"[1, 2]", "ok", 400, "object"),
    ("bad utf-8", {}, b'{"a": "\xff"}', "ok", 400, "JSON"),
    ("wrong content type", {"Content-Type": "text/plain"}, BODY, "ok", 415, "content type"),
    ("missing head sha", {}, _without("pull_request.head.sha"), "ok", 400, "pull_request.head.sha"),
    ("missing repository", {}, _without("repository"), "ok", 400, "repository.full_name"),
    (
        "number not int",
        {},
        json.dumps({**OPENED, "pull_request": {**OPENED["pull_request"], "number": "2"}}).encode(),
        "ok",
        400,
        "pull_request.number",
    ),
]


@pytest.mark.parametrize(
    ("headers", "raw", "secret", "status", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_rejected_and_nothing_written(
    bot: Bot, headers: dict, raw: bytes, secret: str | None, status: int, words: str
) -> None:
    signing = None if secret is None else ("test-webhook-secret" if secret == "ok" else secret)
    got, body = await bot.deliver("pull_request", None, raw=raw, secret=signing, headers=headers)
    assert got == status
    assert words.lower() in body["error"].lower()
    assert await bot.store.delivery_counts() == {}
    assert (await bot.request("GET", "/api/runs"))[1]["runs"] == []


async def test_body_over_the_cap_is_413(make_bot) -> None:
    bot = await make_bot(AUDIT_MAX_BODY_BYTES="4096")
    padded = json.dumps({**OPENED, "padding": "x" * 5000}).encode()
    status, body = await bot.deliver("pull_request", None, raw=padded)
    assert status == 413 and "limit" in body["error"]
    assert await bot.store.delivery_counts() == {}


async def test_chunked_body_over_the_cap_is_413(make_bot) -> None:
    bot = await make_bot(AUDIT_MAX_BODY_BYTES="4096")

    async def chunks():
        for _ in range(10):
            yield b"x" * 1000

    status, body = await bot.request(
        "POST",
        "/webhook",
        data=chunks(),
        headers={
            "X-GitHub-Event": "ping",
            "X-GitHub-Delivery": "d-1",
            "Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=00",
        },
    )
    assert status == 413 and "limit" in body["error"]


async def test_rejected_delivery_can_be_redelivered_correctly(bot: Bot) -> None:
    """A 4xx records nothing, so the same delivery id fixed later is accepted."""
    status, _ = await bot.deliver(
        "pull_request", None, raw=BODY, secret="wrong", delivery="retry-me"
    )
    assert status == 401
    status, body = await bot.deliver("pull_request", OPENED, delivery="retry-me")
    assert (status, body["status"]) == (200, "recorded")


async def test_unknown_route_and_method_are_json_4xx(bot: Bot) -> None:
    status, body = await bot.request("GET", "/webhook")
    assert status == 405 and "error" in body
    status, body = await bot.request("GET", "/nope")
    assert status == 404 and "error" in body


async def test_an_action_that_is_not_a_string_is_400_naming_it(bot: Bot) -> None:
    """gidgethub's router hashes `action`: a list there (signed) was a 500."""
    payload = load_payload("pull_request.opened", action=[])
    status, body = await bot.deliver("pull_request", payload, delivery="bad-action")
    assert status == 400 and body["field"] == "action", body
    assert await bot.store.known_deliveries(["bad-action"]) == set()
