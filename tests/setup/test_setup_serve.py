"""`audit-bot serve` with no GitHub credentials logs the setup URL, with the bound port."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.e2e.test_quickstart import _env


def test_serve_logs_one_setup_line_with_the_bound_port_and_its_token(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=_env(tmp_path, PORT="0", PUBLIC_URL="https://audit.example.test"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        found = None
        while found is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line, "the bot exited before logging the setup URL"
            found = re.search(r"SETUP: .* at (http://127\.0\.0\.1:(\d+)/setup\?token=(\S+))", line)
        assert found is not None and int(found.group(2)) != 0
        assert found.group(3) == (tmp_path / "setup-token").read_text().strip()
        assert "https://audit.example.test/setup?token=" in line
        with urllib.request.urlopen(found.group(1), timeout=10) as reply:
            assert reply.status == 200
            assert b'name="manifest"' in reply.read()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        proc.stderr.close()
