"""Probing for private runs through every list, cursor, filter, page and error.

A caller learns nothing about runs it may not read. Checked as the issue asks: an
anonymous caller and a caller holding one PR's link token walk every filter
combination with small limits through the served bot (real HTTP on loopback), on
SQLite and on PostgreSQL; no private ID appears in any item or cursor, and every
answer is byte for byte the one they get once the runs they may not read are deleted
from the database (the twin). A pruned private run answers the 404 of a missing run.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
import uuid
from collections.abc import Iterable
from typing import Any

import asyncpg
import pytest

from bot.http.access import pr_link_token
from bot.ids import new_run_id
from bot.store import sql
from bot.store.base import RunFilter
from bot.store.sqlite_schema import migrate_sqlite
from bot.trail import events as ev
from bot.trail.intents import Command, OpenRun, RunSpec
from bot.workers.commit import commit
from bot.workers.retention import prune_once
from tests.support.bot import HEAD, REPO, SECRET, Bot
from tests.support.readside import close_pr, open_agent_run, open_pr

PRIVATE = "octo-org/secret-thing"
ALSO_PRIVATE = "octo-org/other-secret"
UNKNOWN = "octo-org/visibility-unknown"
DAY = 86400.0


NEVER = new_run_id()  # a well-formed ID no run has


@pytest.fixture(params=["sqlite", "postgresql"])
def store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    return {"DATABASE_URL": str(request.getfixturevalue("postgres_url"))}


async def open_run(bot: Bot, repo: str, pr: int, private: bool | None) -> str:
    """An agent run opened through the commit path, with the visibility given."""
    spec = RunSpec(kind="agent", repo=repo, pr=pr, head_sha=HEAD, name="probe", private=private)
    command = Command(
        ev.Source("api", f"open-{uuid.uuid4()}", "open"),
        [OpenRun(f"api:test:{uuid.uuid4().hex}", spec)],
    )
    return (await commit(bot.app, command)).opened[0]  # type: ignore[arg-type]


async def mixed_runs(bot: Bot) -> dict[str, tuple[str, int, bool]]:
    """Public and private runs interleaved across repositories: id → (repo, pr, public)."""
    runs: dict[str, tuple[str, int, bool]] = {}
    for pr in (1, 2):
        runs[await open_pr(bot, pr, repo=PRIVATE, private=True)] = (PRIVATE, pr, False)
        runs[await open_pr(bot, pr)] = (REPO, pr, True)
        runs[await open_run(bot, PRIVATE, pr, True)] = (PRIVATE, pr, False)
        runs[await open_run(bot, ALSO_PRIVATE, pr, True)] = (ALSO_PRIVATE, pr, False)
        runs[await open_agent_run(bot, pr=pr)] = (REPO, pr, True)
        runs[await open_run(bot, UNKNOWN, pr, None)] = (UNKNOWN, pr, False)  # unknown: private
    await close_pr(bot, 2, repo=PRIVATE)
    await close_pr(bot, 1)
    return runs


async def fetch(bot: Bot, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    assert bot.session is not None
    async with bot.session.get(bot.url + path, headers=headers or {}) as response:
        return response.status, await response.read()


def with_token(path: str, token: str | None) -> str:
    if token is None:
        return path
    return path + ("&" if "?" in path else "?") + f"t={token}"


def filters() -> Iterable[str]:
    repos = [None, REPO, REPO.upper(), PRIVATE, ALSO_PRIVATE, UNKNOWN, "nobody/none"]
    for repo, pr, kind, status, since, limit in itertools.product(
        repos, [None, 1, 2], [None, "agent"], [None, "merged"], [None, "2019-05-16"], [1, 3]
    ):
        if pr is not None and repo is None:
            continue
        parts = {"repo": repo, "pr": pr, "kind": kind, "status": status, "since": since}
        query = "&".join(f"{k}={v}" for k, v in parts.items() if v is not None)
        yield f"{query}&limit={limit}" if query else f"limit={limit}"


async def walk(bot: Bot, token: str | None, runs: dict[str, Any]) -> dict[str, Any]:
    """Every answer the caller gets: each filter walked through its cursors, every run's
    API, events, NDJSON, pages and live fragment, each PR's page and summary."""
    seen: dict[str, Any] = {}
    for query in filters():
        cursor, pages = None, 0
        while True:
            path = with_token(f"/api/runs?{query}" + (f"&cursor={cursor}" if cursor else ""), token)
            status, body = await fetch(bot, path)
            seen[path] = (status, body)
            assert status == 200, (path, body)
            cursor = json.loads(body)["next_cursor"]
            pages += 1
            assert pages <= len(runs) + 1
            if cursor is None:
                break
    for run_id in [*runs, NEVER]:
        for path in (
            f"/api/runs/{run_id}",
            f"/api/runs/{run_id}/events",
            f"/api/runs/{run_id}/events?format=ndjson",
            f"/runs/{run_id}",
            f"/runs/{run_id}/live",
        ):
            seen[with_token(path, token)] = await fetch(bot, with_token(path, token))
    for repo, pr in {(r, p) for r, p, _ in runs.values()} | {("nobody/none", 1)}:
        for path in (f"/repos/{repo}/pull/{pr}", f"/api/summary?repo={repo}&pr={pr}"):
            seen[with_token(path, token)] = await fetch(bot, with_token(path, token))
    return seen


async def delete_runs(bot: Bot, ids: list[str]) -> None:
    """Make the twin: the same database without these runs."""
    url = bot.env.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("DELETE FROM events WHERE run_id = ANY($1::text[])", ids)
            await conn.execute("DELETE FROM runs WHERE id = ANY($1::text[])", ids)
        finally:
            await conn.close()
        return
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.executemany("DELETE FROM events WHERE run_id = ?", [(i,) for i in ids])
        conn.executemany("DELETE FROM runs WHERE id = ?", [(i,) for i in ids])


def hidden_ids_absent(seen: dict[str, Any], hidden: list[str]) -> None:
    for path, (_status, body) in seen.items():
        for run_id in hidden:
            if run_id in path:
                continue  # the probe itself names it
            assert run_id.encode() not in body, (path, run_id)


@pytest.mark.parametrize("caller", ["anonymous", "pr-token"])
async def test_probing_private_runs_finds_nothing_and_pages_equal_the_twins(
    make_bot: Any, store_env: dict[str, str], caller: str
) -> None:
    served = await make_bot(**store_env)
    runs = await mixed_runs(served)
    token = None
    opened: set[str] = set()
    if caller == "pr-token":
        key = served.env.get("AUDIT_LINK_KEY") or SECRET
        token = pr_link_token(key, PRIVATE, 1)
        opened = {i for i, (repo, pr, _) in runs.items() if (repo, pr) == (PRIVATE, 1)}
        assert len(opened) == 2
    hidden = [i for i, (_, _, public) in runs.items() if not public and i not in opened]

    await served.settle()  # every summary written
    await served.restart()  # pages start from a cold verification cache, as the twin's do
    before = await walk(served, token, runs)
    hidden_ids_absent(before, hidden)
    for path, (status, _body) in before.items():
        if any(run_id in path for run_id in hidden):
            assert status == 404, path  # a private run is a missing run
    if token is not None:  # the token opens its PR, listed as its "all runs" link lists it
        status, body = before[with_token(f"/api/runs?repo={PRIVATE}&pr=1&limit=3", token)]
        assert all(i.encode() in body for i in opened)

    await delete_runs(served, hidden)
    await served.restart()
    after = await walk(served, token, runs)
    assert before.keys() == after.keys()
    differ = [path for path in before if before[path] != after[path]]
    assert differ == [], differ[:5]


async def test_a_pruned_private_run_is_a_missing_run_to_who_could_not_read_it(
    make_bot: Any,
) -> None:
    bot = await make_bot(AUDIT_RETENTION_DAYS="30")
    secret = await open_pr(bot, 5, repo=PRIVATE, private=True)
    await close_pr(bot, 5, repo=PRIVATE)
    public = await open_pr(bot, 6)
    await close_pr(bot, 6)
    pruned = await prune_once(bot.app, now=time.time() + 31 * DAY)
    assert {p.run_id for p in pruned} == {secret, public}

    never = new_run_id()
    for suffix in ("", "/events", "/events?format=ndjson"):
        missing = await fetch(bot, f"/api/runs/{never}{suffix}")
        assert missing[0] == 404
        gone = await fetch(bot, f"/api/runs/{secret}{suffix}")
        assert gone == (404, missing[1].replace(never.encode(), secret.encode()))
        assert (await fetch(bot, f"/api/runs/{public}{suffix}"))[0] == 410
    page = await fetch(bot, f"/runs/{secret}")
    assert page == (404, (await fetch(bot, f"/runs/{never}"))[1])
    # who could have read it still learns when and why
    token = pr_link_token(bot.env.get("AUDIT_LINK_KEY") or SECRET, PRIVATE, 5)
    status, body = await bot.request("GET", f"/api/runs/{secret}?t={token}")
    assert status == 410 and body["head_hash"]
    # a run pruned before its visibility was kept counts as private
    with sqlite3.connect(bot.env["DATABASE_URL"].removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE pruned_runs SET private = NULL WHERE run_id = ?", (public,))
    assert (await fetch(bot, f"/api/runs/{public}"))[0] == 404


async def test_outbox_without_the_admin_token_names_no_repository(make_bot: Any) -> None:
    for env in ({}, {"GITHUB_WEBHOOK_SECRET": "", "GITHUB_TOKEN": ""}):
        bot = await make_bot(**env)
        await open_pr(bot, 3, repo=PRIVATE, private=True)
        status, body = await fetch(bot, "/api/outbox")
        assert status == 200
        assert PRIVATE.encode() not in body.lower() and b"failures" not in body


def test_an_anonymous_page_reads_only_public_rows_by_index() -> None:
    """EXPLAIN QUERY PLAN: every filter an anonymous caller can send is served by the
    partial indexes on public runs, so hidden runs are never scanned."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate_sqlite(conn)
    q = sql.Dialect(parameter="?", case_fold="{}")
    for repo, pr, kind, since in itertools.product(
        [None, "a/b"], [None, 3], [None, "pr"], [None, "2020-01-01"]
    ):
        if pr is not None and repo is None:
            continue
        where = RunFilter(repo=repo, pr=pr, kind=kind, since=since, before="x", readable=())
        statement, params = sql.runs_query(where)
        plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + q(statement), params))
        assert "USING INDEX runs_public" in plan, (where, plan)
