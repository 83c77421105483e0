"""The JSON API for reading runs and their trails."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web

from bot import keys
from bot.http import openapi, streams
from bot.http import params as query
from bot.http.access import LINK_PARAM, Reader, is_public, reader_for
from bot.http.errors import error
from bot.ids import is_run_id
from bot.store.base import RunFilter
from bot.trail.budget import run_over_budget
from bot.trail.proofs import explorer_url
from bot.trail.state import State
from bot.workers.retention import missing_run

MAX_LIMIT = 200


LIST_PARAMS = ("repo", "pr", "kind", "status", "since", "cursor", "limit", LINK_PARAM)
EVENT_PARAMS = ("after", "limit", "format", LINK_PARAM)
SUMMARY_PARAMS = ("repo", "pr", LINK_PARAM)
JSON_EVENTS_DEFAULT = 1000
JSON_EVENTS_MAX = 10_000
SCAN_ROUNDS = 10  # pages of hidden (private) runs skipped before answering a short page
NDJSON = "application/x-ndjson"
SSE = "text/event-stream"


async def list_runs(request: web.Request) -> web.Response:
    """Runs newest first; a page holds only runs the caller may read."""
    try:
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
    except query.BadParameter as exc:
        return exc.response()
    reader = await reader_for(request)
    runs, cursor = await visible_runs(request.app[keys.STORE], where, reader)
    return web.json_response(
        {"runs": [with_links(run, reader) for run in runs], "next_cursor": cursor}
    )


async def visible_runs(
    store: Any, where: RunFilter, reader: Reader, rounds: int = SCAN_ROUNDS
) -> tuple[list[State], str | None]:
    """Up to `where.limit` readable runs, and the cursor for the next page.

    One readable run past the page is looked for, so a page that ends the list
    says so (no cursor) instead of sending the client to fetch an empty page.
    """
    found: list[State] = []
    before = where.before
    wanted = where.limit + 1
    for _ in range(rounds):
        batch = await store.list_runs(replace(where, before=before, limit=wanted))
        for run in batch:
            before = run["id"]
            if reader.may_read(run):
                found.append(run)
                if len(found) == wanted:
                    return found[:-1], found[-2]["id"]
        if len(batch) < wanted:
            return found, None
    return found, before


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


async def readable_run(request: web.Request, run_id: str) -> State | web.Response:
    """The run if this caller may read it; else the 404 (or 410 if pruned) to send."""
    store = request.app[keys.STORE]
    if not is_run_id(run_id):
        return error(404, "no such run")
    run = await store.get_run(run_id)
    if run is None:  # 410 when retention removed it
        return await missing_run(store, run_id)
    if not (await reader_for(request)).may_read(run):
        return error(404, "no such run")
    return run


async def get_run(request: web.Request) -> web.Response:
    """The run's state (the fold of its trail), with budget status and proof links."""
    try:
        query.reject_unknown(request.query, (LINK_PARAM,))
    except query.BadParameter as exc:
        return exc.response()
    run = await readable_run(request, request.match_info["run_id"])
    if isinstance(run, web.StreamResponse):
        return run
    body = with_links(run, await reader_for(request))
    body["over_budget"] = run_over_budget(run)
    body["proofs"] = [
        {**proof, "explorer_url": explorer_url(str(proof.get("network")), proof.get("tx"))}
        for proof in run.get("proofs") or []
    ]
    return web.json_response(body)


async def run_events(request: web.Request) -> web.StreamResponse:
    """The trail: JSON pages, an NDJSON stream, or a live SSE tail (by `Accept`)."""
    try:
        q = request.query
        query.reject_unknown(q, EVENT_PARAMS)
        after = query.integer(q.get("after"), "after", 0, 2**62, 0)
        fmt = _event_format(request)
        if fmt == "sse" and request.headers.get("Last-Event-ID"):
            after = query.integer(request.headers["Last-Event-ID"], "Last-Event-ID", 0, 2**62)
        high = JSON_EVENTS_MAX if fmt == "json" else 2**62
        limit = query.integer(q.get("limit"), "limit", 1, high)
    except query.BadParameter as exc:
        return exc.response()
    run_id = request.match_info["run_id"]
    run = await readable_run(request, run_id)
    if isinstance(run, web.StreamResponse):
        return run
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
    """What the bot posted (or, in dry run, would post) on a PR."""
    try:
        q = request.query
        query.reject_unknown(q, SUMMARY_PARAMS)
        repo = query.repo(q.get("repo"))
        pr = query.integer(q.get("pr"), "pr", 1, 2**31)
        if repo is None or pr is None:
            raise query.BadParameter("repo" if repo is None else "pr", "is required")
    except query.BadParameter as exc:
        return exc.response()
    store = request.app[keys.STORE]
    latest = await store.list_runs(RunFilter(repo=repo, pr=pr, limit=1))
    hidden = bool(latest) and not is_public(latest[0])
    if hidden and not (await reader_for(request)).may_read_pr(repo, pr):
        latest = []  # a private PR's summary is as closed as its runs: 404, not 403
    record = await store.get_comment(repo, pr) if latest else None
    if record is None:
        return error(404, "no summary for that pull request yet")
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
    app.router.add_get("/api/openapi.json", openapi.serve)
    streams.setup(app)
