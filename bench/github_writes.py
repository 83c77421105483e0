"""GitHub writes per pull request for a burst of 100 events, with and without debounce.

The bot runs as its own process in token mode against the fake GitHub of the tests
(served by this process on loopback). Each PR gets a burst: opened, then 99 CI job
updates on its head, sent at concurrency 16 and interleaved across PRs. What the
figure shows is how much the one-outbox-row-per-PR design with its debounce window
saves GitHub (and the installation's secondary rate limit of 80 writes a minute).

Run from the repository root:  .venv/bin/python bench/github_writes.py
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.fake_github import FakeGitHub  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "webhooks"
CONCURRENCY = 16


@dataclass(frozen=True)
class BurstResult:
    debounce: float
    prs: int
    events_per_pr: int
    writes_per_pr: dict[int, int]
    seconds: float

    def line(self) -> str:
        counts = sorted(self.writes_per_pr.values())
        spread = f"{counts[0]}–{counts[-1]}" if counts[0] != counts[-1] else str(counts[0])
        return (
            f"debounce {self.debounce:g} s: {spread} GitHub comment writes per PR for "
            f"{self.events_per_pr} events ({self.prs} PRs, burst sent in {self.seconds:.2f} s)"
        )


def _deliveries(prs: int, per_pr: int, secret: str) -> list[tuple[bytes, dict[str, str]]]:
    opened = json.loads((FIXTURES / "pull_request.opened.json").read_text())
    job = json.loads((FIXTURES / "workflow_job.in_progress.json").read_text())
    out: list[tuple[int, dict, str]] = []
    for n in range(prs):
        number = 100 + n
        sha = hashlib.sha1(str(number).encode()).hexdigest()
        payload = json.loads(json.dumps(opened))
        payload["number"] = payload["pull_request"]["number"] = number
        payload["pull_request"]["head"]["sha"] = sha
        out.append((0, payload, "pull_request"))
        for i in range(per_pr - 1):
            update = json.loads(json.dumps(job))
            update["repository"] = opened["repository"]
            update["workflow_job"]["head_sha"] = sha
            update["workflow_job"]["id"] = number * 1000 + i
            out.append((i + 1, update, "workflow_job"))
    out.sort(key=lambda item: item[0])  # each PR opened first, then updates interleaved
    signed = []
    for _, payload, event in out:
        body = json.dumps(payload).encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        signed.append(
            (
                body,
                {
                    "X-GitHub-Event": event,
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-Hub-Signature-256": f"sha256={signature}",
                    "Content-Type": "application/json",
                },
            )
        )
    return signed


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait(session: aiohttp.ClientSession, url: str, pending_zero: bool, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            async with session.get(url + "/readyz") as response:
                body = await response.json()
            if not pending_zero or body.get("outbox", {}).get("pending") == 0:
                return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"bot at {url} did not get {'settled' if pending_zero else 'ready'}")


async def burst_writes(
    bot_argv: list[str], tmpdir: Path, *, debounce: float, prs: int = 3, per_pr: int = 100
) -> BurstResult:
    """One bot process, one burst; count the comment writes the fake GitHub received."""
    fake = FakeGitHub()
    runner = web.AppRunner(fake.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    secret = secrets.token_hex(16)
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmpdir}/writes-{debounce:g}.db",
        "GITHUB_WEBHOOK_SECRET": secret,
        "GITHUB_TOKEN": "bench-token",
        "GITHUB_API_URL": fake.url,
        "AUDIT_COMMENT_DEBOUNCE_SECONDS": str(debounce),
        "LOG_LEVEL": "WARNING",
    }
    url = f"http://127.0.0.1:{port}"
    with open(tmpdir / f"writes-{debounce:g}.log", "wb") as log:
        proc = subprocess.Popen(bot_argv, cwd=REPO, env=env, stdout=log, stderr=log)
    try:
        async with aiohttp.ClientSession() as session:
            await _wait(session, url, pending_zero=False, limit=20)
            todo = iter(_deliveries(prs, per_pr, secret))
            failures = 0

            async def worker() -> None:
                nonlocal failures
                for body, headers in todo:
                    async with session.post(url + "/webhook", data=body, headers=headers) as r:
                        await r.read()
                        failures += not 200 <= r.status < 300

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            seconds = time.perf_counter() - started
            if failures:
                raise RuntimeError(f"{failures} deliveries were not acknowledged")
            await _wait(session, url, pending_zero=True, limit=60 + debounce)
    finally:
        proc.terminate()
        proc.wait(30)
        await runner.cleanup()
    per_pr_writes: Counter[int] = Counter()
    for request in fake.writes(r"/comments"):
        found = re.search(r"/issues/(\d+)/comments$", request.path)
        if found:
            per_pr_writes[int(found.group(1))] += 1
        else:
            comment = fake.comments.get(int(request.path.rsplit("/", 1)[1]))
            if comment is not None:
                per_pr_writes[comment["_pr"]] += 1
    return BurstResult(debounce, prs, per_pr, dict(per_pr_writes), seconds)


def report(bot_argv: list[str], tmpdir: Path, debounces: tuple[float, ...] = (2.0, 0.0)) -> None:
    """Print one line per debounce setting."""
    print("\nGitHub writes per PR for a 100-event burst (bench/github_writes.py):")
    for debounce in debounces:
        result = asyncio.run(burst_writes(bot_argv, tmpdir, debounce=debounce))
        print("  " + result.line())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bot-cmd", default=f"{sys.executable} -m bot")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="writes-bench-") as tmp:
        report(args.bot_cmd.split(), Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
