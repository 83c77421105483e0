"""A throwaway PostgreSQL server from the installed binaries, for tests and the benchmark.

`initdb` into a fresh directory, `pg_ctl start` on a free loopback port with the unix
socket in that directory, `pg_ctl stop` and delete at the end. Debian's `postgresql`
package keeps the binaries in `/usr/lib/postgresql/<version>/bin` (not on PATH), so
that is searched after PATH. PostgreSQL refuses to run as root: when we are root the
server runs as the `postgres` user (created by that package) through `runuser`.

Run as a script it starts a server, prints its URL and waits for Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SERVER_USER = "postgres"  # the unprivileged account Debian's package creates


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


class ThrowawayPostgres:
    """One server in a temporary directory; `url` names its `postgres` database."""

    def __init__(self, *, durable: bool = False) -> None:
        self.bin_dir = find_bin_dir()
        self.durable = durable  # False: fsync off, for tests; True: a real server's commits
        self.root = Path(tempfile.mkdtemp(prefix="audit-pg-"))
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
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PostgresUnavailable("running as root and `runuser` is missing")
            self._as_user = [runuser, "-u", SERVER_USER, "--"]
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
