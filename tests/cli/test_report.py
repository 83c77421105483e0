"""`audit-bot report` as a real subprocess, against the bot served on loopback.

The Actions OIDC token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`) is a tiny aiohttp
server on loopback handing out tokens minted by the local issuer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.cli import report
from bot.store.base import RunFilter
from tests.support.bot import HEAD, REPO, Bot, load_payload, start_server
from tests.support.fake_github import FakeGitHub
from tests.support.oidc_issuer import LocalIssuer
from tests.support.reporter_kit import AUDIENCE, BASE_TX, STATIC, x402_header

REQUEST_TOKEN = "actions-runtime-request-token"
ROOT = Path(__file__).resolve().parents[2]


class TokenEndpoint:
    """GitHub's job-scoped endpoint that turns the request token into an OIDC JWT."""

    def __init__(self, issuer: LocalIssuer) -> None:
        self.issuer = issuer
        self.audiences: list[str] = []
        self.fail_next = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"bearer {REQUEST_TOKEN}":
            return web.json_response({"message": "bad request token"}, status=401)
        if self.fail_next:
            self.fail_next -= 1
            return web.json_response({"message": "try again"}, status=503)
        assert request.query["api-version"] == "2.0"
        audience = request.query["audience"]
        self.audiences.append(audience)
        return web.json_response(
            {"value": self.issuer.mint(REPO, "refs/pull/2/merge", aud=audience)}
        )


@pytest.fixture
async def token_endpoint(issuer: LocalIssuer) -> AsyncIterator[TokenEndpoint]:
    endpoint = TokenEndpoint(issuer)
    app = web.Application()
    app.router.add_get("/_apis/token", endpoint.handle)
    runner, url = await start_server(app)
    endpoint.url = f"{url}/_apis/token?api-version=2.0"
    yield endpoint
    await runner.cleanup()


class Job:
    """One Actions job's environment: its files and the variables the runner sets."""

    def __init__(self, tmp: Path, bot_url: str, endpoint: TokenEndpoint | None) -> None:
        self.output = tmp / "output"
        self.env_file = tmp / "env"
        self.summary = tmp / "summary.md"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "GITHUB_ACTIONS": "true",
            "GITHUB_OUTPUT": str(self.output),
            "GITHUB_ENV": str(self.env_file),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "AUDIT_BOT_URL": bot_url,
            "AUDIT_BOT_AUDIENCE": AUDIENCE,
        }
        if endpoint is not None:
            self.env["ACTIONS_ID_TOKEN_REQUEST_URL"] = endpoint.url
            self.env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = REQUEST_TOKEN

    def carried(self) -> dict[str, str]:
        """What `$GITHUB_ENV` hands to the job's later steps."""
        if not self.env_file.exists():
            return {}
        lines = self.env_file.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    async def report(self, *args: str, cli: bool = False, **env: str) -> tuple[int, str, str]:
        """Run `python -m bot.cli.report …` (what the action runs, stdlib only), or
        with `cli=True` the installed command line, `python -m bot report …`."""
        entry = ["-m", "bot", "report"] if cli else ["-m", "bot.cli.report"]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *entry,
            *args,
            "--backoff",
            "0.05",
            cwd=ROOT,
            env={**self.env, **self.carried(), **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        return process.returncode or 0, out.decode(), err.decode()


@pytest.fixture
def job(tmp_path: Path, reporter_bot: Bot, token_endpoint: TokenEndpoint) -> Job:
    return Job(tmp_path, reporter_bot.url, token_endpoint)


async def test_a_review_job_reports_spend_and_an_x402_payment(
    job: Job, reporter_bot: Bot, github: FakeGitHub, token_endpoint: TokenEndpoint
) -> None:
    await reporter_bot.deliver("pull_request", load_payload("pull_request.opened"))
    token_endpoint.fail_next = 1  # the token endpoint hiccups once: retried
    code, out, err = await job.report(
        "open",
        "--kind",
        "review",
        "--name",
        "AI review",
        "--head-sha",
        HEAD,
        "--budget",
        "5 USD",
        cli=True,
    )
    assert code == 0, err
    run_id = out.strip()
    assert job.output.read_text() == (
        f"run-id={run_id}\nrun-url=https://audit.example.test/runs/{run_id}\n"
    )
    assert job.carried() == {"AUDIT_RUN_ID": run_id}
    assert token_endpoint.audiences == [AUDIENCE]

    steps = [
        ("spend", "--amount", "0.10", "--currency", "USD", "--category", "llm",
         "--model", "some-model", "--input-tokens", "1200", "--output-tokens", "300"),
        ("spend", "--amount", "0", "--currency", "USD", "--category", "api"),
        ("spend", "--amount", "1.25", "--currency", "USDC", "--category", "payment"),
        ("proof", "--x402", x402_header(amount="1250000")),
        ("event", "--type", "note", "--text", "reviewed 12 files"),
        ("close", "--status", "succeeded"),
    ]  # fmt: skip
    for step in steps:
        code, out, err = await job.report(*step)
        assert code == 0, (step, out, err)

    run = await reporter_bot.store.get_run(run_id)
    assert run["spend"] == {"USD": "0.1", "USDC": "1.25"}
    assert run["status"] == "succeeded" and run["pr"] == 2 and run["budget"] == {"USD": "5"}
    assert run["tokens"] == {"input": 1200, "output": 300}
    await reporter_bot.settle()
    [comment] = github.comments_on(REPO, 2)
    assert "| 0.10 of 5.00 USD<br>1.25 USDC | ✅ 1 · [" in comment["body"]
    assert f"(https://basescan.org/tx/{BASE_TX})" in comment["body"]
    headline = comment["body"].splitlines()[1]
    assert headline == "**0.10 USD · 1.25 USDC** spent by 1 run of 2 on this PR"

    summary = job.summary.read_text().splitlines()
    link = f"[`{run_id}`](https://audit.example.test/runs/{run_id})"
    assert summary == [
        f"🧾 Audit run {link} opened: review (AI review) on {REPO}#2",
        f"🧾 {link}: spent 0.10 USD; run total 0.10 USD",
        f"🧾 {link}: spent 0 USD; run total 0.10 USD",
        f"🧾 {link}: spent 1.25 USDC; run total 0.10 USD · 1.25 USDC",
        f"🧾 {link}: proof [{BASE_TX}](https://basescan.org/tx/{BASE_TX}) on Base (settled)",
        f"🧾 {link}: recorded 1 event(s)",
        f"🧾 Audit run {link} closed: succeeded; spend 0.10 USD · 1.25 USDC",
    ]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_unreachable_bot_warns_and_exits_0_unless_strict(
    tmp_path: Path, token_endpoint: TokenEndpoint
) -> None:
    job = Job(tmp_path, f"http://127.0.0.1:{closed_port()}", token_endpoint)
    code, out, _ = await job.report("open", "--kind", "agent", "--retries", "2")
    assert code == 0
    assert out.startswith("::warning title=audit-bot report::nothing reported:")
    assert "failed after 3 attempts" in out
    code, out, _ = await job.report("open", "--kind", "agent", "--retries", "0", "--strict")
    assert code == 1 and out.startswith("::error")
    assert not job.output.exists()  # no run ID was made up


async def test_rejected_report_exits_1_with_the_bad_field(job: Job, reporter_bot: Bot) -> None:
    code, out, err = await job.report("open", "--kind", "review")
    assert code == 0, err
    code, out, _ = await job.report("spend", "--amount", "-1", "--currency", "USD")
    assert code == 1
    assert "::error title=audit-bot report::the audit bot refused the report: HTTP 422" in out
    assert "events[0].amount: must not be negative" in out
    [run] = await reporter_bot.store.list_runs(RunFilter(repo=REPO))
    assert run["spend"] == {}


async def test_without_credentials_or_run_id_it_warns(tmp_path: Path, reporter_bot: Bot) -> None:
    job = Job(tmp_path, reporter_bot.url, None)  # e.g. a pull request from a fork
    code, out, _ = await job.report("open", "--kind", "review")
    assert code == 0 and "id-token: write" in out
    code, out, _ = await job.report("spend", "--amount", "1", "--currency", "USD")
    assert code == 0 and "no run ID" in out
    assert await reporter_bot.store.list_runs(RunFilter(repo=REPO)) == []


async def test_static_token_outside_actions(tmp_path: Path, reporter_bot: Bot) -> None:
    env: dict[str, Any] = {"AUDIT_BOT_TOKEN": STATIC, "GITHUB_ACTIONS": ""}
    job = Job(tmp_path, reporter_bot.url, None)
    code, out, err = await job.report(
        "open", "--kind", "nightly", "--repo", REPO, "--idempotency-key", "nightly-1", **env
    )
    assert code == 0, err
    again, out_again, _ = await job.report(
        "open", "--kind", "nightly", "--repo", REPO, "--idempotency-key", "nightly-1", **env
    )
    assert again == 0 and out_again == out  # a retried invocation is the same run
    assert len(await reporter_bot.store.list_runs(RunFilter(repo=REPO))) == 1


def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="audit-bot", exit_on_error=False)
    report.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["report", *argv])


def test_json_events_keep_their_amounts_exact() -> None:
    raw = '[{"type": "spend", "amount": 0.1234567890123456789, "currency": "USD"}]'
    _, body = report.build(parsed("event", "--run-id", "r", "--json", raw))
    assert body["events"][0]["amount"] == "0.1234567890123456789"  # not a rounded float
    with pytest.raises(ValueError, match="NaN"):
        report.build(parsed("event", "--run-id", "r", "--json", '{"amount": NaN}'))


async def test_the_default_audience_is_the_bot_url_without_its_trailing_slash(
    job: Job, reporter_bot: Bot, token_endpoint: TokenEndpoint
) -> None:
    await job.report(
        "open", "--kind", "review", AUDIT_BOT_URL=reporter_bot.url + "/", AUDIT_BOT_AUDIENCE=""
    )
    assert token_endpoint.audiences == [reporter_bot.url]


async def test_a_token_endpoint_that_refuses_is_a_missing_credential(job: Job) -> None:
    code, out, _ = await job.report("open", "--kind", "review", ACTIONS_ID_TOKEN_REQUEST_TOKEN="x")
    assert code == 0
    assert out.startswith("::warning title=audit-bot report::nothing reported:")
    assert "token endpoint refused" in out and "HTTP 401" in out
    assert not job.output.exists()


async def test_a_refusal_naming_a_line_break_stays_one_workflow_command(
    job: Job, reporter_bot: Bot
) -> None:
    code, _, err = await job.report("open", "--kind", "review")
    assert code == 0, err
    event = json.dumps({"type": "note", "text": "x", "bad\n::error::forged": 1})
    code, out, _ = await job.report("event", "--json", event)
    assert code == 1
    [line] = out.splitlines()
    assert line.startswith("::error title=audit-bot report::") and "bad%0A::error::forged" in line


async def test_an_answer_that_would_inject_variables_is_not_written(tmp_path: Path) -> None:
    async def lying(request: web.Request) -> web.Response:
        return web.json_response(
            {"id": "01abc\nLD_PRELOAD=/tmp/evil.so", "url": "https://x", "repo": REPO},
            status=201,
        )

    app = web.Application()
    app.router.add_post("/api/runs", lying)
    runner, url = await start_server(app)
    try:
        job = Job(tmp_path, url, None)
        code, out, _ = await job.report("open", "--kind", "review", AUDIT_BOT_TOKEN=STATIC)
    finally:
        await runner.cleanup()
    assert code == 0 and "not one line of text" in out
    assert job.carried() == {} and not job.output.exists()
