"""Pull request lifecycle → PR runs: one per (repository, PR, head SHA)."""

from __future__ import annotations

from gidgethub import routing, sansio

from bot.handlers.context import Plan, repo_of, spec_for_pr
from bot.handlers.payload import need, opt
from bot.trail import events as ev
from bot.trail.intents import Append, OpenRun, OpenRunsOfPR
from bot.trail.run_keys import pr_run_key

router = routing.Router()

PR_RUN = "pr"


@router.register("pull_request", action="opened")
@router.register("pull_request", action="reopened")
@router.register("pull_request", action="synchronize")
@router.register("pull_request", action="ready_for_review")
async def open_pr_run(event: sansio.Event, plan: Plan) -> None:
    """Open the run for the PR's head; a new head supersedes the previous run."""
    data = event.data
    spec = spec_for_pr(
        data,
        PR_RUN,
        name=opt(data, "pull_request.title"),
        title=opt(data, "pull_request.title"),
        url=opt(data, "pull_request.html_url"),
        author=opt(data, "pull_request.user.login"),
        base=opt(data, "pull_request.base.ref"),
        trigger=event.data["action"],
    )
    assert spec.pr is not None and spec.head_sha is not None
    at = opt(data, "pull_request.updated_at")
    superseded = ev.NewEvent(ev.RUN_SUPERSEDED, {"by_head_sha": spec.head_sha}, at=at)
    update = (
        []
        if data["action"] == "opened"
        else [ev.NewEvent(ev.PR_UPDATED, {"action": data["action"], "title": spec.name}, at=at)]
    )
    plan.add(
        Append(
            OpenRunsOfPR(
                spec.repo, spec.pr, kinds=frozenset({PR_RUN}), exclude_head_sha=spec.head_sha
            ),
            [superseded],
        ),
        OpenRun(pr_run_key(spec.repo, spec.pr, spec.head_sha), spec, update, opened_at=at),
    )


@router.register("pull_request", action="closed")
async def close_pr_runs(event: sansio.Event, plan: Plan) -> None:
    """A closed PR ends its open runs as merged or closed."""
    data = event.data
    merged = opt(data, "pull_request.merged", bool) or False
    status = "merged" if merged else "closed"
    at = opt(data, "pull_request.closed_at") or opt(data, "pull_request.updated_at")
    plan.add(
        Append(
            OpenRunsOfPR(repo_of(data), need(data, "pull_request.number", int)),
            [ev.NewEvent(ev.RUN_CLOSED, {"status": status}, at=at)],
        )
    )
