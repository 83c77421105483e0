"""CI-minute cost from `workflow_job` deliveries, with no CI changes at all."""

from __future__ import annotations

from typing import Any

from bot.handlers import plan_delivery
from bot.handlers.context import PlanOptions
from bot.trail import events as ev
from tests.support.bot import HEAD, REPO, Bot, load_payload
from tests.support.fake_github import FakeGitHub


def job(
    job_id: int,
    labels: list[str],
    started: str,
    completed: str,
    *,
    private: bool = True,
    name: str = "build",
    **changes: Any,
) -> dict[str, Any]:
    repository = {**load_payload("pull_request.opened")["repository"], "private": private}
    return load_payload(
        "workflow_job.completed",
        repository=repository,
        workflow_job__id=job_id,
        workflow_job__name=name,
        workflow_job__head_sha=HEAD,
        workflow_job__labels=labels,
        workflow_job__started_at=started,
        workflow_job__completed_at=completed,
        **changes,
    )


async def open_pr(bot: Bot, private: bool = True) -> None:
    payload = load_payload("pull_request.opened")
    payload["repository"]["private"] = private
    status, _ = await bot.deliver("pull_request", payload)
    assert status == 200


async def pr_run(bot: Bot) -> dict[str, Any]:
    [run] = [r for r in await bot.store.list_runs(_filter()) if r["kind"] == "pr"]
    return run


def _filter() -> Any:
    from bot.store.base import RunFilter

    return RunFilter(repo=REPO, pr=2)


async def test_private_repo_jobs_are_priced_per_started_minute(
    make_bot, github: FakeGitHub
) -> None:
    bot = await make_bot(AUDIT_CI_RATES="gpu-box=0.25,big-linux=linux_16_core")
    await open_pr(bot)
    deliveries = [
        # 3 min 18 s on Linux 2-core → 4 min × 0.006
        job(1, ["ubuntu-latest"], "2021-08-05T10:34:58Z", "2021-08-05T10:38:16Z"),
        # exactly 2 min on macOS → 2 × 0.062
        job(2, ["macos-14"], "2021-08-05T10:00:00Z", "2021-08-05T10:02:00Z", name="mac"),
        # 1 s on Windows → a whole minute × 0.010
        job(3, ["windows-latest"], "2021-08-05T10:00:00Z", "2021-08-05T10:00:01Z"),
        # self-hosted: GitHub's platform charge, 10 min × 0.002
        job(4, ["self-hosted", "linux"], "2021-08-05T10:00:00Z", "2021-08-05T10:10:00Z"),
        # operator overrides: a rate, and a SKU name
        job(5, ["gpu-box"], "2021-08-05T10:00:00Z", "2021-08-05T10:03:00Z"),
        job(6, ["big-linux"], "2021-08-05T10:00:00Z", "2021-08-05T10:01:30Z"),
        # an unknown custom label has no rate: recorded, not priced
        job(7, ["mystery-runner"], "2021-08-05T10:00:00Z", "2021-08-05T10:05:00Z"),
    ]
    for payload in deliveries:
        status, body = await bot.deliver("workflow_job", payload)
        assert status == 200 and body["status"] == "recorded"
    run = await pr_run(bot)
    # 0.024 + 0.124 + 0.010 + 0.020 + 0.75 + 2 × 0.042
    assert run["spend"] == {"USD": "1.012"}
    assert run["spend_by_category"] == {"ci": {"USD": "1.012"}}
    assert len(run["jobs"]) == 7

    events = await bot.store.get_events(run["id"])
    spends = [e.data for e in events if e.type == ev.SPEND]
    assert [s["job_id"] for s in spends] == [1, 2, 3, 4, 5, 6]
    assert spends[0] == {
        "amount": "0.024",
        "currency": "USD",
        "category": "ci",
        "description": "build: 4 min × 0.006 (linux)",
        "job_id": 1,
        "minutes": 4,
        "sku": "linux",
        "rate": "0.006",
    }
    assert spends[4]["sku"] == "custom:gpu-box" and spends[5]["sku"] == "linux_16_core"

    await bot.settle()
    [comment] = github.comments_on(REPO, 2)
    assert "**1.012 USD** spent by 1 run on this PR" in comment["body"]  # the headline


async def test_public_repo_standard_runners_are_free_but_recorded(bot: Bot) -> None:
    await open_pr(bot, private=False)
    await bot.deliver(
        "workflow_job",
        job(1, ["ubuntu-latest"], "2021-08-05T10:34:58Z", "2021-08-05T10:38:16Z", private=False),
    )
    run = await pr_run(bot)
    assert run["spend"] == {"USD": "0"}  # zero is an amount: CI ran, and it was free


async def test_queued_skipped_and_redelivered_jobs_add_nothing(bot: Bot) -> None:
    await open_pr(bot)
    queued = load_payload(
        "workflow_job.queued",
        repository=load_payload("pull_request.opened")["repository"],
        workflow_job__head_sha=HEAD,
    )
    await bot.deliver("workflow_job", queued)
    skipped = job(2, ["ubuntu-latest"], "2021-08-05T10:00:00Z", "2021-08-05T10:00:00Z")
    await bot.deliver("workflow_job", skipped)
    done = job(3, ["ubuntu-latest"], "2021-08-05T10:00:00Z", "2021-08-05T10:00:30Z")
    await bot.deliver("workflow_job", done, delivery="job-3-done")
    _, body = await bot.deliver("workflow_job", done, delivery="job-3-done")
    assert body["status"] == "duplicate"
    run = await pr_run(bot)
    assert run["spend"] == {"USD": "0.006"}


async def test_bad_job_times_record_the_job_without_a_cost() -> None:
    from gidgethub import sansio

    backwards = job(9, ["ubuntu-latest"], "2021-08-05T10:05:00Z", "2021-08-05T10:00:00Z")
    event = sansio.Event(backwards, event="workflow_job", delivery_id="d-1")
    command = await plan_delivery(event, PlanOptions())
    [append] = command.intents
    assert [e.type for e in append.events] == [ev.CI_WORKFLOW_JOB]


async def test_overrides_reach_the_planner_not_globals() -> None:
    from gidgethub import sansio

    payload = job(1, ["ubuntu-latest"], "2021-08-05T10:00:00Z", "2021-08-05T10:01:00Z")
    event = sansio.Event(payload, event="workflow_job", delivery_id="d-2")
    default = await plan_delivery(event)
    cheaper = await plan_delivery(event, PlanOptions(ci_rates={"ubuntu-latest": "linux_slim"}))
    assert default.intents[0].events[1].data["amount"] == "0.006"
    assert cheaper.intents[0].events[1].data["amount"] == "0.002"


async def test_a_completion_delivered_twice_under_two_ids_is_billed_once(bot: Bot) -> None:
    await open_pr(bot)
    done = job(4, ["ubuntu-latest"], "2021-08-05T10:00:00Z", "2021-08-05T10:02:10Z")
    await bot.deliver("workflow_job", done, delivery="first-id")
    _, body = await bot.deliver("workflow_job", done, delivery="second-id")
    assert body["status"] == "unmatched"  # recorded as a delivery, added nothing
    run = await pr_run(bot)
    assert run["spend"] == {"USD": "0.018"}  # 3 started minutes at 0.006, once
    rerun = job(5, ["ubuntu-latest"], "2021-08-05T10:05:00Z", "2021-08-05T10:05:20Z")
    await bot.deliver("workflow_job", rerun)  # a re-run is a new job id: billed again
    assert (await pr_run(bot))["spend"] == {"USD": "0.024"}
