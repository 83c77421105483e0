"""HTTP handlers for the run and PR pages, their live fragment and their assets."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from cachetools import LRUCache

from bot import keys
from bot.http import params as query
from bot.http.access import (
    LINK_PARAM,
    Reader,
    is_public,
    readable_run,
    reader_for,
    visible_runs,
)
from bot.http.errors import ApiError, add_html_errors
from bot.http.off_loop import json_answer, off_loop
from bot.store.base import LogStore, RunFilter
from bot.web import render
from bot.web.cells import with_param
from bot.web.html import Markup
from bot.web.run_view import LogMark
from bot.web.verified import VERIFIED, VerifiedTrails
from bot.workers.scan import SCAN_POOL, divergence

MAX_ROWS = 1000  # timeline rows on a page; the whole trail is one NDJSON link away
PR_PAGES = 5  # pages of 200 runs shown on a PR page
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",  # link tokens in our URLs must not leak to GitHub
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
PAGE_CACHE_BYTES = 32 * 2**20  # rendered run pages kept, so a page asked for again is free
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


class Static:
    """The bot's own assets, read once; URLs carry a content hash so caches stay right."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str, str]] = {}
        folder = resources.files("bot.web") / "static"
        for entry in folder.iterdir():
            suffix = "." + entry.name.rsplit(".", 1)[-1]
            if suffix in STATIC_TYPES:
                body = entry.read_bytes()
                digest = hashlib.sha256(body).hexdigest()[:12]
                self.files[entry.name] = (body, STATIC_TYPES[suffix], digest)
        self.assets = render.Assets(css=self.url("audit.css"), js=self.url("live.js"))

    def url(self, name: str) -> str:
        return f"/static/{name}?v={self.files[name][2]}"

    async def serve(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["name"])
        if found is None:
            raise ApiError(404, "no such asset")
        body, content_type, digest = found
        etag = f'"{digest}"'
        cache = (
            "public, max-age=31536000, immutable"
            if request.query.get("v") == digest
            else "no-cache"
        )
        headers = {"ETag": etag, "Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers={**headers, "Content-Type": content_type})


STATIC = web.AppKey("static_assets", Static)


def html(markup: Markup, status: int = 200) -> web.Response:
    return web.Response(
        text=markup,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers=SECURITY_HEADERS,
    )


NO_SUCH_RUN = ("No such run", "There is no run with this ID you may read.")


def _page_text(request: web.Request, exc: ApiError) -> tuple[str, str]:
    """The heading and the sentence an error page shows for `exc`."""
    if exc.title is not None:
        return exc.title, exc.message
    if exc.status == 400:
        return "Bad request", exc.message
    if exc.status == 410:
        run_id = request.match_info.get("run_id")
        when = render.when(exc.fields.get("pruned_at"))
        reason = exc.fields.get("reason")
        detail = f"Run {run_id} was removed by retention at {when} UTC: {reason}."
        return "This run was removed", detail
    return NO_SUCH_RUN


def html_errors(request: web.Request, exc: ApiError) -> web.Response | None:
    """Refusals of the HTML pages as pages; None leaves the JSON answer (fragments, assets)."""
    if request.match_info.handler not in (run_page, pr_page):
        return None
    heading, detail = _page_text(request, exc)
    page = render.error_page(exc.status, heading, detail, request.app[STATIC].assets)
    return html(page, exc.status)


async def _readable(request: web.Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The run if this caller may read it (`bot.http.access`'s rule); else an `ApiError`."""
    query.reject_unknown(request.query, allowed)
    return await readable_run(request, request.match_info["run_id"])


async def _view(request: web.Request, state: dict[str, Any]) -> render.RunView:
    """Verify and refold the trail and pair it with the projection it matches.

    A render after the first reads the new events only, when `bot/web/verified.py` allows.
    """
    store = request.app[keys.STORE]
    run_id = state["id"]
    whole = False
    for _ in range(3):  # a commit between the scan and the read is a race, not a break
        scan, spend = await request.app[VERIFIED].scan(
            store, run_id, MAX_ROWS, whole=whole, executor=request.app.get(SCAN_POOL)
        )
        latest = await store.get_run(run_id)
        state = latest or state
        problem = divergence(scan, latest)
        if problem is None or scan.chain_break is not None or latest is None:
            break
        recorded = int(latest.get("seq") or 0)
        if recorded > scan.count:
            continue  # committed since: the next pass reads the new events too
        if scan.continued_after:
            whole = True  # only a pass over the whole trail may report a divergence
            continue
        if recorded == scan.count:
            break
    reader = await reader_for(request)
    suffix = reader.run_query(state)
    pr_link = None
    if state.get("repo") and state.get("pr") is not None:
        pr_suffix = reader.pr_query(state["repo"], int(state["pr"]), not is_public(state))
        pr_link = f"/repos/{state['repo']}/pull/{state['pr']}{pr_suffix}"
    return render.RunView(
        state=state,
        recent=list(scan.recent),
        spend=spend,
        count=scan.count,
        verified=scan.verified,
        problem=problem,
        github=render.github_web(request.app[keys.SETTINGS].api_url),
        pr_link=pr_link,
        events_url=f"/api/runs/{run_id}/events{suffix}",
        live_url=f"/runs/{run_id}/live{suffix}",
        continued_after=scan.continued_after,
        rehash_bound=request.app[VERIFIED].max_age,
        log=await _log_mark(store, state, suffix),
    )


async def _log_mark(store: LogStore, state: dict[str, Any], suffix: str) -> LogMark:
    """The latest signed checkpoint if it includes the run's head event (whose leaf binds
    the whole trail), with the link to that inclusion proof; else "not yet" (None)."""
    seq = int(state.get("seq") or 0)
    index = await store.leaf_index(state["id"], seq) if seq else None
    if index is None:
        return LogMark(None)  # the integrator has not taken the head in yet
    latest = await store.latest_checkpoint()
    if latest is None or latest.size <= index:
        return LogMark(None)  # taken in, not yet signed
    proof = with_param(f"/api/runs/{state['id']}/proof{suffix}", f"tree_size={latest.size}")
    return LogMark(latest.size, latest.created_at, proof)


RENDERED: web.AppKey[LRUCache[tuple[Any, ...], Markup]] = web.AppKey("rendered_run_pages")


def _page_key(view: render.RunView) -> tuple[Any, ...]:
    """Everything a run page is rendered from; equal keys render the same bytes.

    The timeline, totals and chart follow from the events counted; the state is hashed
    whole (it is bounded) so a projection that changed without a new event still shows.
    """
    state = hashlib.sha256(json.dumps(view.state, sort_keys=True, default=str).encode())
    return (
        state.digest(),
        view.count,
        view.verified,
        view.problem,
        view.continued_after,
        view.rehash_bound,
        view.github,
        view.pr_link,
        view.events_url,
        view.live_url,
        view.log,
    )


async def run_page(request: web.Request) -> web.Response:
    state = await _readable(request, (LINK_PARAM,))
    view = await _view(request, state)
    rendered = request.app[RENDERED]
    key = _page_key(view)
    page = rendered.get(key)
    if page is None:
        # Up to MAX_ROWS rows, the charts and tables: rendered off the event loop, once
        # per change of the run (a page asked for again, by anyone, costs a lookup).
        page = await off_loop(render.run_page, view, request.app[STATIC].assets)
        rendered[key] = page
    return html(page)


async def run_live(request: web.Request) -> web.Response:
    """The parts of the run page that change, for the page's live updates (JSON)."""
    state = await _readable(request, (LINK_PARAM, "after"))
    after = query.integer(request.query.get("after"), "after", 0, 2**62, 0)
    view = await _view(request, state)
    newer = [e for e in view.recent if e.seq > after]
    return await json_answer(
        lambda: {
            "seq": view.count,
            "count": render.count_text(view.count),
            "open": view.state.get("ended_at") is None,
            "panel": render.run_panel(view),
            "rows": render.timeline_rows(newer, view.state, view.github),
        },
        headers={"Cache-Control": "no-store"},
    )


async def pr_page(request: web.Request) -> web.Response:
    repo = f"{request.match_info['owner']}/{request.match_info['repo']}"
    query.reject_unknown(request.query, (LINK_PARAM,))
    query.repo(repo, "repository")
    pr = query.integer(request.match_info["number"], "pull request number", 1, 2**31)
    reader = await reader_for(request)
    runs, more = await _pr_runs(request, repo, pr, reader)
    if not runs:
        raise ApiError(404, f"No runs you may read are recorded for {repo}#{pr}.", title="No runs")
    links = {r["id"]: f"/runs/{r['id']}{reader.run_query(r)}" for r in runs}
    github = render.github_web(request.app[keys.SETTINGS].api_url)
    repo = str(runs[0].get("repo") or repo)
    # the repository's spend page, carrying a PR token so that PR's private spend shows
    repo_link = f"/repos/{repo}" + (
        f"?{urlencode({LINK_PARAM: reader.token})}" if reader.token else ""
    )
    assets = request.app[STATIC].assets
    return html(render.pr_page(repo, pr, runs, links, github, assets, more, repo_link))


async def _pr_runs(
    request: web.Request, repo: str, pr: int, reader: Reader
) -> tuple[list[dict[str, Any]], bool]:
    store = request.app[keys.STORE]
    runs: list[dict[str, Any]] = []
    cursor = None
    for _ in range(PR_PAGES):
        page, cursor = await visible_runs(
            store, RunFilter(repo=repo, pr=pr, before=cursor, limit=200), reader
        )
        runs.extend(page)
        if cursor is None:
            return runs, False
    return runs, True


def setup_static(app: web.Application) -> None:
    """The stylesheet and scripts, which the pages and `/setup` both use."""
    app[STATIC] = Static()
    app.router.add_get("/static/{name}", app[STATIC].serve)


def setup(app: web.Application) -> None:
    """The run and PR pages (after `setup_static`)."""
    app[VERIFIED] = VerifiedTrails()
    app[RENDERED] = LRUCache(maxsize=PAGE_CACHE_BYTES, getsizeof=len)
    add_html_errors(app, html_errors)
    app.router.add_get("/runs/{run_id}", run_page)
    app.router.add_get("/runs/{run_id}/live", run_live)
    app.router.add_get(r"/repos/{owner}/{repo}/pull/{number}", pr_page)
