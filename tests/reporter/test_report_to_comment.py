"""End to end: a CI step reports spend and proofs; the PR comment shows them exactly."""

from __future__ import annotations

import json
from typing import Any

from bot.store.base import RunFilter
from tests.support.bot import HEAD, REPO, Bot, load_payload
from tests.support.fake_github import FakeGitHub
from tests.support.oidc_issuer import LocalIssuer
from tests.support.reporter_kit import BASE_TX, STATIC, post, the_comment, token_for, x402_header

PENDING_TX = "0x" + "cd" * 32


async def open_review(bot: Bot, token: str, **extra: Any) -> dict[str, Any]:
    body = {"kind": "review", "name": "AI review", "head_sha": HEAD, **extra}
    status, opened = await post(bot, "/api/runs", body, token)
    assert status == 201, opened
    return opened


async def test_reported_spend_and_x402_proof_reach_the_pr_comment(
    reporter_bot: Bot, github: FakeGitHub, issuer: LocalIssuer
) -> None:
    bot = reporter_bot
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    token = token_for(issuer)  # an Actions job of Codertocat/Hello-World on refs/pull/2/merge
    opened = await open_review(bot, token, budget="5 USD")
    assert opened["pr"] == 2 and opened["repo"] == REPO  # both from the token's claims
    assert opened["url"] == f"https://audit.example.test/runs/{opened['id']}"
    run = await bot.store.get_run(opened["id"])
    assert run["installation_id"] == 1  # taken from the PR's own run, for App mode

    # 0.10 arrives as a JSON number: parsed exactly, never through a float
    raw = (
        '{"events": ['
        '{"type": "step.started", "name": "review"},'
        '{"type": "spend", "amount": 0.10, "currency": "USD", "category": "llm",'
        ' "model": "some-model", "input_tokens": 1200, "output_tokens": 300},'
        '{"type": "spend", "amount": "0", "currency": "USD", "category": "api"},'
        '{"type": "spend", "amount": "1.25", "currency": "usdc", "category": "payment"},'
        f'{{"type": "proof", "x402": "{x402_header(amount="1250000")}"}},'
        '{"type": "step.finished", "name": "review", "status": "succeeded"}'
        "]}"
    )
    status, answer = await bot.request(
        "POST",
        f"/api/runs/{opened['id']}/events",
        data=raw,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert status == 201, answer
    assert answer["recorded"] == 6
    assert answer["spend"] == {"USD": "0.1", "USDC": "1.25"}
    assert answer["proofs"] == [
        {
            "network": "eip155:8453",
            "network_name": "Base",
            "tx": BASE_TX,
            "status": "settled",
            "url": f"https://basescan.org/tx/{BASE_TX}",
        }
    ]

    body = await the_comment(bot, github)
    row = next(line for line in body.splitlines() if opened["id"] in line)
    assert row.startswith(f"| [AI review](https://audit.example.test/runs/{opened['id']}")
    assert "| 0.10 of 5.00 USD<br>1.25 USDC |" in row
    assert "⚠️" not in row
    assert f"| ✅ 1 · [0xabab…abab](https://basescan.org/tx/{BASE_TX}) |" in row
    assert body.splitlines()[1].startswith("**0.10 USD · 1.25 USDC** spent by 1 run")

    status, closed = await post(
        bot, f"/api/runs/{opened['id']}/close", {"status": "succeeded"}, token
    )
    assert status == 200 and closed["status"] == "succeeded"
    status, again = await post(bot, f"/api/runs/{opened['id']}/close", {}, token)
    assert status == 409 and "already closed" in again["error"]
    status, late = await post(
        bot,
        f"/api/runs/{opened['id']}/events",
        {"events": [{"type": "note", "text": "too late"}]},
        token,
    )
    assert status == 409 and "closed" in late["error"]


async def test_pending_and_failed_settlements_are_never_shown_as_paid(
    reporter_bot: Bot, github: FakeGitHub, issuer: LocalIssuer
) -> None:
    bot = reporter_bot
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    token = token_for(issuer)
    opened = await open_review(bot, token)
    pending = x402_header(success=False, errorReason="settlement_pending", transaction=PENDING_TX)
    failed = x402_header(success=False, errorReason="insufficient_funds", transaction="")
    status, answer = await post(
        bot,
        f"/api/runs/{opened['id']}/events",
        {"events": [{"type": "proof", "x402": pending}, {"type": "proof", "x402": failed}]},
        token,
    )
    assert status == 201, answer
    assert [p["status"] for p in answer["proofs"]] == ["pending", "failed"]
    body = await the_comment(bot, github)
    row = next(line for line in body.splitlines() if opened["id"] in line)
    assert (
        row.split(" | ")[3]
        == f"❌ 1 ⏳ 1 · [view](https://audit.example.test/runs/{opened['id']}#proofs-h)"
    )
    [trail] = [line for line in body.splitlines() if line.startswith(f"- `{opened['id']}`")]
    assert f"⏳ [0xcdcd…cdcd](https://basescan.org/tx/{PENDING_TX}) pending" in trail
    assert "❌ `no transaction` failed" in trail
    assert "✅" not in trail  # nothing settled: nothing shown as paid
    assert "**1 payment proof failed**" in body.splitlines()[2]  # needs action


async def test_idempotent_retries_change_nothing(
    reporter_bot: Bot, github: FakeGitHub, issuer: LocalIssuer
) -> None:
    bot = reporter_bot
    token = token_for(issuer)
    key = {"Idempotency-Key": "job-42-open"}
    first = await post(bot, "/api/runs", {"kind": "agent"}, token, **key)
    # the PR run appears between the call and its retry: still a replay
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    second = await post(bot, "/api/runs", {"kind": "agent"}, token_for(issuer), **key)
    assert first[0] == 201 and second[0] == 200
    assert second[1]["id"] == first[1]["id"] and second[1]["replayed"] is True
    run_id = first[1]["id"]

    batch = {
        "events": [{"type": "spend", "amount": "0.5", "currency": "USD"}],
        "idempotency_key": "job-42-spend-1",
    }
    assert (await post(bot, f"/api/runs/{run_id}/events", batch, token))[0] == 201
    status, replay = await post(bot, f"/api/runs/{run_id}/events", batch, token)
    assert status == 200 and replay["replayed"] and replay["recorded"] == 0
    assert replay["spend"] == {"USD": "0.5"}
    changed = {**batch, "events": [{"type": "spend", "amount": "5", "currency": "USD"}]}
    status, refused = await post(bot, f"/api/runs/{run_id}/events", changed, token)
    assert status == 422 and "idempotency key" in refused["error"]

    runs = await bot.store.list_runs(RunFilter(repo=REPO, kind="agent"))
    assert len(runs) == 1 and runs[0]["seq"] == 2 and runs[0]["spend"] == {"USD": "0.5"}
    # another repository's identical key is its own: no replay across repositories
    status, other = await post(
        bot, "/api/runs", {"kind": "agent", "repo": "codertocat/other"}, STATIC, **key
    )
    assert status == 201 and other["id"] != run_id


async def test_invalid_batches_are_422_with_paths_and_write_nothing(
    reporter_bot: Bot, issuer: LocalIssuer
) -> None:
    bot = reporter_bot
    token = token_for(issuer)
    opened = await open_review(bot, token)
    path = f"/api/runs/{opened['id']}/events"
    events = [
        {"type": "spend", "amount": "0.10", "currency": "USD"},
        {"type": "spend", "amount": "-1", "currency": "USD"},
        {"type": "spend", "amount": "NaN", "currency": "USD"},
        {"type": "spend", "amount": "0.0000000000000000001", "currency": "USD"},
        {"type": "spend", "amount": "1", "currency": "US D"},
        {"type": "spend", "amount": "1", "currency": "USD", "category": "snacks"},
        {"type": "proof", "network": "base", "tx": "0x1234"},
        {"type": "proof", "network": "base", "tx": BASE_TX, "explorer_url": "https://evil"},
        {"type": "proof", "network": "eip155:8453", "tx": "0x" + "0" * 64},
        {"type": "proof", "x402": "not base64 at all"},
        {"type": "launch", "name": "x"},
        {"type": "step.started"},
        "not an object",
        {"type": ["note"], "text": "a list is no type"},
        {"type": {"note": 1}},
    ]
    status, answer = await post(bot, path, {"events": events}, token)
    assert status == 422
    assert answer["error"] == "invalid request"
    paths = [e["path"] for e in answer["errors"]]
    assert paths == [
        "events[1].amount",
        "events[2].amount",
        "events[3].amount",
        "events[4].currency",
        "events[5].category",
        "events[6].tx",
        "events[7].explorer_url",
        "events[8].tx",
        "events[9].x402",
        "events[10].type",
        "events[11].name",
        "events[12]",
        "events[13].type",
        "events[14].type",
    ]
    reasons = {e["path"]: e["reason"] for e in answer["errors"]}
    assert "negative" in reasons["events[1].amount"]
    assert "precise" in reasons["events[3].amount"]
    assert "built by the bot" in reasons["events[7].explorer_url"]

    # a huge exponent as a JSON number is refused, not rounded
    status, answer = await bot.request(
        "POST",
        path,
        data='{"events": [{"type": "spend", "amount": 1e400, "currency": "USD"}]}',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert status == 422 and answer["errors"][0]["path"] == "events[0].amount"

    run = await bot.store.get_run(opened["id"])
    assert run["seq"] == 1 and run["spend"] == {}


async def test_malformed_requests_get_clear_4xx(reporter_bot: Bot, issuer: LocalIssuer) -> None:
    bot = reporter_bot
    token = token_for(issuer)
    auth = {"Authorization": f"Bearer {token}"}
    json_type = {**auth, "Content-Type": "application/json"}
    cases = [
        (b"{not json", json_type, 400),
        (b'{"kind": NaN}', json_type, 400),
        (b'{"kind": "review"}', {**auth, "Content-Type": "text/plain"}, 415),
        (json.dumps({"kind": "x", "name": "n" * 2_000_000}).encode(), json_type, 413),
        (b"[1, 2]", json_type, 422),
        (b'{"kind": "pr"}', json_type, 422),
        (b"{}", json_type, 422),
        (b'{"kind": "review", "pr": 0, "head_sha": "abc", "budget": "5 US$"}', json_type, 422),
        (b'{"kind": "review", "colour": "blue"}', json_type, 422),
    ]
    for raw, headers, expected in cases:
        status, answer = await bot.request("POST", "/api/runs", data=raw, headers=headers)
        assert status == expected, (raw[:40], status, answer)
        assert isinstance(answer, dict) and answer["error"]
    status, answer = await bot.request(
        "POST",
        "/api/runs",
        data=b'{"kind": "review", "pr": 0, "head_sha": "abc", "budget": "5 US$"}',
        headers=json_type,
    )
    assert [e["path"] for e in answer["errors"]] == ["budget[0]", "pr", "head_sha"]
    status, answer = await bot.request(
        "POST", "/api/runs", data=b'{"kind": "x"}', headers={**json_type, "Idempotency-Key": "a b"}
    )
    assert status == 422 and answer["errors"][0]["path"] == "header Idempotency-Key"
    status, _ = await bot.request(
        "POST",
        "/api/runs/not-a-run/events",
        json={"events": [{"type": "note", "text": "x"}]},
        headers=auth,
    )
    assert status == 404
    assert await bot.store.list_runs(RunFilter(repo=REPO)) == []


async def test_pr_runs_follow_github_only(reporter_bot: Bot, issuer: LocalIssuer) -> None:
    bot = reporter_bot
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    [pr_run] = await bot.store.list_runs(RunFilter(repo=REPO, pr=2))
    token = token_for(issuer)
    for route, body in (
        ("events", {"events": [{"type": "note", "text": "hi"}]}),
        ("close", {"status": "failed"}),
    ):
        status, answer = await post(bot, f"/api/runs/{pr_run['id']}/{route}", body, token)
        assert status == 409 and "webhooks" in answer["error"]


async def test_static_token_needs_a_repo_and_opens_runs_without_a_pr(
    reporter_bot: Bot,
) -> None:
    bot = reporter_bot
    status, answer = await post(bot, "/api/runs", {"kind": "ci"}, STATIC)
    assert status == 422 and answer["errors"][0]["path"] == "repo"
    status, opened = await post(
        bot, "/api/runs", {"kind": "ci", "repo": REPO, "pr": 2, "head_sha": HEAD}, STATIC
    )
    assert status == 201 and opened["pr"] == 2
    status, opened = await post(bot, "/api/runs", {"kind": "nightly", "repo": REPO}, STATIC)
    assert status == 201 and opened["pr"] is None


async def test_a_report_refused_for_a_closed_run_stays_refused_when_retried(
    reporter_bot: Bot, issuer: LocalIssuer
) -> None:
    bot = reporter_bot
    token = token_for(issuer)
    opened = await open_review(bot, token)
    run_id = opened["id"]
    status, _ = await post(bot, f"/api/runs/{run_id}/close", {"status": "failed"}, token)
    assert status == 200
    late = {"events": [{"type": "note", "text": "late"}], "idempotency_key": "late-1"}
    second_close = {"status": "succeeded", "idempotency_key": "close-2"}
    for route, body in (("events", late), ("close", second_close)):
        for attempt in range(2):  # the retry must not become a "replayed" success
            status, answer = await post(bot, f"/api/runs/{run_id}/{route}", body, token)
            assert status == 409, (route, attempt, answer)
            assert f"{run_id} is" in answer["error"] and "closed (failed)" in answer["error"]
    run = await bot.store.get_run(run_id)
    assert run["status"] == "failed" and run["seq"] == 2
