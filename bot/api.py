"""The JSON API for reading runs and their trails."""

from __future__ import annotations

from aiohttp import web

from bot import keys
from bot.errors import error
from bot.ids import is_run_id
from bot.store.base import RunFilter

MAX_LIMIT = 200


def _int_param(
    request: web.Request, name: str, default: int | None, low: int, high: int
) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(reason=f"{name} must be an integer") from None
    if not low <= value <= high:
        raise web.HTTPBadRequest(reason=f"{name} must be between {low} and {high}")
    return value


async def list_runs(request: web.Request) -> web.Response:
    where = RunFilter(
        repo=request.query.get("repo"),
        pr=_int_param(request, "pr", None, 1, 2**31),
        kind=request.query.get("kind"),
        status=request.query.get("status"),
        since=request.query.get("since"),
        before=request.query.get("cursor"),
        limit=_int_param(request, "limit", 50, 1, MAX_LIMIT) or 50,
    )
    runs = await request.app[keys.STORE].list_runs(where)
    cursor = runs[-1]["id"] if len(runs) == where.limit else None
    return web.json_response({"runs": runs, "next_cursor": cursor})


async def get_run(request: web.Request) -> web.Response:
    run_id = request.match_info["run_id"]
    run = await request.app[keys.STORE].get_run(run_id) if is_run_id(run_id) else None
    if run is None:
        return error(404, "no such run")
    return web.json_response(run)


async def run_events(request: web.Request) -> web.Response:
    run_id = request.match_info["run_id"]
    store = request.app[keys.STORE]
    if not is_run_id(run_id) or await store.get_run(run_id) is None:
        return error(404, "no such run")
    after = _int_param(request, "after", 0, 0, 2**62) or 0
    limit = _int_param(request, "limit", None, 1, 10_000)
    events = await store.get_events(run_id, after, limit)
    return web.json_response({"run_id": run_id, "events": [e.as_dict() for e in events]})


async def pr_summary(request: web.Request) -> web.Response:
    """What the bot posted (or, in dry run, would post) on a PR."""
    repo = request.query.get("repo")
    pr = _int_param(request, "pr", None, 1, 2**31)
    if not repo or pr is None:
        return error(400, "repo and pr are required")
    record = await request.app[keys.STORE].get_comment(repo, pr)
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
