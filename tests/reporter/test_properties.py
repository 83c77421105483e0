"""Whatever a CI step sends the reporter API, it never answers 5xx (hypothesis, real HTTP).

Bodies are valid reports with one field replaced by arbitrary JSON or removed,
arbitrary JSON, or arbitrary bytes, sent with a valid credential so they reach the
body parser. A refused batch must leave the run's trail as it was.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.http.test_webhook_properties import JSON, ServedBot, one_field_changed
from tests.support.bot import HEAD, REPO
from tests.support.reporter_kit import x402_header

TOKEN = "property-test-token"
OPEN = {"kind": "agent", "repo": REPO, "pr": 2, "head_sha": HEAD, "name": "loop", "budget": "5 USD"}
BATCH = {
    "events": [
        {"type": "step.started", "name": "review"},
        {
            "type": "spend",
            "amount": "0.10",
            "currency": "USD",
            "category": "llm",
            "input_tokens": 1200,
            "output_tokens": 80,
            "model": "m",
        },
        {"type": "proof", "x402": x402_header(amount="1250000")},
        {"type": "proof", "network": "base", "tx": "0x" + "ab" * 32, "status": "pending"},
        {"type": "note", "text": "hello"},
        {"type": "step.finished", "name": "review", "status": "succeeded"},
    ]
}
CLOSE = {"status": "succeeded"}


def bodies(valid: dict[str, Any]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        one_field_changed(valid),
        one_field_changed(valid),
        JSON.map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=200),
    )


def call(served: ServedBot, path: str, body: bytes) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=20)
    try:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read()
    finally:
        conn.close()
    return response.status, json.loads(text)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServedBot, str]]:
    db = Path(tmp_path_factory.mktemp("reporter-fuzz")) / "audit.db"
    bot = ServedBot(
        {
            "DATABASE_URL": f"sqlite:///{db}",
            "AUDIT_API_TOKENS": f"{TOKEN}=codertocat/*",
            "AUDIT_OIDC_ENABLED": "false",
            "AUDIT_COMMENT_DEBOUNCE_SECONDS": "0",
        }
    ).start()
    status, opened = call(bot, "/api/runs", json.dumps(OPEN).encode())
    assert status == 201, opened
    yield bot, opened["id"]
    bot.stop()


def trail_length(served: ServedBot, run_id: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=20)
    try:
        conn.request("GET", f"/api/runs/{run_id}", headers={"Authorization": f"Bearer {TOKEN}"})
        return json.loads(conn.getresponse().read())["seq"]
    finally:
        conn.close()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(["open", "events", "events", "close"]),
    data=st.data(),
)
def test_no_report_answers_5xx_and_a_refusal_writes_nothing(
    served: tuple[ServedBot, str], route: str, data: st.DataObject
) -> None:
    bot, run_id = served
    if route == "close":  # closing gets a run of its own, so the shared one stays open
        status, opened = call(bot, "/api/runs", json.dumps(OPEN).encode())
        assert status == 201, opened
        run_id = opened["id"]
    valid = {"open": OPEN, "events": BATCH, "close": CLOSE}[route]
    body = data.draw(bodies(valid))
    path = "/api/runs" if route == "open" else f"/api/runs/{run_id}/{route}"
    before = trail_length(bot, run_id)
    status, answer = call(bot, path, body)
    event(f"{route} {status}")
    assert status < 500, answer
    if status >= 400:
        assert isinstance(answer.get("error"), str) and answer["error"]
        assert trail_length(bot, run_id) == before
