"""The read API: filters, cursor pages, 400s with reasons, who may read, OpenAPI, NDJSON."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec

from bot.http.access import pr_link_token, run_link_token
from bot.trail.events import Event, verify_chain
from tests.support.bot import REPO, SECRET, Bot, load_payload
from tests.support.fake_github import FakeGitHub
from tests.support.readside import (
    BASE_TX,
    add_notes_directly,
    append,
    close_pr,
    db_path,
    note,
    open_agent_run,
    open_pr,
    proof,
    spend,
)

OTHER = "octo-org/private-thing"


async def get(bot: Bot, path: str, **kwargs: Any) -> tuple[int, Any]:
    return await bot.request("GET", path, **kwargs)


async def all_pages(bot: Bot, query: str) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        status, body = await get(bot, f"/api/runs?{query}{suffix}")
        assert status == 200, body
        pages.append([r["id"] for r in body["runs"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_filters_and_cursor_pages_newest_first(bot: Bot) -> None:
    prs = [await open_pr(bot, n) for n in range(1, 6)]
    other = await open_pr(bot, 7, repo="Codertocat/Other")
    agent = await open_agent_run(bot, pr=3)
    await close_pr(bot, 2)

    pages = await all_pages(bot, f"repo={REPO}&kind=pr&limit=2")
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for page in pages for i in page] == sorted(prs, reverse=True)  # nothing twice

    _, body = await get(bot, f"/api/runs?repo={REPO}&pr=3")
    assert [r["id"] for r in body["runs"]] == [agent, prs[2]]
    _, body = await get(bot, f"/api/runs?repo={REPO}&kind=agent")
    assert [r["id"] for r in body["runs"]] == [agent]
    _, body = await get(bot, "/api/runs?status=merged")
    assert [(r["id"], r["status"]) for r in body["runs"]] == [(prs[1], "merged")]
    _, body = await get(bot, "/api/runs?repo=Codertocat/Other")
    assert [r["id"] for r in body["runs"]] == [other]
    # the fixtures' PRs opened in 2019: `since` compares with when each run started
    _, body = await get(bot, "/api/runs?since=2019-05-15")
    assert len(body["runs"]) == 7
    _, body = await get(bot, "/api/runs?since=2019-05-16T00:00:00Z")
    assert [r["id"] for r in body["runs"]] == [agent]  # opened now, by the API
    links = body["runs"][0]["links"]
    assert links == {
        "self": f"/api/runs/{agent}",
        "events": f"/api/runs/{agent}/events",
        "page": f"/runs/{agent}",
    }


async def test_limit_defaults_to_50_and_stops_at_200(bot: Bot) -> None:
    for n in range(1, 56):
        await open_pr(bot, n)
    status, body = await get(bot, "/api/runs")
    assert status == 200 and len(body["runs"]) == 50 and body["next_cursor"]
    _, rest = await get(bot, f"/api/runs?cursor={body['next_cursor']}")
    assert len(rest["runs"]) == 5 and rest["next_cursor"] is None
    _, body = await get(bot, "/api/runs?limit=200")
    assert len(body["runs"]) == 55
    _, full = await get(bot, "/api/runs?limit=5")
    _, last = await get(bot, f"/api/runs?limit=50&cursor={full['next_cursor']}")
    assert len(last["runs"]) == 50 and last["next_cursor"] is None  # no empty page to fetch
    status, body = await get(bot, "/api/runs?limit=201")
    assert status == 400 and body["parameter"] == "limit"


@pytest.mark.parametrize(
    ("query", "parameter", "words"),
    [
        ("limit=0", "limit", "between 1 and 200"),
        ("limit=ten", "limit", "integer"),
        ("repo=Codertocat/Hello-World&pr=-3", "pr", "between"),
        ("repo=Codertocat/Hello-World&pr=two", "pr", "integer"),
        ("repo=just-a-name", "repo", "owner/name"),
        ("cursor=not-a-run", "cursor", "run ID"),
        ("since=yesterday", "since", "ISO 8601"),
        ("since=2024-13-40", "since", "ISO 8601"),
        ("since=0001-01-01T00:00:00%2B01:00", "since", "ISO 8601"),  # before year 1 in UTC
        ("kind=PR%20runs", "kind", "lower-case word"),
        ("statuss=open", "statuss", "not a parameter"),
        ("pr=2", "pr", "needs repo"),
        ("limit=5&limit=6", "limit", "more than once"),
    ],
)
async def test_bad_parameters_answer_400_naming_them(
    bot: Bot, query: str, parameter: str, words: str
) -> None:
    status, body = await get(bot, f"/api/runs?{query}")
    assert status == 400
    assert body["parameter"] == parameter
    assert words in body["error"] and body["error"].startswith(parameter)


async def test_unknown_run_is_404_and_bad_event_parameters_400(bot: Bot) -> None:
    run_id = await open_pr(bot)
    missing = "01" + "a" * 24
    for path in (f"/api/runs/{missing}", f"/api/runs/{missing}/events", "/api/runs/nope"):
        status, body = await get(bot, path)
        assert (status, body) == (404, {"error": "no such run"})
    for query, parameter in (
        ("after=-1", "after"),
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("format=xml", "format"),
        ("since=2020-01-01", "since"),
    ):
        status, body = await get(bot, f"/api/runs/{run_id}/events?{query}")
        assert status == 400 and body["parameter"] == parameter, (query, body)
    status, body = await get(
        bot,
        f"/api/runs/{run_id}/events",
        headers={"Accept": "text/event-stream", "Last-Event-ID": "x"},
    )
    assert status == 400 and body["parameter"] == "Last-Event-ID"


async def test_run_state_has_spend_budget_proofs_and_digest(bot: Bot) -> None:
    run_id = await open_agent_run(bot, budget={"USD": "0.12"})
    await append(
        bot,
        run_id,
        spend("0.10", model="m-1", input_tokens=1200, output_tokens=300),
        spend("0", category="api"),
        spend("0.03", category="ci"),
        spend("1.25", "USDC", "payment"),
        proof(),
        proof("pending", "0x" + "7a" * 32),
    )
    status, run = await get(bot, f"/api/runs/{run_id}")
    assert status == 200
    assert run["spend"] == {"USD": "0.13", "USDC": "1.25"}
    assert run["spend_by_category"]["api"] == {"USD": "0"}
    assert run["budget"] == {"USD": "0.12"} and run["over_budget"] == ["USD"]
    assert run["tokens"] == {"input": 1200, "output": 300}
    settled, pending = run["proofs"]
    assert settled["explorer_url"] == f"https://basescan.org/tx/{BASE_TX}"
    assert (settled["status"], pending["status"]) == ("settled", "pending")
    _, page = await get(bot, f"/api/runs/{run_id}/events")
    events = [Event.from_dict(e) for e in page["events"]]
    assert verify_chain(events) is None
    assert run["head_hash"] == events[-1].hash and run["seq"] == len(events) == 7


async def test_events_json_pages_with_after_and_limit(bot: Bot) -> None:
    run_id = await open_pr(bot)
    await append(bot, run_id, *(note(f"n{i}") for i in range(9)))
    seen: list[int] = []
    after = 0
    while after is not None:
        status, page = await get(bot, f"/api/runs/{run_id}/events?after={after}&limit=4")
        assert status == 200
        seen += [e["seq"] for e in page["events"]]
        after = page["next_after"]
    assert seen == list(range(1, 11))


async def test_ndjson_lines_carry_hashes_and_verify(bot: Bot) -> None:
    run_id = await open_pr(bot)
    await append(bot, run_id, spend("0.5"), note("done"))
    assert bot.session is not None
    async with bot.session.get(
        f"{bot.url}/api/runs/{run_id}/events", headers={"Accept": "application/x-ndjson"}
    ) as response:
        assert response.status == 200
        assert response.content_type == "application/x-ndjson"
        lines = (await response.text()).splitlines()
    events = [Event.from_dict(json.loads(line)) for line in lines]
    assert [e.seq for e in events] == [1, 2, 3]
    assert verify_chain(events, expected_run=run_id) is None
    _, limited = await get(bot, f"/api/runs/{run_id}/events?format=ndjson&after=1&limit=1")
    assert limited["seq"] == 2  # one line, so the helper parsed it as JSON


def _rss_kib(pid: int, field: str) -> int:
    """A memory figure of a process from /proc (VmRSS now, VmHWM peak), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_ndjson_stream_of_100k_events_stays_in_constant_memory(tmp_path: Path) -> None:
    """The real bot process serves a 100,001-event trail; its peak RSS barely moves."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/big.db",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "GITHUB_WEBHOOK_SECRET": "",
        "GITHUB_TOKEN": "",
        "LOG_LEVEL": "ERROR",
    }
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", env=env, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(f"{url}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            async with session.post(
                f"{url}/webhook",
                json=load_payload("pull_request.opened"),
                headers={"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "big-1"},
            ) as response:
                run_id = (await response.json())["runs"][0]
            count = 100_000
            head = await asyncio.to_thread(add_notes_directly, tmp_path / "big.db", run_id, count)
            # warm up the same path on a short read, then measure the long one
            async with session.get(f"{url}/api/runs/{run_id}/events?format=ndjson&limit=1000"):
                pass
            before = _rss_kib(bot.pid, "VmHWM")
            started = time.perf_counter()
            lines = size = 0
            tail = b""
            async with session.get(
                f"{url}/api/runs/{run_id}/events", headers={"Accept": "application/x-ndjson"}
            ) as response:
                assert response.status == 200
                async for chunk in response.content.iter_chunked(1 << 16):
                    lines += chunk.count(b"\n")
                    size += len(chunk)
                    tail = (tail + chunk)[-2048:]
            elapsed = time.perf_counter() - started
            peak = _rss_kib(bot.pid, "VmHWM")
    finally:
        bot.terminate()
        await bot.wait()
    last = json.loads(tail.rstrip(b"\n").rsplit(b"\n", 1)[-1])
    assert lines == count + 1 and last["seq"] == count + 1 and last["hash"] == head
    # the trail is ~37 MiB of JSON (and would be hundreds as Python objects); serving
    # it must cost a small fixed amount of memory, not its size
    assert size > 30 * 1024 * 1024
    grown = (peak - before) / 1024
    assert grown < 12, f"peak RSS grew {grown:.1f} MiB while streaming {size / 2**20:.0f} MiB"
    print(
        f"NDJSON: {count + 1} events, {size / 2**20:.1f} MiB in {elapsed:.1f} s; bot peak RSS "
        f"{before / 1024:.1f} → {peak / 1024:.1f} MiB"
    )


# --- who may read -------------------------------------------------------------------


async def test_private_runs_need_a_token_a_credential_or_admin(
    make_bot: Any, github: FakeGitHub
) -> None:
    bot = await make_bot(
        AUDIT_ADMIN_TOKEN="admin-secret-token",
        AUDIT_API_TOKENS=f"reporter-token-1={OTHER},elsewhere-token-2=someone/else",
        AUDIT_OIDC_ENABLED="false",
    )
    private = await open_pr(bot, 9, repo=OTHER, private=True)
    public = await open_pr(bot, 2)
    await bot.settle()
    token = run_link_token(SECRET, private)
    for path in (f"/api/runs/{private}", f"/api/runs/{private}/events", f"/runs/{private}"):
        status, _ = await get(bot, path)
        assert status == 404, path  # not 403: a private run's existence is not told
        status, _ = await get(bot, f"{path}?t={'0' * 32}")
        assert status == 404, path
        status, _ = await get(bot, f"{path}?t={token}")
        assert status == 200, path
    status, body = await get(bot, f"/api/runs/{private}?t={token}")
    assert body["links"]["page"] == f"/runs/{private}?t={token}"

    _, listed = await get(bot, "/api/runs")
    assert [r["id"] for r in listed["runs"]] == [public]
    pr_token = pr_link_token(SECRET, OTHER, 9)
    _, listed = await get(bot, f"/api/runs?repo={OTHER}&pr=9&t={pr_token}")
    assert [r["id"] for r in listed["runs"]] == [private]
    _, listed = await get(bot, f"/api/runs?repo={OTHER}&pr=8&t={pr_token}")
    assert listed["runs"] == []  # a PR token opens that PR only

    for header, expected in (
        ("Bearer admin-secret-token", 200),
        ("Bearer reporter-token-1", 200),
        ("Bearer elsewhere-token-2", 404),
        ("Bearer wrong", 404),
        ("Basic admin-secret-token", 404),
    ):
        status, _ = await get(bot, f"/api/runs/{private}", headers={"Authorization": header})
        assert status == expected, header
    _, listed = await get(bot, "/api/runs", headers={"Authorization": "Bearer reporter-token-1"})
    assert {r["id"] for r in listed["runs"]} == {private, public}

    # the comment on the private PR links its run and its PR page with their tokens
    [comment] = github.comments_on(OTHER, 9)
    assert f"/runs/{private}?t={token})" in comment["body"]
    assert f"/repos/{OTHER}/pull/9?t={pr_token})" in comment["body"]
    [public_comment] = github.comments_on(REPO, 2)
    assert f"/runs/{public})" in public_comment["body"] and "?t=" not in public_comment["body"]


async def test_without_a_link_key_private_runs_are_admin_only(make_bot: Any) -> None:
    bot = await make_bot(
        GITHUB_WEBHOOK_SECRET="", GITHUB_TOKEN="", AUDIT_ADMIN_TOKEN="the-admin-token"
    )
    private = await open_pr(bot, 9, repo=OTHER, private=True)
    for token in (run_link_token(SECRET, private), run_link_token("", private)):
        status, _ = await get(bot, f"/api/runs/{private}?t={token}")
        assert status == 404
    status, _ = await get(
        bot, f"/api/runs/{private}", headers={"Authorization": "Bearer the-admin-token"}
    )
    assert status == 200


async def test_pruned_run_answers_410_with_when_and_why(bot: Bot) -> None:
    run_id = await open_pr(bot)
    await close_pr(bot)
    pruned = await bot.store.prune_runs(time.time() + 400 * 86400, 30, None)
    assert [p.run_id for p in pruned] == [run_id]
    status, body = await get(bot, f"/api/runs/{run_id}")
    assert status == 410 and body["pruned_at"] and body["reason"]
    status, page = await get(bot, f"/runs/{run_id}")
    assert status == 410 and "removed by retention" in page and body["reason"] in page
    status, live = await get(bot, f"/runs/{run_id}/live")
    assert status == 410 and "removed by retention" in live["error"]


async def test_live_fragment_refusals_say_why(bot: Bot) -> None:
    run_id = await open_pr(bot)
    status, body = await get(bot, f"/runs/{run_id}/live?after=0&since=1")
    assert status == 400 and body["error"].startswith("since is not a parameter here")
    status, body = await get(bot, f"/runs/{run_id}/live?after=-1")
    assert status == 400 and body["parameter"] == "after"
    for missing in ("01" + "a" * 24, "nope"):
        status, body = await get(bot, f"/runs/{missing}/live")
        assert (status, body) == (404, {"error": "no such run"})
    status, body = await get(bot, f"/runs/{run_id}/live?after=1")
    assert status == 200 and body["seq"] == 1 and body["rows"] == ""


# --- the OpenAPI description matches what the bot sends -------------------------------


def _resolve(node: Any, spec: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _resolve(target, spec)
        return {k: _resolve(v, spec) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, spec) for v in node]
    return node


async def test_openapi_document_is_valid_and_real_responses_match_it(bot: Bot) -> None:
    status, spec = await get(bot, "/api/openapi.json")
    assert status == 200
    validate_spec(spec)

    run_id = await open_pr(bot)
    await append(bot, run_id, spend("0.10"), proof())
    await bot.settle()
    checks = [
        ("/api/runs", "/api/runs", "200"),
        ("/api/runs?limit=0", "/api/runs", "400"),
        (f"/api/runs/{run_id}", "/api/runs/{run_id}", "200"),
        ("/api/runs/" + "0" * 26, "/api/runs/{run_id}", "404"),
        (f"/api/runs/{run_id}/events?limit=2", "/api/runs/{run_id}/events", "200"),
        (f"/api/runs/{run_id}/events?after=x", "/api/runs/{run_id}/events", "400"),
        (f"/api/summary?repo={REPO}&pr=2", "/api/summary", "200"),
        ("/api/summary?repo=a/b&pr=1", "/api/summary", "404"),
        ("/healthz", "/healthz", "200"),
    ]
    for url, path, code in checks:
        status, body = await get(bot, url)
        assert str(status) == code, (url, body)
        schema = spec["paths"][path]["get"]["responses"][code]["content"]["application/json"]
        OAS31Validator(_resolve(schema["schema"], spec)).validate(body)
    # each NDJSON line is an Event as described
    _, text = await get(bot, f"/api/runs/{run_id}/events?format=ndjson")
    event_schema = _resolve(spec["components"]["schemas"]["Event"], spec)
    for line in text.splitlines():
        OAS31Validator(event_schema).validate(json.loads(line))
    # and the description would catch a wrong shape
    with pytest.raises(Exception, match="required"):
        OAS31Validator(event_schema).validate({"seq": 1})


async def test_html_routes_escape_and_send_security_headers(bot: Bot) -> None:
    run_id = await open_pr(bot)
    await append(bot, run_id, note('<img src=x onerror="alert(1)"> & <b>bold</b>'))
    assert bot.session is not None
    async with bot.session.get(f"{bot.url}/runs/{run_id}") as response:
        page = await response.text()
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "<img src=x" not in page and "<b>bold" not in page
    # no asset comes from anywhere but the bot
    assert "https://cdn" not in page and 'src="http' not in page and 'href="//' not in page


async def test_review_runs_of_the_fixture_pr_are_listed(bot: Bot) -> None:
    await bot.deliver("pull_request", load_payload("pull_request.review_requested"))
    _, body = await get(bot, f"/api/runs?repo={REPO}&kind=review")
    assert len(body["runs"]) == 1 and body["runs"][0]["status"] == "requested"


async def _events_route_answers(bot: Bot) -> dict[str, float]:
    """How many NDJSON/SSE/JSON event reads finished, by status (from /metrics)."""
    assert bot.session is not None
    async with bot.session.get(f"{bot.url}/metrics") as response:
        text = await response.text()
    prefix = (
        'audit_http_request_duration_seconds_count{method="GET",route="/api/runs/{run_id}/events",'
    )
    return {
        line[len(prefix) :].split('"')[1]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(prefix)
    }


async def test_a_reader_leaving_mid_stream_is_not_an_error(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """The stream outgrows the socket buffers, the reader walks away: no 500, no trace."""
    run_id = await open_pr(bot)
    await asyncio.to_thread(add_notes_directly, db_path(bot), run_id, 20_000)  # ~6 MiB
    url = f"{bot.url}/api/runs/{run_id}/events?format=ndjson"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        await response.content.read(10)  # then walk away mid-stream
    deadline = time.monotonic() + 10
    while not (answers := await _events_route_answers(bot)):
        assert time.monotonic() < deadline, "the abandoned stream never finished"
        await asyncio.sleep(0.05)
    assert answers == {"200": 1.0}
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
    status, _ = await get(bot, f"/api/runs/{run_id}")
    assert status == 200


async def test_links_from_stored_data_are_http_only(bot: Bot) -> None:
    run_id = await open_pr(bot)
    repo = load_payload("pull_request.opened")["repository"]
    payload = load_payload(
        "workflow_run.in_progress",
        repository=repo,
        workflow_run__head_sha="ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        workflow_run__html_url="javascript:alert(document.domain)",
    )
    await bot.deliver("workflow_run", payload)
    status, page = await get(bot, f"/runs/{run_id}")
    assert status == 200 and "ci.workflow_run" in page
    assert "javascript:" not in page  # shown as text without the link
