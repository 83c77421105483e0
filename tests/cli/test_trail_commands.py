"""`audit-bot export / import / verify / rebuild`, run as real subprocesses on SQLite files."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pty
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import main
from tests.support.bot import HEAD, Bot, load_payload
from tests.support.readside import (
    append,
    close_pr,
    note,
    open_agent_run,
    open_pr,
    proof,
    spend,
    stored_events,
    stored_states,
)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The same command in this process (fast), for the many small cases."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def audit_bot(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` as a real subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "GITHUB_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.fixture
async def trails(bot: Bot) -> dict[str, Any]:
    """A merged PR run (CI, spend, proof), a review run, and an agent run of 8 events."""
    pr_run = await open_pr(bot)
    repo = load_payload("pull_request.opened")["repository"]
    await bot.deliver(
        "workflow_run",
        load_payload("workflow_run.completed", repository=repo, workflow_run__head_sha=HEAD),
    )
    await append(bot, pr_run, spend("0.10"), spend("1.25", "USDC", "payment"), proof())
    await bot.deliver("pull_request", load_payload("pull_request.review_requested"))
    agent = await open_agent_run(bot, budget={"USD": "1"})
    await append(bot, agent, *(note(f"step {i}") for i in range(5)), spend("0.5"))
    await close_pr(bot)
    await bot.settle()
    path = Path(bot.env["DATABASE_URL"].removeprefix("sqlite:///"))
    await bot.stop()
    return {"path": path, "url": f"sqlite:///{path}", "pr": pr_run, "agent": agent}


def test_round_trip_into_an_empty_database_keeps_runs_and_digests(
    trails: dict[str, Any], tmp_path: Path
) -> None:
    exported = tmp_path / "trail.ndjson"
    result = audit_bot(
        "export", "--repo", "Codertocat/Hello-World", "-o", str(exported),
        "--database", trails["url"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    original = stored_states(trails["path"])
    assert len(original) == 3
    assert f"exported 3 runs, {sum(s['seq'] for s in original.values())} events" in result.stderr

    target = tmp_path / "empty.db"
    result = audit_bot("import", str(exported), "--database", f"sqlite:///{target}")
    assert result.returncode == 0, result.stderr
    assert "imported 3 runs" in result.stdout and "0 refused, 0 malformed lines" in result.stdout

    copied = stored_states(target)
    assert copied == original  # identical runs: state, spend, proofs, head digests
    for run_id in original:
        assert stored_events(target, run_id) == stored_events(trails["path"], run_id)
    result = audit_bot("verify", "--all", "--database", f"sqlite:///{target}")
    assert result.returncode == 0 and "3 ok, 0 diverged" in result.stderr

    # one run, from either database, exports to the same bytes
    one = cli("export", trails["agent"], "--database", trails["url"])
    again = cli("export", trails["agent"], "--database", f"sqlite:///{target}")
    assert one.stdout == again.stdout and one.stdout.count("\n") == original[trails["agent"]]["seq"]

    # importing the same file again changes nothing
    result = cli("import", str(exported), "--database", f"sqlite:///{target}")
    assert result.returncode == 0 and "3 already present" in result.stdout
    assert stored_states(target) == original


def _sql(path: Path, statement: str, *params: Any) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(statement, params)


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (
            lambda db, run: _sql(
                db,
                "UPDATE events SET data = json_set(data, '$.text', 'forged') "
                "WHERE run_id = ? AND seq = 3",
                run,
            ),
            "event 3: hash does not match its content (edited)",
        ),
        (
            lambda db, run: _sql(db, "DELETE FROM events WHERE run_id = ? AND seq = 4", run),
            "event 4 is missing",
        ),
        (
            lambda db, run: _sql(db, "DELETE FROM events WHERE run_id = ? AND seq = 8", run),
            "event 8: missing (the projection records 8 events, the trail holds 7)",
        ),
        (
            lambda db, run: (
                _sql(db, "UPDATE events SET seq = -1 WHERE run_id = ? AND seq = 2", run),
                _sql(db, "UPDATE events SET seq = 2 WHERE run_id = ? AND seq = 5", run),
                _sql(db, "UPDATE events SET seq = 5 WHERE run_id = ? AND seq = -1", run),
            ),
            "event 2: previous hash does not link (deleted or reordered)",
        ),
    ],
    ids=["edited", "deleted", "tail-deleted", "reordered"],
)
def test_verify_names_the_first_divergence(
    trails: dict[str, Any], tamper: Any, expected: str
) -> None:
    run = trails["agent"]
    assert cli("verify", run, "--database", trails["url"]).returncode == 0
    tamper(trails["path"], run)
    result = audit_bot("verify", run, "--database", trails["url"])  # the real command
    assert result.returncode == 1
    assert result.stdout.strip() == f"{run}: {expected}"
    result = cli("verify", "--all", "--database", trails["url"])
    assert result.returncode == 1
    assert result.stdout.strip() == f"{run}: {expected}"  # only the tampered run
    assert "2 ok, 1 diverged" in result.stderr


def test_import_reports_malformed_lines_and_refuses_broken_chains(
    trails: dict[str, Any], tmp_path: Path
) -> None:
    lines = {
        run: cli("export", run, "--database", trails["url"]).stdout.splitlines()
        for run in stored_states(trails["path"])
    }
    agent, pr_run = trails["agent"], trails["pr"]
    [review] = [r for r in lines if r not in (agent, pr_run)]
    broken = list(lines[agent])
    broken[2] = '{"run_id": "' + agent + '", "seq": 3, '  # cut short
    forged = list(lines[review])
    event = json.loads(forged[0])
    event["data"]["reviewer"] = "someone-else"
    forged[0] = json.dumps(event)
    body = "\n".join([*lines[pr_run], *broken, "", "[1, 2]", *forged]) + "\n"
    source = tmp_path / "mixed.ndjson"
    source.write_text(body)
    first_agent_line = len(lines[pr_run]) + 1

    target = tmp_path / "target.db"
    result = audit_bot("import", str(source), "--database", f"sqlite:///{target}")
    assert result.returncode == 1
    events = len(lines[pr_run])
    assert (
        result.stdout.strip() == f"imported 1 run ({events} events), 2 refused, 2 malformed lines"
    )
    errors = result.stderr.splitlines()
    assert f"{source}:{first_agent_line + 2}: malformed line: not JSON" in errors[0]
    list_line = first_agent_line + len(broken) + 1  # after the agent's lines and a blank
    assert errors[1] == f"{source}:{list_line}: malformed line: not a JSON object"
    assert f"run {agent} not imported: event 3: event 3 is missing" in result.stderr
    assert (
        f"run {review} not imported: event 1: hash does not match its content (edited)"
        in result.stderr
    )
    assert set(stored_states(target)) == {pr_run}  # nothing of a refused run is stored


def test_import_from_stdin_and_bad_files(trails: dict[str, Any], tmp_path: Path) -> None:
    exported = cli("export", trails["agent"], "--database", trails["url"]).stdout
    target = f"sqlite:///{tmp_path / 'stdin.db'}"
    result = audit_bot("import", "-", "--database", target, stdin=exported.encode())
    assert result.returncode == 0 and "imported 1 run" in result.stdout
    result = cli("import", str(tmp_path / "absent.ndjson"), "--database", target)
    assert result.returncode == 2 and "cannot read" in result.stderr
    (tmp_path / "latin1.ndjson").write_bytes(b"\xff\xfe not utf-8\n")
    result = cli("import", str(tmp_path / "latin1.ndjson"), "--database", target)
    assert result.returncode == 1 and "latin1.ndjson:1: malformed line: not UTF-8" in result.stderr


def test_rebuild_recomputes_projections_from_events(trails: dict[str, Any]) -> None:
    run = trails["agent"]
    _sql(
        trails["path"],
        "UPDATE runs SET state = json_set(state, '$.status', 'bogus', '$.spend.USD', '99') "
        "WHERE id = ?",
        run,
    )
    result = cli("verify", run, "--database", trails["url"])
    assert result.returncode == 1
    assert "the projection differs from the fold of its events in: spend, status" in result.stdout
    result = cli("rebuild", "--database", trails["url"])
    assert result.returncode == 0
    assert result.stdout.strip() == f"{run}: rebuilt (spend, status changed)"
    assert "rebuilt 3 projections: 1 changed" in result.stderr
    assert cli("verify", "--all", "--database", trails["url"]).returncode == 0
    assert stored_states(trails["path"])[run]["spend"] == {"USD": "0.5"}


def test_progress_is_drawn_only_on_a_terminal(trails: dict[str, Any]) -> None:
    plain = audit_bot("verify", "--all", "--database", trails["url"])
    assert "\r" not in plain.stderr and "verifying:" not in plain.stderr
    main, follower = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "bot", "verify", "--all", "--database", trails["url"]],
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=60,
        )
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(main)
    assert process.returncode == 0
    assert b"\r\x1b[2Kverifying: runs 1" in drawn  # drawn in place on the terminal
    assert b"3 ok" in drawn


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export"], "give either a RUN or --repo"),
        (["export", "not-a-run"], "is not a run ID"),
        (["export", "--repo", "nope"], "--repo must look like owner/name"),
        (["export", "--repo", "a/b", "--since", "someday"], "--since must be a date"),
        (["export", "--repo", "a/b", "--since", "9999-12-31T23:00-02:00"], "--since must be"),
        (["export", "0" * 26], "no run 00000000000000000000000000"),
        (["verify"], "give a RUN or --all"),
        (["verify", "0" * 26], "no run"),
        (["rebuild", "bad"], "is not a run ID"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    trails: dict[str, Any], args: list[str], message: str
) -> None:
    result = cli(*args, "--database", trails["url"])
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_commands_on_a_missing_database_say_so(tmp_path: Path) -> None:
    result = audit_bot("verify", "--all", "--database", f"sqlite:///{tmp_path}/none.db")
    assert result.returncode == 2 and "no database at" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_a_database_that_cannot_be_used_is_one_line_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all, " * 200)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    unreachable = f"postgresql://audit:pa55word@127.0.0.1:{port}/trails"
    for args in (
        ("verify", "--all"),
        ("export", "--repo", "a/b"),
        ("rebuild",),
        ("import", str(junk)),
    ):
        for url, why in ((f"sqlite:///{junk}", "not a database"), (unreachable, "PostgreSQL")):
            result = cli(*args, "--database", url)
            assert result.returncode == 2, (args, url, result.stderr)
            assert result.stderr.startswith("audit-bot: cannot use the database: ")
            assert why in result.stderr and result.stderr.count("\n") == 1
            assert "pa55word" not in result.stderr
    assert junk.read_bytes() == b"not a database at all, " * 200  # left as it was


def test_rebuild_of_an_unknown_run_says_so_and_exits_2(trails: dict[str, Any]) -> None:
    result = cli("rebuild", trails["agent"], "0" * 26, "--database", trails["url"])
    assert result.returncode == 2
    assert f"{'0' * 26}: no such run" in result.stderr
    assert "rebuilt 1 projection: 0 changed" in result.stderr


def test_verify_and_export_leave_the_database_as_it_was(
    trails: dict[str, Any], tmp_path: Path
) -> None:
    # An auditor checks a backup: reading it must not migrate or write it. The copy
    # claims an older schema, which a read-write open would try to upgrade.
    backup = tmp_path / "backup" / "audit.db"
    backup.parent.mkdir()
    backup.write_bytes(trails["path"].read_bytes())
    with contextlib.closing(sqlite3.connect(backup)) as conn, conn:
        conn.execute("DELETE FROM schema_version WHERE version > 3")
    before = backup.read_bytes()
    url = f"sqlite:///{backup}"

    result = audit_bot("verify", "--all", "--database", url)
    assert result.returncode == 0 and "3 ok, 0 diverged" in result.stderr, result.stderr
    assert audit_bot("export", trails["agent"], "--database", url).returncode == 0
    assert backup.read_bytes() == before
    # Beside it SQLite may leave only its WAL index files, with nothing written to them.
    sidecars = [p for p in backup.parent.iterdir() if p.name != "audit.db"]
    assert {p.name for p in sidecars} <= {"audit.db-wal", "audit.db-shm"}
    assert all(p.stat().st_size == 0 for p in sidecars if p.name.endswith("-wal"))
    with contextlib.closing(sqlite3.connect(backup)) as conn:
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone() == (3,)
