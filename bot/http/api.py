"""The JSON API for reading runs and their trails."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from bot import keys
from bot.http import params as query
from bot.http import streams
from bot.http.access import (
    LINK_PARAM,
    Reader,
    may_read_pr,
    readable_run,
    reader_for,
    visible_runs,
)
from bot.http.errors import ApiError
from bot.http.off_loop import json_answer
from bot.store.base import RunFilter
from bot.trail.budget import run_over_budget
from bot.trail.proofs import explorer_url
from bot.trail.state import State

MAX_LIMIT = 200


LIST_PARAMS = ("repo", "pr", "kind", "status", "since", "cursor", "limit", LINK_PARAM)
EVENT_PARAMS = ("after", "limit", "format", LINK_PARAM)
SUMMARY_PARAMS = ("repo", "pr", "wait", "format", LINK_PARAM)
SUMMARY_MAX_WAIT = 10  # seconds `wait=` may hold a request
SUMMARY_POLL = 0.2  # seconds between two looks while waiting
JSON_EVENTS_DEFAULT = 1000
JSON_EVENTS_MAX = 10_000
NDJSON = "application/x-ndjson"
SSE = "text/event-stream"


async def list_runs(request: web.Request) -> web.Response:
    """Runs newest first; a page holds only runs the caller may read."""
    q = request.query
    query.reject_unknown(q, LIST_PARAMS)
    where = RunFilter(
        repo=query.repo(q.get("repo")),
        pr=query.integer(q.get("pr"), "pr", 1, 2**31),
        kind=query.word(q.get("kind"), "kind"),
        status=query.word(q.get("status"), "status"),
        since=query.moment(q.get("since"), "since"),
        before=query.run_id(q.get("cursor"), "cursor"),
        limit=query.integer(q.get("limit"), "limit", 1, MAX_LIMIT, 50),
    )
    if where.pr is not None and where.repo is None:
        raise query.BadParameter("pr", "needs repo (a PR number alone names nothing)")
    reader = await reader_for(request)
    runs, cursor = await visible_runs(request.app[keys.STORE], where, reader)
    return web.json_response(
        {"runs": [with_links(run, reader) for run in runs], "next_cursor": cursor}
    )


def with_links(run: State, reader: Reader) -> dict[str, Any]:
    """A run as the API shows it: its state plus where to read more."""
    suffix = reader.run_query(run)
    return {
        **run,
        "links": {
            "self": f"/api/runs/{run['id']}{suffix}",
            "events": f"/api/runs/{run['id']}/events{suffix}",
            "page": f"/runs/{run['id']}{suffix}",
        },
    }


async def get_run(request: web.Request) -> web.Response:
    """The run's state (the fold of its trail), with budget status and proof links."""
    query.reject_unknown(request.query, (LINK_PARAM,))
    run = await readable_run(request, request.match_info["run_id"])
    reader = await reader_for(request)

    def build() -> dict[str, Any]:  # proportional to the run's state: off the loop
        body = with_links(run, reader)
        body["over_budget"] = run_over_budget(run)
        body["proofs"] = [
            {**proof, "explorer_url": explorer_url(str(proof.get("network")), proof.get("tx"))}
            for proof in run.get("proofs") or []
        ]
        return body

    return await json_answer(build)


async def run_events(request: web.Request) -> web.StreamResponse:
    """The trail: JSON pages, an NDJSON stream, or a live SSE tail (by `Accept`)."""
    q = request.query
    query.reject_unknown(q, EVENT_PARAMS)
    after = query.integer(q.get("after"), "after", 0, 2**62, 0)
    fmt = _event_format(request)
    if fmt == "sse" and request.headers.get("Last-Event-ID"):
        after = query.integer(request.headers["Last-Event-ID"], "Last-Event-ID", 0, 2**62)
    high = JSON_EVENTS_MAX if fmt == "json" else 2**62
    limit = query.integer(q.get("limit"), "limit", 1, high)
    run_id = request.match_info["run_id"]
    await readable_run(request, run_id)
    if fmt == "ndjson":
        return await streams.ndjson(request, run_id, after, limit)
    if fmt == "sse":
        return await streams.sse(request, run_id, after)
    limit = limit or JSON_EVENTS_DEFAULT
    events = await request.app[keys.STORE].get_events(run_id, after, limit + 1)
    more = len(events) > limit
    events = events[:limit]
    return web.json_response(
        {
            "run_id": run_id,
            "events": [e.as_dict() for e in events],
            "next_after": events[-1].seq if more else None,
        }
    )


def _event_format(request: web.Request) -> str:
    """`format=` wins (for links and curl); else the Accept header; JSON by default."""
    fmt = request.query.get("format")
    if fmt is not None:
        if fmt not in ("json", "ndjson", "sse"):
            raise query.BadParameter("format", "must be json, ndjson or sse")
        return fmt
    accept = request.headers.get("Accept", "")
    if SSE in accept:
        return "sse"
    if NDJSON in accept:
        return "ndjson"
    return "json"


async def pr_summary(request: web.Request) -> web.Response:
    """What the bot posted (or, in dry run, would post) on a PR.

    `wait=N` (seconds, at most 10): when there is no summary yet, look again until one
    is written or N seconds pass, so a script that has just sent the PR's first webhook
    gets the comment instead of a 404 from the comment debounce. `format=markdown`:
    the body alone, as `text/markdown`, as GitHub would receive it.
    """
    q = request.query
    query.reject_unknown(q, SUMMARY_PARAMS)
    repo = query.repo(q.get("repo"))
    pr = query.integer(q.get("pr"), "pr", 1, 2**31)
    if repo is None or pr is None:
        raise query.BadParameter("repo" if repo is None else "pr", "is required")
    wait = query.integer(q.get("wait"), "wait", 0, SUMMARY_MAX_WAIT, 0)
    fmt = q.get("format", "json")
    if fmt not in ("json", "markdown"):
        raise query.BadParameter("format", "must be json or markdown")
    store = request.app[keys.STORE]
    readable = await may_read_pr(request, repo, pr)
    record = await store.get_comment(repo, pr) if readable else None
    # A caller who may not read the PR is answered at once: waiting only for readable
    # PRs tells nothing about the others.
    deadline = asyncio.get_running_loop().time() + wait
    while readable and record is None and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(SUMMARY_POLL)
        record = await store.get_comment(repo, pr)
    if record is None:
        raise ApiError(404, "no summary for that pull request yet")
    if fmt == "markdown":
        body = record.body if record.body.endswith("\n") else record.body + "\n"
        return web.Response(text=body, content_type="text/markdown", charset="utf-8")
    return web.json_response(
        {
            "repo": repo,
            "pr": pr,
            "comment_id": record.comment_id,
            "body": record.body,
            "posted_at": record.posted_at,
        }
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/runs", list_runs)
    app.router.add_get("/api/runs/{run_id}", get_run)
    app.router.add_get("/api/runs/{run_id}/events", run_events)
    app.router.add_get("/api/summary", pr_summary)
    streams.setup(app)
