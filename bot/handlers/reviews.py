"""Review requests and reviews → review runs: one per (PR, reviewer) request."""

from __future__ import annotations

from gidgethub import routing, sansio

from bot.handlers.context import Plan, repo_of, spec_for_pr
from bot.handlers.payload import PayloadError, need, opt
from bot.trail import events as ev
from bot.trail.intents import Append, ByKey, OpenRun
from bot.trail.run_keys import review_run_key

router = routing.Router()

REVIEW_RUN = "review"


def _requested_reviewer(data: dict) -> str:
    """A user login, or `team:<slug>` for a team request."""
    login = opt(data, "requested_reviewer.login")
    if login:
        return login
    team = opt(data, "requested_team.slug")
    if team:
        return f"team:{team}"
    raise PayloadError("requested_reviewer.login", "a string (or requested_team.slug)")


@router.register("pull_request", action="review_requested")
async def review_requested(event: sansio.Event, plan: Plan) -> None:
    data = event.data
    reviewer = _requested_reviewer(data)
    spec = spec_for_pr(data, REVIEW_RUN, name=reviewer, reviewer=reviewer)
    assert spec.pr is not None
    at = opt(data, "pull_request.updated_at")
    plan.add(
        OpenRun(
            review_run_key(spec.repo, spec.pr, reviewer),
            spec,
            [ev.NewEvent(ev.REVIEW_REQUESTED, {"reviewer": reviewer}, at=at)],
            opened_at=at,
        )
    )


@router.register("pull_request", action="review_request_removed")
async def review_request_removed(event: sansio.Event, plan: Plan) -> None:
    data = event.data
    reviewer = _requested_reviewer(data)
    key = review_run_key(repo_of(data), need(data, "pull_request.number", int), reviewer)
    at = opt(data, "pull_request.updated_at")
    plan.add(
        Append(
            ByKey(key, open_only=True),
            [
                ev.NewEvent(
                    ev.RUN_CLOSED, {"status": "cancelled", "reason": "request removed"}, at=at
                )
            ],
        )
    )


@router.register("pull_request_review", action="submitted")
async def review_submitted(event: sansio.Event, plan: Plan) -> None:
    """A submitted review closes the reviewer's open run (or a run opened for it)."""
    data = event.data
    reviewer = need(data, "review.user.login")
    spec = spec_for_pr(data, REVIEW_RUN, name=reviewer, reviewer=reviewer)
    assert spec.pr is not None
    at = opt(data, "review.submitted_at")
    submitted = ev.NewEvent(
        ev.REVIEW_SUBMITTED,
        {
            "reviewer": reviewer,
            "state": need(data, "review.state"),
            "review_id": opt(data, "review.id", int),
            "commit_id": opt(data, "review.commit_id"),
            "html_url": opt(data, "review.html_url"),
        },
        at=at,
    )
    plan.add(OpenRun(review_run_key(spec.repo, spec.pr, reviewer), spec, [submitted], opened_at=at))


@router.register("pull_request_review", action="dismissed")
async def review_dismissed(event: sansio.Event, plan: Plan) -> None:
    data = event.data
    reviewer = need(data, "review.user.login")
    key = review_run_key(repo_of(data), need(data, "pull_request.number", int), reviewer)
    dismissed = ev.NewEvent(
        ev.REVIEW_DISMISSED,
        {"reviewer": reviewer, "review_id": opt(data, "review.id", int)},
        at=opt(data, "pull_request.updated_at"),
    )
    plan.add(Append(ByKey(key), [dismissed]))
