"""Whatever arrives at POST /webhook, the bot never answers 5xx (hypothesis, real HTTP).

Bodies are real example payloads with one field replaced by arbitrary JSON or removed,
arbitrary JSON, or arbitrary bytes; headers are arbitrary printable text. Most bodies
are signed correctly, so they get past the signature check into the handlers.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.app import create_app
from bot.config import load_settings
from tests.support.bot import FIXTURES, SECRET, sign

NAMES = sorted(p.stem for p in FIXTURES.glob("*.json"))
PAYLOADS = {name: json.loads((FIXTURES / f"{name}.json").read_text()) for name in NAMES}
PRINTABLE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    if isinstance(node, dict):
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, value in items:
        yield (*prefix, key)
        yield from paths(value, (*prefix, key))


@st.composite
def one_field_changed(draw: st.DrawFn, document: Any) -> bytes:
    """A JSON document with one value replaced by arbitrary JSON, or removed."""
    data = json.loads(json.dumps(document))
    path = draw(st.sampled_from(list(paths(data))))
    node = data
    for key in path[:-1]:
        node = node[key]
    if draw(st.booleans()):
        node[path[-1]] = draw(JSON)
    elif isinstance(node, dict):
        del node[path[-1]]
    else:
        node.pop(path[-1])
    return json.dumps(data).encode()


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real payload (and its event name) with one field changed or removed."""
    name = draw(st.sampled_from(NAMES))
    return name.split(".")[0], draw(one_field_changed(PAYLOADS[name]))


@st.composite
def requests(draw: st.DrawFn) -> tuple[dict[str, str], bytes]:
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "json", "bytes"]))
    if kind == "mutated":
        event, body = draw(mutated())
    else:
        event = draw(st.sampled_from([n.split(".")[0] for n in NAMES]) | PRINTABLE)
        body = json.dumps(draw(JSON)).encode() if kind == "json" else draw(st.binary(max_size=300))
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": draw(st.uuids().map(str) | PRINTABLE),
        "Content-Type": draw(
            st.sampled_from(
                ["application/json", "application/json; charset=utf-8", "text/plain", ""]
            )
        ),
        "X-Hub-Signature-256": draw(
            st.sampled_from([sign(body), sign(body), sign(body), "sha256=00", ""])
        ),
    }
    headers.update(
        draw(st.dictionaries(st.sampled_from(["X-GitHub-Hook-ID", "X-Other"]), PRINTABLE))
    )
    return {k: v.strip() for k, v in headers.items() if v.strip()}, body


class ServedBot:
    """The real app on loopback, in a thread of its own (hypothesis tests are sync)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None
        self.port = 0

    def start(self) -> ServedBot:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(20)
        return self

    async def _start(self) -> None:
        self.runner = web.AppRunner(create_app(load_settings(self.env)), handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        assert self.runner is not None
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedBot]:
    db = Path(tmp_path_factory.mktemp("fuzz")) / "audit.db"
    bot = ServedBot(
        {
            "DATABASE_URL": f"sqlite:///{db}",
            "GITHUB_WEBHOOK_SECRET": SECRET,  # dry run: summaries rendered, nothing posted
            "AUDIT_COMMENT_DEBOUNCE_SECONDS": "0",
        }
    ).start()
    yield bot
    bot.stop()


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests())
def test_no_webhook_input_answers_5xx(served: ServedBot, request: tuple[dict, bytes]) -> None:
    headers, body = request
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=20)
    try:
        conn.request("POST", "/webhook", body=body, headers=headers)
        response = conn.getresponse()
        text = response.read()
    finally:
        conn.close()
    event(f"status {response.status}")
    assert response.status < 500, text[:300]
    answer = json.loads(text)
    if response.status >= 400:
        assert isinstance(answer.get("error"), str) and answer["error"]
        assert "Traceback" not in answer["error"]
