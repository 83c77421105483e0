"""The quick start's rough edges: a missing dependency, a taken port, the announced URL."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        "HOST": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path}/audit.db",
        "AUDIT_REDELIVERY_INTERVAL_SECONDS": "0",
        **extra,
    }


def test_missing_dependency_names_the_command_to_run(tmp_path: Path) -> None:
    # -S: no site-packages, so the bot's sources import but none of its dependencies do,
    # as with a plain `python3 -m bot` from a fresh clone.
    proc = subprocess.run(
        [sys.executable, "-S", "-m", "bot"],
        cwd=tmp_path,
        env={**_env(tmp_path), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "ModuleNotFoundError" not in proc.stderr
    assert re.search(r"the dependency '[\w.]+' is not installed for ", proc.stderr)
    assert "./scripts/serve" in proc.stderr


def test_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "bot"],
            cwd=tmp_path,
            env=_env(tmp_path, PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"audit-bot: cannot listen on 127.0.0.1:{port}: the port is already in use "
        "(stop the other process, or set PORT)"
    ]
    assert proc.stdout == ""
    assert not (tmp_path / "audit.db").exists()  # nothing started before the bind


def test_announced_url_is_the_bound_port_and_answers(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=_env(tmp_path, PORT="0"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        url = None
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line, "the bot exited before announcing its URL"
            found = re.search(r"audit bot on (http://127\.0\.0\.1:(\d+))", line)
            if found:
                url = found.group(1)
                assert int(found.group(2)) != 0
        assert url is not None
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as reply:
            assert reply.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        proc.stderr.close()


def _fake_checkout(tmp_path: Path, pip_status: int = 0) -> Path:
    """scripts/install in a copy whose .venv python only records how pip was called."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "install").write_bytes((ROOT / "scripts" / "install").read_bytes())
    (tmp_path / "scripts" / "install").chmod(0o755)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.write_text(
        f'#!/bin/sh\necho "$*" >>"{tmp_path}/pip-calls"\n'
        f'echo "pages of build output"\nexit {pip_status}\n'
    )
    fake.chmod(0o755)
    return tmp_path


def _install(checkout: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(checkout / "scripts" / "install"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _calls(checkout: Path) -> list[str]:
    path = checkout / "pip-calls"
    return path.read_text().splitlines() if path.exists() else []


def test_install_runs_only_when_pyproject_changed(tmp_path: Path) -> None:
    checkout = _fake_checkout(tmp_path)
    first = _install(checkout)
    assert first.returncode == 0
    assert "pages of build output" not in first.stdout + first.stderr  # quiet: in the log
    assert "pages of build output" in (checkout / ".venv" / "install.log").read_text()
    assert _calls(checkout) == ["-m pip install -q --no-compile -e ."]
    assert _install(checkout).returncode == 0
    assert len(_calls(checkout)) == 1  # unchanged: no install at all
    assert _install(checkout, "test").returncode == 0  # other extras: installed once
    assert _install(checkout).returncode == 0
    assert _install(checkout, "test").returncode == 0
    assert _calls(checkout)[1:] == ["-m pip install -q --no-compile -e .[test]"]
    (checkout / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "2"\n')
    assert _install(checkout).returncode == 0
    assert _calls(checkout)[2:] == ["-m pip install -q --no-compile -e ."]


def test_failed_install_shows_its_log_and_installs_again_next_time(tmp_path: Path) -> None:
    checkout = _fake_checkout(tmp_path, pip_status=1)
    failed = _install(checkout)
    assert failed.returncode == 1
    assert "pages of build output" in failed.stderr
    assert "install failed" in failed.stderr
    _install(checkout)
    assert len(_calls(checkout)) == 2  # no stamp was written
