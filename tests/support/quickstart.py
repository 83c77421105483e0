"""The README's quick start, run as written from a fresh clone (tests/e2e, bench/).

`QuickStart` clones a repository into a directory, runs the README's start command
(`./scripts/serve`) there with `PORT=0` so it takes a free port, reads the port from
the line it prints (`audit bot on http://127.0.0.1:PORT`), and times each step from the
clone on. `readme_blocks()` gives the quick start's shell blocks, so what runs is what
the README says. Standard library only: the bench runs it with any Python.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"audit bot on http://([0-9.]+):(\d+)")


def readme_blocks(readme: Path = ROOT / "README.md") -> list[str]:
    """The ```sh blocks of the README's "Quick start" section, in order."""
    text = readme.read_text()
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", section, re.S)]


def local(block: str, port: int) -> str:
    """A README block aimed at the port the bot printed instead of the default 8000."""
    return block.replace("localhost:8000", f"localhost:{port}")


class QuickStart:
    """A fresh clone of `source` in `where`, served by the README's command."""

    def __init__(self, source: Path, where: Path, env: dict[str, str] | None = None) -> None:
        self.source = source
        self.dir = where / "audit-bot"
        self.env = {**os.environ, "PORT": "0", **(env or {})}
        for name in ("DATABASE_URL", "GITHUB_WEBHOOK_SECRET", "GITHUB_TOKEN", "GITHUB_APP_ID"):
            self.env.pop(name, None)  # the quick start's defaults, whatever this shell has
        self.env.pop("VIRTUAL_ENV", None)
        self.started = time.monotonic()
        self.marks: dict[str, float] = {}
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.port = 0
        self._listening = threading.Event()

    def mark(self, name: str) -> float:
        self.marks[name] = time.monotonic() - self.started
        return self.marks[name]

    def clone(self) -> None:
        subprocess.run(
            ["git", "clone", "-q", str(self.source), str(self.dir)], check=True, env=self.env
        )
        self.mark("clone")

    def serve(self, command: str, timeout: float) -> int:
        """Run the README's start command; the port it prints, once it is listening."""
        self.process = subprocess.Popen(
            command,
            shell=True,
            cwd=self.dir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: stop() ends it and its children
        )
        threading.Thread(target=self._read, daemon=True).start()
        if not self._listening.wait(timeout) or not self.port:
            raise AssertionError(f"no listening line within {timeout:g} s:\n{self.output}")
        self.mark("listening")
        return self.port

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = LISTENING.search(line)
            if found and not self.port:
                self.port = int(found.group(2))
                self._listening.set()
        self._listening.set()  # the process ended: nobody waits in vain

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, str, str]:
        """(status, content type, body) of a GET on the bot."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()

    def until_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.get("/healthz", 2.0)[0] == 200:
                    self.mark("healthz")
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"/healthz did not answer within {timeout:g} s")
            time.sleep(0.05)

    def first_run_page(self) -> str:
        """Feed the README's example webhook; the run page its answer links to (HTML)."""
        body = (self.dir / "tests/fixtures/webhooks/pull_request.opened.json").read_bytes()
        request = urllib.request.Request(
            self.url + "/webhook",
            data=body,
            headers={
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": f"quickstart-{time.time_ns()}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            answer = json.loads(r.read())
        [url] = answer["urls"]
        assert url.startswith(self.url + "/runs/"), answer
        status, kind, page = self.get(url[len(self.url) :])
        assert status == 200 and kind.startswith("text/html"), (status, page[:500])
        self.mark("run page")
        return page

    def run(self, command: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """A README command in the clone (bash), its output captured."""
        return subprocess.run(
            ["bash", "-c", command],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=35)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
