"""CI on a PR's head: workflow runs, jobs and check suites join the PR run."""

from __future__ import annotations

from gidgethub import routing, sansio

from bot.handlers.context import Plan, repo_of
from bot.handlers.payload import need, opt
from bot.trail import events as ev
from bot.trail.intents import Append, LatestByHead
from bot.trail.rates import job_cost
from bot.trail.validation import InvalidInput

router = routing.Router()


@router.register("workflow_run")
async def workflow_run(event: sansio.Event, plan: Plan) -> None:
    data = event.data
    head_sha = need(data, "workflow_run.head_sha")
    update = ev.NewEvent(
        ev.CI_WORKFLOW_RUN,
        {
            "id": need(data, "workflow_run.id", int),
            "name": opt(data, "workflow_run.name"),
            "status": need(data, "workflow_run.status"),
            "conclusion": opt(data, "workflow_run.conclusion"),
            "html_url": opt(data, "workflow_run.html_url"),
            "run_attempt": opt(data, "workflow_run.run_attempt", int),
            "event": opt(data, "workflow_run.event"),
            "started_at": opt(data, "workflow_run.run_started_at")
            or opt(data, "workflow_run.created_at"),
            "updated_at": opt(data, "workflow_run.updated_at"),
        },
        at=opt(data, "workflow_run.updated_at"),
    )
    plan.add(Append(LatestByHead(repo_of(data), head_sha), [update]))


@router.register("workflow_job")
async def workflow_job(event: sansio.Event, plan: Plan) -> None:
    data = event.data
    need(data, "workflow_job", dict)
    labels = opt(data, "workflow_job.labels", list) or []
    job = {
        "id": need(data, "workflow_job.id", int),
        "run_id": opt(data, "workflow_job.run_id", int),
        "name": opt(data, "workflow_job.name"),
        "status": need(data, "workflow_job.status"),
        "conclusion": opt(data, "workflow_job.conclusion"),
        "labels": [str(label) for label in labels],
        "runner_name": opt(data, "workflow_job.runner_name"),
        "started_at": opt(data, "workflow_job.started_at"),
        "completed_at": opt(data, "workflow_job.completed_at"),
        "html_url": opt(data, "workflow_job.html_url"),
    }
    at = job["completed_at"] or job["started_at"] or opt(data, "workflow_job.created_at")
    record = ev.NewEvent(ev.CI_WORKFLOW_JOB, job, at=at)
    events = [record]
    cost = _job_spend(data, plan)
    if cost is not None:
        events.append(ev.NewEvent(ev.SPEND, cost, at=record.at))
    completed = record.data["id"] if record.data["status"] == "completed" else None
    target = LatestByHead(repo_of(data), need(data, "workflow_job.head_sha"))
    plan.add(Append(target, events, unless_job_completed=completed))


def _job_spend(data: dict, plan: Plan) -> dict | None:
    """The `ci` spend of a completed job: whole minutes × its runner's per-minute rate.

    None when the job did not run (0 minutes), its runner has no known rate, or its
    times are unusable; the job itself is still recorded either way.
    """
    if opt(data, "workflow_job.status") != "completed":
        return None
    labels = opt(data, "workflow_job.labels", list) or []
    try:
        cost = job_cost(
            [str(label) for label in labels],
            opt(data, "workflow_job.started_at"),
            opt(data, "workflow_job.completed_at"),
            private=opt(data, "repository.private", bool) is not False,
            overrides=plan.options.ci_rates,
        )
    except InvalidInput:
        return None
    if cost is None or not cost["minutes"]:
        return None
    name = opt(data, "workflow_job.name") or "job"
    return {
        "amount": cost["amount"],
        "currency": cost["currency"],
        "category": "ci",
        "description": f"{name[:200]}: {cost['minutes']} min × {cost['rate']} ({cost['sku']})",
        "job_id": need(data, "workflow_job.id", int),
        "minutes": cost["minutes"],
        "sku": cost["sku"],
        "rate": cost["rate"],
    }


@router.register("check_suite")
async def check_suite(event: sansio.Event, plan: Plan) -> None:
    data = event.data
    record = ev.NewEvent(
        ev.CI_CHECK_SUITE,
        {
            "id": need(data, "check_suite.id", int),
            "app": opt(data, "check_suite.app.slug"),
            "status": opt(data, "check_suite.status"),
            "conclusion": opt(data, "check_suite.conclusion"),
            "updated_at": opt(data, "check_suite.updated_at"),
        },
        at=opt(data, "check_suite.updated_at"),
    )
    plan.add(Append(LatestByHead(repo_of(data), need(data, "check_suite.head_sha")), [record]))
