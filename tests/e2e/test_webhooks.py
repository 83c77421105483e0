"""End to end: signed real-example webhooks → runs, trails and one PR comment."""

from __future__ import annotations

import asyncio
import hashlib
import json

from bot.render.log_stamp import LogStamp, comment_lines
from bot.render.summary import MARKER, VERIFY
from bot.trail.events import Event, verify_chain
from tests.support.bot import HEAD, REPO, Bot, load_payload
from tests.support.fake_github import TOKEN_USER, FakeGitHub

NEW_HEAD = "0123456789abcdef0123456789abcdef01234567"


def ci_payload(name: str, **changes: object) -> dict:
    """A workflow payload moved onto the PR fixtures' repository and head."""
    kind = name.split(".")[0]
    return load_payload(
        name,
        repository=load_payload("pull_request.opened")["repository"],
        **{f"{kind}__head_sha": HEAD},
        **changes,
    )


async def runs_of(bot: Bot, pr: int = 2) -> list[dict]:
    status, body = await bot.request("GET", f"/api/runs?repo={REPO}&pr={pr}")
    assert status == 200
    return body["runs"]


async def trail(bot: Bot, run_id: str) -> list[Event]:
    status, body = await bot.request("GET", f"/api/runs/{run_id}/events")
    assert status == 200
    return [Event.from_dict(e) for e in body["events"]]


async def test_opened_pr_gets_one_exact_summary_comment(bot: Bot, github: FakeGitHub) -> None:
    status, body = await bot.deliver("pull_request", load_payload("pull_request.opened"))
    assert status == 200 and body["status"] == "recorded"
    await bot.settle()

    [run] = await runs_of(bot)
    assert (run["kind"], run["status"], run["head_sha"]) == ("pr", "open", HEAD)
    [comment] = github.comments_on(REPO, 2)
    assert comment["user"]["login"] == TOKEN_USER
    page = f"https://audit.example.test/runs/{run['id']}"
    key = hashlib.sha256(b"1 run").hexdigest()[:16]  # the headline without the states
    # the signed log's checkpoint holding the run's one event: the first of the log
    checkpoint = await bot.store.latest_checkpoint()
    assert checkpoint is not None and checkpoint.size == 1
    stamp = "\n".join(comment_lines(LogStamp(checkpoint.note, 1, checkpoint.root)))
    assert comment["body"] == (
        f"{MARKER}\n"
        "1 run · CI 🔵 open\n"
        "\n"
        "<details><summary>1 run without spend or proofs</summary>\n"
        "\n"
        f"- [CI]({page}) · 🔵 open\n"
        "\n"
        "</details>\n"
        "\n"
        "<details><summary>Trail digests and run IDs</summary>\n"
        "\n"
        f"- `{run['id']}` · CI · head `ec26c3e` · started 2019-05-15 15:20 UTC"
        f" · digest `{run['head_hash'][:12]}`\n"
        "\n"
        f"{VERIFY}\n"
        "\n"
        f"{stamp}\n"
        "\n"
        "</details>\n"
        "\n"
        "<sub>1 run recorded · updated 2019-05-15 15:20 UTC · [all runs](https://audit.example.test/repos/"
        "Codertocat/Hello-World/pull/2)</sub>\n"
        f"<!-- audit-bot:headline {key} -->\n"
    )


async def test_lifecycle_ci_reviews_supersede_merge(bot: Bot, github: FakeGitHub) -> None:
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    started = ci_payload(
        "workflow_run.in_progress",
        workflow_run__run_started_at="2019-05-15T15:21:00Z",
        workflow_run__updated_at="2019-05-15T15:21:00Z",
    )
    await bot.deliver("workflow_run", started)
    [run] = await runs_of(bot)
    assert run["status"] == "running"

    done = ci_payload(
        "workflow_run.completed",
        workflow_run__run_started_at="2019-05-15T15:21:00Z",
        workflow_run__updated_at="2019-05-15T15:24:30Z",
    )
    await bot.deliver("workflow_run", done)
    [run] = await runs_of(bot)
    assert run["status"] == "succeeded"

    await bot.deliver("pull_request", load_payload("pull_request.review_requested"))
    review_payload = load_payload("pull_request_review.submitted")
    reviewer = review_payload["review"]["user"]["login"]
    await bot.deliver(
        "pull_request",
        load_payload("pull_request.review_requested", requested_reviewer={"login": reviewer}),
    )
    await bot.deliver("pull_request_review", review_payload)
    runs = await runs_of(bot)
    reviews = {r["name"]: r for r in runs if r["kind"] == "review"}
    assert reviews["octocat"]["status"] == "requested"
    assert reviews[reviewer]["status"] == "commented" and reviews[reviewer]["ended_at"]

    sync = load_payload("pull_request.synchronize", pull_request__head__sha=NEW_HEAD)
    await bot.deliver("pull_request", sync)
    await bot.deliver(
        "pull_request", load_payload("pull_request.closed.merged", pull_request__head__sha=NEW_HEAD)
    )
    await bot.settle()

    runs = await runs_of(bot)
    pr_runs = {r["head_sha"]: r for r in runs if r["kind"] == "pr"}
    assert pr_runs[HEAD]["status"] == "superseded"
    assert pr_runs[NEW_HEAD]["status"] == "merged"
    assert reviews["octocat"]["id"] in {r["id"] for r in runs}
    assert {r["status"] for r in runs if r["kind"] == "review"} == {"merged", "commented"}

    for run in runs:
        events = await trail(bot, run["id"])
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert verify_chain(events, run["id"]) is None
        assert events[-1].hash == run["head_hash"]
        assert all(e.source["kind"] == "webhook" and e.source["id"] for e in events)
    first = await trail(bot, pr_runs[HEAD]["id"])
    assert [e.type for e in first] == [
        "run.opened",
        "ci.workflow_run",
        "ci.workflow_run",
        "run.superseded",
    ]
    assert first[1].source["event"] == "workflow_run"

    [comment] = github.comments_on(REPO, 2)
    for run in runs:
        assert run["id"] in comment["body"]
        assert run["head_hash"][:12] in comment["body"]
    assert "🟣 merged" in comment["body"] and "⏭️ superseded" in comment["body"]
    assert "3m 57s" in comment["body"]  # opened 15:20:33, its CI done 15:24:30
    assert len(github.writes(r"/comments$")) == 1  # created once, edited afterwards


async def test_redelivery_adds_nothing(bot: Bot, github: FakeGitHub) -> None:
    payload = load_payload("pull_request.opened")
    first = await bot.deliver("pull_request", payload, delivery="same-delivery-id")
    again = await bot.deliver("pull_request", payload, delivery="same-delivery-id")
    assert first[1]["status"] == "recorded" and again[1]["status"] == "duplicate"
    assert again[0] == 200
    await bot.settle()
    [run] = await runs_of(bot)
    assert run["seq"] == 1
    assert len(github.comments_on(REPO, 2)) == 1


async def test_fifty_concurrent_deliveries_one_comment_gap_free(
    bot: Bot, github: FakeGitHub
) -> None:
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    jobs = [
        ci_payload(
            "workflow_job.completed",
            workflow_job__id=1000 + i,
            workflow_job__started_at="2019-05-15T15:21:00Z",
            workflow_job__completed_at="2019-05-15T15:22:00Z",
        )
        for i in range(50)
    ]
    answers = await asyncio.gather(*(bot.deliver("workflow_job", job) for job in jobs))
    assert {status for status, _ in answers} == {200}
    await bot.settle()
    [run] = await runs_of(bot)
    events = await trail(bot, run["id"])
    # run.opened, then per job its record and its CI-minute spend (0 USD: public repo)
    assert [e.seq for e in events] == list(range(1, 102))
    assert verify_chain(events, run["id"]) is None
    assert len(run["jobs"]) == 50
    comments = github.comments_on(REPO, 2)
    assert len(comments) == 1
    assert run["head_hash"][:12] in comments[0]["body"]


async def test_restart_keeps_runs_and_posts_no_duplicate(bot: Bot, github: FakeGitHub) -> None:
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    await bot.settle()
    [before] = await runs_of(bot)
    await bot.restart()
    [after] = await runs_of(bot)
    assert after == before
    await bot.deliver("pull_request", load_payload("pull_request.review_requested"))
    await bot.settle()
    assert len(github.comments_on(REPO, 2)) == 1
    assert len(await runs_of(bot)) == 2


async def test_restart_forgets_comment_id_but_finds_own_comment(
    bot: Bot, github: FakeGitHub, tmp_path
) -> None:
    """Even with the stored comment id lost, the marker + author find the comment."""
    import sqlite3

    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    await bot.settle()
    await bot.stop()
    conn = sqlite3.connect(tmp_path / "audit.db")
    conn.execute("DELETE FROM comments")
    conn.commit()
    conn.close()
    github.comments[999] = {  # a human quoting the marker must not be taken for the bot
        "id": 999,
        "body": f"{MARKER} quoted",
        "user": {"login": "someone"},
        "_repo": REPO.lower(),
        "_pr": 2,
    }
    await bot.start()
    await bot.deliver("pull_request", load_payload("pull_request.review_requested"))
    await bot.settle()
    mine = [c for c in github.comments_on(REPO, 2) if c["user"]["login"] == TOKEN_USER]
    assert len(mine) == 1 and "review: octocat" in mine[0]["body"]
    assert github.comments[999]["body"] == f"{MARKER} quoted"


async def test_human_deleted_comment_is_recreated_once(bot: Bot, github: FakeGitHub) -> None:
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    await bot.settle()
    [comment] = github.comments_on(REPO, 2)
    github.delete_comment(comment["id"])
    await bot.deliver("pull_request", load_payload("pull_request.review_requested"))
    await bot.settle()
    [again] = github.comments_on(REPO, 2)
    assert again["id"] != comment["id"]
    assert len(github.writes(r"/issues/2/comments$")) == 2


async def test_unchanged_summary_is_not_written_again(bot: Bot, github: FakeGitHub) -> None:
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    await bot.settle()
    # An event that matches no run changes nothing on the PR.
    await bot.deliver("workflow_run", load_payload("workflow_run.completed"))
    await bot.deliver("pull_request", load_payload("pull_request.opened"))  # new delivery id
    await bot.settle()
    assert len(github.writes()) == 1


async def test_unknown_and_app_events_are_acknowledged(bot: Bot, github: FakeGitHub) -> None:
    status, body = await bot.deliver("star", load_payload("star.created"))
    assert (status, body["status"]) == (200, "ignored")
    status, body = await bot.deliver("ping", load_payload("ping"))
    assert (status, body["status"]) == (200, "logged")
    status, body = await bot.deliver("installation", load_payload("installation.created"))
    assert (status, body["status"]) == (200, "logged")
    counts = await bot.store.delivery_counts()
    assert counts == {"star:ignored": 1, "ping:logged": 1, "installation:logged": 1}
    assert github.writes() == []


async def test_burst_is_coalesced_into_one_write(make_bot, github: FakeGitHub) -> None:
    bot = await make_bot(AUDIT_COMMENT_DEBOUNCE_SECONDS="0.5")
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    for i in range(10):
        await bot.deliver(
            "workflow_job", ci_payload("workflow_job.in_progress", workflow_job__id=i + 1)
        )
    await bot.settle()
    assert len(github.writes()) == 1
    [comment] = github.comments_on(REPO, 2)
    [run] = await runs_of(bot)
    assert run["seq"] == 11 and run["head_hash"][:12] in comment["body"]


async def test_local_mode_dry_run_accepts_unsigned_and_posts_nothing(
    tmp_path, github: FakeGitHub
) -> None:
    bot = Bot(
        {"DATABASE_URL": f"sqlite:///{tmp_path}/local.db", "AUDIT_COMMENT_DEBOUNCE_SECONDS": "0"}
    )
    await bot.start()
    try:
        status, body = await bot.deliver(
            "pull_request", load_payload("pull_request.opened"), secret=None
        )
        assert (status, body["status"]) == (200, "recorded")
        await bot.settle()
        status, summary = await bot.request("GET", f"/api/summary?repo={REPO}&pr=2")
        assert status == 200 and summary["comment_id"] is None
        assert summary["body"].startswith(MARKER)
        assert github.requests == []
    finally:
        await bot.stop()


async def test_trail_events_record_their_source(bot: Bot) -> None:
    await bot.deliver("pull_request", load_payload("pull_request.opened"), delivery="abc-123")
    [run] = await runs_of(bot)
    [opened] = await trail(bot, run["id"])
    assert opened.source == {
        "kind": "webhook",
        "id": "abc-123",
        "event": "pull_request",
        "action": "opened",
    }
    assert json.dumps(opened.data)  # plain JSON, as published


async def test_a_malformed_time_in_a_payload_does_not_stop_the_comment(
    bot: Bot, github: FakeGitHub
) -> None:
    await bot.deliver(
        "pull_request", load_payload("pull_request.opened", pull_request__updated_at="soon")
    )
    await bot.settle()
    [comment] = github.comments_on(REPO, 2)
    assert comment["body"].splitlines()[1] == "1 run · CI 🔵 open"
    assert "· CI · head `ec26c3e` · started — · digest `" in comment["body"]
    status, _ = await bot.deliver(
        "workflow_job", ci_payload("workflow_job.completed", workflow_job__completed_at=7)
    )
    assert status == 400  # a time that is not even text is refused, naming the field


async def test_a_time_past_year_9999_in_utc_does_not_stop_the_comment(
    bot: Bot, github: FakeGitHub
) -> None:
    # A signed payload may carry any time; one that only exists after year 9999 once
    # in UTC is shown as unknown, and the PR's comment is written as usual.
    late = "9999-12-31T23:59:59-23:59"
    status, _ = await bot.deliver(
        "pull_request", load_payload("pull_request.opened", pull_request__updated_at=late)
    )
    assert status == 200
    await bot.settle()
    [comment] = github.comments_on(REPO, 2)
    [row] = [line for line in comment["body"].splitlines() if line.startswith("- `")]
    assert "· CI · head `ec26c3e` · started — · digest `" in row
