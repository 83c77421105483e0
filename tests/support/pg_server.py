"""A throwaway PostgreSQL server from the installed binaries, for tests and the benchmark.

`initdb` into a fresh directory, `pg_ctl start` on a free loopback port with the unix
socket in that directory, `pg_ctl stop` and delete at the end. A run killed before
its end leaves its server behind; the next start stops such orphans. Debian's
`postgresql` package keeps the binaries in `/usr/lib/postgresql/<version>/bin` (not
on PATH), so that is searched after PATH. PostgreSQL refuses to run as root: when we
are root the server runs as the `postgres` user (created by that package) through
`runuser`.

Run as a script it starts a server, prints its URL and waits for Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SERVER_USER = "postgres"  # the unprivileged account Debian's package creates
PREFIX = "audit-pg-"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries (or no way to run them) on this machine."""


def find_bin_dir() -> Path:
    """The directory holding `initdb` and `pg_ctl`: PATH first, then Debian's layout."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    raise PostgresUnavailable(
        "PostgreSQL binaries not found (pg_ctl not on PATH nor in /usr/lib/postgresql/*/bin): "
        "install Debian's `postgresql` package or set AUDIT_TEST_POSTGRES_URL"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):  # a zombie is dead too
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def reap_orphans(bin_dir: Path) -> None:
    """Stop servers whose test run died without cleaning up (killed, timed out).

    Each server's directory names the process that started it; when that process is
    gone the server is nobody's, so it is stopped and its directory removed.
    """
    for root in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            owner = int((root / "owner").read_text())
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        if (root / "data" / "postmaster.pid").exists():
            as_user = _as_server_user()
            subprocess.run(
                [*as_user, str(bin_dir / "pg_ctl"), "stop", "-D", str(root / "data"), "-m", "fast"],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


def _as_server_user() -> list[str]:
    """The prefix that runs a command as the server's user (empty unless we are root)."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root and `runuser` is missing")
    return [runuser, "-u", SERVER_USER, "--"]


class ThrowawayPostgres:
    """One server in a temporary directory; `url` names its `postgres` database."""

    def __init__(self, *, durable: bool = False) -> None:
        self.bin_dir = find_bin_dir()
        self.durable = durable  # False: fsync off, for tests; True: a real server's commits
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX))
        self.data = self.root / "data"
        self.port = _free_port()
        self.url = f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/postgres"
        self._as_user: list[str] = []

    def _run(self, *argv: str) -> None:
        cmd = [*self._as_user, *argv]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise PostgresUnavailable(
                f"{' '.join(argv[:2])} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-800:]}"
            )

    def start(self) -> ThrowawayPostgres:
        reap_orphans(self.bin_dir)
        (self.root / "owner").write_text(str(os.getpid()))
        self._as_user = _as_server_user()
        if self._as_user:
            shutil.chown(self.root, SERVER_USER)
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-c port={self.port}",
            f"-c unix_socket_directories={self.root}",
            "-c max_connections=200",
            "-c shared_buffers=64MB",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            SERVER_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            " ".join(options),
        )
        return self

    @property
    def version(self) -> str:
        """The server's version, e.g. `15.8`."""
        out = subprocess.run(
            [str(self.bin_dir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            check=False,
        )
        found = re.search(r"\d+(\.\d+)+", out.stdout)
        return found.group(0) if found else "unknown"

    def create_database(self, name: str) -> str:
        """Create an empty database on the running server; returns its URL."""
        self._run(
            str(self.bin_dir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            SERVER_USER,
            name,
        )
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        if self.data.exists():
            with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
                self._run(str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def throwaway_postgres(*, durable: bool = False) -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres(durable=durable)
    try:
        yield server.start()
    finally:
        server.stop()


if __name__ == "__main__":
    with throwaway_postgres() as pg:
        print(pg.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            sys.exit(0)
