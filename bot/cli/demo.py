"""`audit-bot demo`: feed the bot real example webhooks and print the comment it would post.

The payloads ship with the package (`bot/cli/demo_payloads/`, from the test fixtures'
@octokit/webhooks-examples data: a pull request opened on Codertocat/Hello-World, then a
workflow run and a workflow job on its head, moved onto that repository). They go to
the bot already running at `--url` (the quick start's, by default) when one answers
there, else to a bot started inside this command on a temporary database, with no
GitHub credentials and no comment debounce. Either way the command waits until the
summary written after its last delivery exists, and prints its markdown, exactly what
would be posted on GitHub, on standard output (progress goes to standard error).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import aiohttp

PAYLOADS = "demo_payloads"
WAIT = 15.0  # seconds for the summary after the last delivery (the debounce is 2 s)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="feed the bundled example webhooks to the bot and print the PR comment",
        description="Send example webhooks (a PR opened, its CI run and job) to the bot at "
        "--url, or to a temporary bot of its own when none answers there, and print the "
        "summary comment's markdown as it would be posted.",
    )
    parser.add_argument(
        "--url",
        default=None,
        help="the running bot (default: http://127.0.0.1:$PORT, PORT defaulting to 8000)",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="always use a temporary bot of its own, even when one answers at --url",
    )
    parser.set_defaults(run=run)


def payloads() -> list[tuple[str, dict[str, Any]]]:
    """(event name, payload) in delivery order, from the files named `N-event.action.json`."""
    folder = resources.files("bot.cli").joinpath(PAYLOADS)
    found = sorted(p for p in folder.iterdir() if p.name.endswith(".json"))
    return [(p.name.split("-", 1)[1].split(".", 1)[0], json.loads(p.read_text())) for p in found]


def run(args: argparse.Namespace) -> int:
    url = (args.url or f"http://127.0.0.1:{os.environ.get('PORT') or 8000}").rstrip("/")
    try:
        body = asyncio.run(_demo(url, args.in_process))
    except DemoFailed as exc:
        print(f"audit-bot demo: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(body if body.endswith("\n") else body + "\n")
    return 0


class DemoFailed(Exception):
    """A one-line reason the demo could not show a comment."""


async def _demo(url: str, in_process: bool) -> str:
    timeout = aiohttp.ClientTimeout(total=WAIT + 10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        if not in_process and await _answers(session, url):
            print(f"audit-bot demo: feeding the bot at {url}", file=sys.stderr)
            secret = os.environ.get("GITHUB_WEBHOOK_SECRET") or None
            return await _feed(session, url, secret)
        async with _own_bot() as own:
            print(
                f"audit-bot demo: no bot answers at {url}; using a temporary one at {own} "
                "(its links stop working when the demo ends)",
                file=sys.stderr,
            )
            return await _feed(session, own, None)


async def _answers(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(f"{url}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as r:
            return r.status == 200
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return False


async def _feed(session: aiohttp.ClientSession, url: str, secret: str | None) -> str:
    repo = pr = None
    run_ids: list[str] = []
    for event, payload in payloads():
        body = json.dumps(payload).encode()
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "Content-Type": "application/json",
        }
        if secret is not None:
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = f"sha256={digest}"
        async with session.post(f"{url}/webhook", data=body, headers=headers) as response:
            answer = await response.json(content_type=None)
        if response.status != 200:
            reason = answer.get("error") if isinstance(answer, dict) else answer
            raise DemoFailed(f"{event} webhook answered {response.status}: {reason}")
        links = ", ".join(answer.get("urls") or []) or "no run"
        print(f"  {event}.{payload.get('action')}: {answer['status']} ({links})", file=sys.stderr)
        run_ids += [str(run) for run in answer.get("runs") or []]
        if event == "pull_request":
            repo, pr = payload["repository"]["full_name"], payload["number"]
    return await _summary(session, url, repo, pr, await _heads(session, url, run_ids))


async def _heads(session: aiohttp.ClientSession, url: str, run_ids: list[str]) -> set[str]:
    """The short head digests the summary shows for the runs fed, as they are now."""
    heads = set()
    for run_id in dict.fromkeys(run_ids):
        async with session.get(f"{url}/api/runs/{run_id}") as response:
            run = await response.json(content_type=None)
        if response.status == 200 and run.get("head_hash"):
            heads.add(str(run["head_hash"])[:12])
    if not heads:
        raise DemoFailed("the bot did not show the runs it recorded (GET /api/runs/{id})")
    return heads


async def _summary(
    session: aiohttp.ClientSession, url: str, repo: Any, pr: Any, heads: set[str]
) -> str:
    """The first summary showing every run at its newest event: a refresh that read the
    runs before the last delivery can still be written after it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    query = {"repo": str(repo), "pr": str(pr), "wait": "2"}
    while True:
        async with session.get(f"{url}/api/summary", params=query) as response:
            found = await response.json(content_type=None)
        if response.status == 200 and all(head in found["body"] for head in heads):
            return str(found["body"])
        if response.status not in (200, 404):
            raise DemoFailed(f"GET /api/summary answered {response.status}: {found}")
        if loop.time() > deadline:
            raise DemoFailed(f"no summary for {repo}#{pr} within {WAIT:g} s")
        await asyncio.sleep(0.2)


@asynccontextmanager
async def _own_bot() -> AsyncIterator[str]:
    """A bot on a temporary SQLite file: local mode, dry run, no debounce, any free port.
    Built from a fixed environment, never this process's: it cannot post to GitHub."""
    from bot.app import create_app  # the app only when it is needed
    from bot.cli.listen import listen
    from bot.config import load_settings
    from bot.http import server

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # not its LOCAL MODE / DRY RUN warnings (restored after)
    try:
        with tempfile.TemporaryDirectory(prefix="audit-bot-demo-") as data:
            sock = listen("127.0.0.1", 0)
            port = sock.getsockname()[1]
            env = {
                "DATABASE_URL": f"sqlite:///{data}/audit.db",
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "AUDIT_COMMENT_DEBOUNCE_SECONDS": "0",
            }
            settings = dataclasses.replace(load_settings(env), port=port)
            app = create_app(settings)
            runner, _ = await server.start(app, settings, "127.0.0.1", port, sock=sock)
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                await runner.cleanup()
    finally:
        root.setLevel(level)
