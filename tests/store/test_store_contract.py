"""One contract, two stores: every test here runs against SQLite and a real PostgreSQL.

"Two instances" means two store objects opened on the same database, as two bot
processes would be: SQLite serialises them through its file lock, PostgreSQL through
row locks, unique indexes and retried transactions. The outcome must be the same.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.ids import new_run_id
from bot.store import open_store_for
from bot.store.base import IdempotencyConflict, RunExists, RunFilter, Store, StoreError
from bot.trail import events as ev
from bot.trail import intents as it
from bot.trail.events import Event, verify_chain

REPO = "Acme/Widgets"
INSTALLATION = 42


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/audit.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def open_store(store_url: str) -> AsyncIterator[Callable[[], Any]]:
    """Open another store object (another "instance") on the test's database."""
    opened: list[Store] = []

    async def make() -> Store:
        store = open_store_for(store_url, debounce=0.0)
        await store.open()
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: Callable[[], Any]) -> Store:
    return await open_store()


@pytest.fixture
async def two(open_store: Callable[[], Any]) -> tuple[Store, Store]:
    return await open_store(), await open_store()


# -- building commands -------------------------------------------------------------


def source(delivery: str | None = None, kind: str = "webhook") -> ev.Source:
    return ev.Source(kind, delivery or str(uuid.uuid4()), "pull_request", "synchronize")


def note(text: str) -> ev.NewEvent:
    return ev.NewEvent(ev.NOTE, {"text": text})


def open_run(
    pr: int,
    head: str,
    *events: ev.NewEvent,
    kind: str = "pr",
    repo: str = REPO,
    delivery: str | None = None,
    opened_at: str | None = None,
    extra: Sequence[it.Intent] = (),
) -> it.Command:
    spec = it.RunSpec(kind, repo, pr, head, installation_id=INSTALLATION, private=False)
    intent = it.OpenRun(f"{repo}#{pr}@{head}/{kind}", spec, events, opened_at=opened_at)
    return it.Command(source(delivery), [intent, *extra])


def append(target: it.Selector, *events: ev.NewEvent, require_open: bool = False) -> it.Command:
    return it.Command(source(), [it.Append(target, events, require_open=require_open)])


def close(run_id: str, status: str = "closed") -> it.Command:
    return append(it.ById(run_id), ev.NewEvent(ev.RUN_CLOSED, {"status": status}))


async def trail(store: Store, run_id: str) -> list[Event]:
    return await store.get_events(run_id)


def assert_chain(events: list[Event], run_id: str) -> None:
    assert verify_chain(events, run_id) is None
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


# -- applying commands -------------------------------------------------------------


async def test_apply_opens_a_run_chains_its_events_and_schedules_the_summary(
    store: Store,
) -> None:
    result = await store.apply(open_run(1, "aaa", note("one"), note("two")))

    assert (result.outcome, result.duplicate, result.events) == ("recorded", False, 3)
    assert result.prs == [(REPO, 1)] and result.runs == result.opened
    run = await store.get_run(result.opened[0])
    events = await trail(store, run["id"])
    assert_chain(events, run["id"])
    assert [e.type for e in events] == [ev.RUN_OPENED, ev.NOTE, ev.NOTE]
    assert (run["seq"], run["head_hash"], run["notes"]) == (3, events[-1].hash, 2)
    assert (await store.outbox_status())["pending"] == 1
    assert await store.get_run("0" * 26) is None


async def test_redelivery_is_a_duplicate_and_adds_nothing(store: Store) -> None:
    command = open_run(1, "aaa", note("once"), delivery="delivery-1")
    first = await store.apply(command)
    again = await store.apply(command)

    assert again.duplicate and again.outcome == "duplicate" and again.events == 0
    assert (again.runs, again.opened) == (first.runs, first.opened)
    assert len(await trail(store, first.opened[0])) == 2
    assert await store.delivery_counts() == {"pull_request:recorded": 1}
    assert await store.known_deliveries(["delivery-1", "other", "delivery-1"]) == {"delivery-1"}


async def test_reused_idempotency_key_with_another_request_conflicts(store: Store) -> None:
    opened = await store.apply(open_run(1, "aaa"))
    run_id = opened.opened[0]
    asked = it.Command(
        source("key-1", kind="api"), [it.Append(it.ById(run_id), [note("a")])], response={"n": 1}
    )
    other = it.Command(source("key-1", kind="api"), [it.Append(it.ById(run_id), [note("b")])])

    assert (await store.apply(asked)).response == {"n": 1}
    with pytest.raises(IdempotencyConflict):
        await store.apply(other)
    replay = await store.apply(asked)
    assert replay.duplicate and replay.response == {"n": 1}
    assert [e.data.get("text") for e in await trail(store, run_id)] == [None, "a"]


async def test_selectors_find_the_runs_they_name(store: Store) -> None:
    old = (await store.apply(open_run(1, "old"))).opened[0]
    await store.apply(close(old, "superseded"))
    pr_run = (await store.apply(open_run(1, "new"))).opened[0]
    review = (await store.apply(open_run(1, "new", kind="review"))).opened[0]
    other_pr = (await store.apply(open_run(2, "new"))).opened[0]

    async def hits(command: it.Command) -> list[str]:
        return (await store.apply(command)).runs

    assert await hits(append(it.ById(review), note("x"))) == [review]
    assert await hits(append(it.ByKey(f"{REPO}#1@old/pr"), note("x"))) == [old]
    assert await hits(append(it.ByKey(f"{REPO}#1@old/pr", open_only=True), note("x"))) == []
    assert await hits(append(it.LatestByHead(REPO, "old"), note("x"))) == [old]
    assert await hits(append(it.LatestByHead(REPO, "old"), note("x"), require_open=True)) == []
    assert await hits(append(it.LatestByHead(REPO, "new", "review"), note("x"))) == [review]
    # repository names compare like GitHub's: case-insensitively
    assert sorted(await hits(append(it.OpenRunsOfPR(REPO.upper(), 1), note("x")))) == sorted(
        [pr_run, review]
    )
    only_reviews = it.OpenRunsOfPR(REPO, 1, kinds=frozenset({"review"}))
    assert await hits(append(only_reviews, note("x"))) == [review]
    assert await hits(append(it.OpenRunsOfPR(REPO, 1, exclude_head_sha="new"), note("x"))) == []
    assert await hits(append(it.OpenRunsOfPR(REPO, 2), note("x"))) == [other_pr]

    missing = await store.apply(append(it.ById("0" * 26), note("x")))
    assert (missing.outcome, missing.events, missing.prs) == ("unmatched", 0, [])
    logged = await store.apply(it.Command(source(), [it.BotLog("ping", {"zen": "hi"})]))
    assert (logged.outcome, logged.events) == ("logged", 0)
    for run_id in (old, pr_run, review, other_pr):
        assert_chain(await trail(store, run_id), run_id)


# -- many writers ------------------------------------------------------------------


async def test_fifty_concurrent_commands_on_one_run_get_gap_free_unique_seqs(
    two: tuple[Store, Store],
) -> None:
    run_id = (await two[0].apply(open_run(1, "aaa"))).opened[0]
    commands = [append(it.ById(run_id), note(f"{i}a"), note(f"{i}b")) for i in range(50)]

    results = await asyncio.gather(
        *(two[i % 2].apply(command) for i, command in enumerate(commands))
    )

    assert all(r.events == 2 and not r.duplicate for r in results)
    events = await trail(two[1], run_id)
    assert_chain(events, run_id)
    assert len(events) == 101
    # each command's two events are adjacent: nobody interleaved inside a transaction
    texts = [e.data["text"] for e in events[1:]]
    assert all(a[:-1] == b[:-1] for a, b in zip(texts[::2], texts[1::2], strict=True))
    assert len({e.source["id"] for e in events[1:]}) == 50
    assert (await two[0].get_run(run_id))["seq"] == 101


async def test_one_open_run_per_key_when_many_open_it_at_once(two: tuple[Store, Store]) -> None:
    commands = [open_run(7, "race", note(str(i))) for i in range(20)]

    results = await asyncio.gather(
        *(two[i % 2].apply(command) for i, command in enumerate(commands))
    )

    runs = await two[0].list_runs(RunFilter(repo=REPO, pr=7))
    assert len(runs) == 1
    assert sum(len(r.opened) for r in results) == 1
    assert {r.runs[0] for r in results} == {runs[0]["id"]}
    events = await trail(two[1], runs[0]["id"])
    assert_chain(events, runs[0]["id"])
    assert sorted(e.data["text"] for e in events[1:]) == sorted(str(i) for i in range(20))


async def test_a_delivery_racing_itself_is_applied_once(two: tuple[Store, Store]) -> None:
    command = open_run(3, "dup", note("only once"), delivery="same-delivery")

    results = await asyncio.gather(*(two[i % 2].apply(command) for i in range(10)))

    assert sum(not r.duplicate for r in results) == 1
    assert {r.runs[0] for r in results} == {results[0].runs[0]}
    assert len(await trail(two[0], results[0].runs[0])) == 2


# -- the outbox --------------------------------------------------------------------


async def test_outbox_rows_are_claimed_by_exactly_one_instance(two: tuple[Store, Store]) -> None:
    for pr in range(1, 31):
        await two[0].apply(open_run(pr, "h"))
    now = time.time() + 1
    claims: dict[str, list[str]] = {"a": [], "b": []}

    for _ in range(30):  # both instances claim at the same moment, round after round
        got_a, got_b = await asyncio.gather(
            two[0].claim_outbox("a", now, 60.0, 4), two[1].claim_outbox("b", now, 60.0, 4)
        )
        if not got_a and not got_b:
            break
        claims["a"] += [item.key for item in got_a]
        claims["b"] += [item.key for item in got_b]

    claimed = claims["a"] + claims["b"]
    assert sorted(claimed) == sorted(f"summary:{REPO.lower()}#{pr}" for pr in range(1, 31))
    assert claims["a"] and claims["b"]  # both took part, neither took the other's
    # a crashed worker's lease runs out: the rows become claimable again
    assert await two[1].claim_outbox("c", now + 30, 60.0, 100) == []
    assert len(await two[1].claim_outbox("c", now + 61, 60.0, 100)) == 30


async def test_outbox_finish_retry_fail_and_defer(store: Store) -> None:
    run_id = (await store.apply(open_run(1, "h"))).opened[0]
    now = time.time() + 1
    [item] = await store.claim_outbox("w", now, 60.0, 10)
    assert (item.repo, item.pr, item.installation_id, item.attempts) == (REPO, 1, INSTALLATION, 0)
    assert await store.next_outbox_due() == pytest.approx(now + 60)

    # the PR changed while the worker rendered: finishing keeps the row for another round
    await store.apply(append(it.ById(run_id), note("later")))
    await store.finish_outbox(item, now, 5.0)
    [again] = await store.claim_outbox("w", now + 5, 60.0, 10)
    assert again.version == item.version + 1 and again.due_at == pytest.approx(now + 5)

    await store.retry_outbox(again, now + 30, "HTTP 502")
    [retrying] = (await store.outbox_status())["retrying"]
    assert (retrying["reason"], retrying["attempts"], retrying["pr"]) == ("HTTP 502", 1, 1)
    assert retrying["due_at"] == pytest.approx(now + 30)
    assert await store.claim_outbox("w", now + 29, 60.0, 10) == []
    [retried] = await store.claim_outbox("w", now + 30, 60.0, 10)
    assert retried.attempts == 1

    await store.defer_outbox(retried, now + 90, "paced")
    assert await store.claim_outbox("w", now + 89, 60.0, 10) == []
    # drain ignores the debounce window, never another worker's lease
    [deferred] = await store.claim_outbox("w", now, 60.0, 10, due_by=float("inf"))
    assert deferred.attempts == 1
    assert await store.claim_outbox("x", now, 60.0, 10, due_by=float("inf")) == []

    await store.fail_outbox(deferred, "HTTP 404: the pull request is gone")
    status = await store.outbox_status()
    assert (status["pending"], status["failed"]) == (0, 1)
    assert status["failures"][0]["reason"] == "HTTP 404: the pull request is gone"
    assert await store.next_outbox_due() is None

    # a new event on a failed PR makes it pending again, from zero attempts
    await store.apply(append(it.ById(run_id), note("revived")))
    [revived] = await store.claim_outbox("w", time.time() + 1, 60.0, 10)
    assert revived.attempts == 0
    await store.finish_outbox(revived, now, 0.0)
    assert (await store.outbox_status())["pending"] == 0


# -- comments, listing, reading ----------------------------------------------------


async def test_comments_are_saved_per_pull_request(store: Store) -> None:
    assert await store.get_comment(REPO, 1) is None
    await store.save_comment(REPO, 1, None, "dry run body")
    await store.save_comment(REPO, 1, 99, "posted body")
    await store.save_comment(REPO, 2, 100, "other")

    record = await store.get_comment(REPO.lower(), 1)
    assert (record.comment_id, record.body, record.pr) == (99, "posted body", 1)
    assert record.body_sha == hashlib.sha256(b"posted body").hexdigest()
    assert (await store.get_comment(REPO, 2)).body == "other"


async def test_list_runs_filters_and_pages_newest_first(store: Store) -> None:
    made = []
    for day, (pr, kind) in enumerate([(1, "pr"), (1, "review"), (2, "pr"), (3, "pr")], start=1):
        result = await store.apply(
            open_run(pr, f"h{day}", kind=kind, opened_at=f"2024-01-0{day}T00:00:00.000Z")
        )
        made.append(result.opened[0])
    await store.apply(open_run(1, "x", repo="acme/other"))
    await store.apply(close(made[2], "merged"))

    async def ids(**where: Any) -> list[str]:
        return [run["id"] for run in await store.list_runs(RunFilter(**where))]

    assert set(await ids(repo=REPO)) == set(made)
    assert set(await ids(repo=REPO.lower(), pr=1)) == set(made[:2])
    assert await ids(repo=REPO, kind="review") == [made[1]]
    assert await ids(repo=REPO, status="merged") == [made[2]]
    assert set(await ids(repo=REPO, since="2024-01-03T00:00:00.000Z")) == set(made[2:])
    assert len(await ids()) == 5

    newest_first = await ids(repo=REPO)
    assert newest_first == sorted(newest_first, reverse=True)
    pages, cursor = [], None
    while page := await ids(repo=REPO, limit=3, before=cursor):
        pages.append(page)
        cursor = page[-1]
    assert [len(p) for p in pages] == [3, 1]
    assert [run_id for page in pages for run_id in page] == newest_first


async def test_iter_events_pages_through_a_long_trail(store: Store) -> None:
    run_id = (await store.apply(open_run(1, "long"))).opened[0]
    for start in range(0, 600, 200):
        await store.apply(
            append(it.ById(run_id), *(note(str(i)) for i in range(start, start + 200)))
        )

    streamed = [e async for e in store.iter_events(run_id, batch=64)]
    assert streamed == await trail(store, run_id)
    assert_chain(streamed, run_id)
    assert [e.seq for e in await store.get_events(run_id, after=590, limit=5)] == list(
        range(591, 596)
    )
    tail = [e.seq async for e in store.iter_events(run_id, after=595, batch=2)]
    assert tail == list(range(596, 602))


async def test_iter_events_reads_page_by_page_not_all_at_once(store: Store) -> None:
    """Events appended while a reader is part-way through are still streamed to it."""
    run_id = await store.apply(open_run(1, "live", note("1"), note("2"), note("3")))
    run_id = run_id.opened[0]
    reader = store.iter_events(run_id, batch=2)
    assert [(await anext(reader)).seq for _ in range(2)] == [1, 2]
    await store.apply(append(it.ById(run_id), note("4"), note("5")))
    assert [e.seq async for e in reader] == [3, 4, 5, 6]


# -- retention and the bot's own state -----------------------------------------------


async def test_prune_runs_removes_whole_ended_runs_and_remembers_why(store: Store) -> None:
    closed_pr = (await store.apply(open_run(1, "a"))).opened[0]
    await store.apply(close(closed_pr, "merged"))
    open_pr = (await store.apply(open_run(2, "b"))).opened[0]
    ended_review = (await store.apply(open_run(2, "b", kind="review"))).opened[0]
    await store.apply(close(ended_review))
    later = time.time() + 40 * 86400

    pruned = await store.prune_runs(later, 30, None)

    # the review of PR 2 stays while PR 2 has an open pr run; the open run stays
    assert [p.run_id for p in pruned] == [closed_pr]
    assert await store.get_run(closed_pr) is None and await trail(store, closed_pr) == []
    info = await store.pruned_info(closed_pr)
    assert (info.repo, info.pr, info.kind, info.last_seq) == (REPO, 1, "pr", 2)
    assert info.reason.startswith("retention: no event for over 30 days")
    assert await store.pruned_info(open_pr) is None
    assert await store.prune_runs(later, 30, None) == []
    assert await store.get_run(open_pr) is not None and await store.get_run(ended_review)


async def test_prune_runs_keeps_the_newest_runs_of_each_repository(store: Store) -> None:
    ended = []
    for pr in range(1, 5):
        run_id = (await store.apply(open_run(pr, "h"))).opened[0]
        await store.apply(close(run_id))
        ended.append(run_id)
    await store.apply(open_run(1, "h", repo="acme/other"))

    pruned = await store.prune_runs(time.time(), None, 2)

    assert sorted(p.run_id for p in pruned) == sorted(ended)[:2]
    assert all("beyond the newest 2 runs" in p.reason for p in pruned)
    assert len(await store.list_runs(RunFilter())) == 3


async def test_two_instances_pruning_at_once_remove_each_run_once(
    two: tuple[Store, Store],
) -> None:
    ended = []
    for pr in range(1, 13):
        run_id = (await two[0].apply(open_run(pr, "h"))).opened[0]
        await two[0].apply(close(run_id))
        ended.append(run_id)
    later = time.time() + 40 * 86400

    first, second = await asyncio.gather(*(store.prune_runs(later, 30, None) for store in two))

    pruned = [p.run_id for p in first + second]
    assert sorted(pruned) == sorted(ended)  # every run once, by one instance or the other
    assert None not in [await two[1].pruned_info(run_id) for run_id in ended]
    assert await two[0].list_runs(RunFilter()) == []


async def test_bot_state_values(store: Store) -> None:
    assert await store.get_state("redelivery.since") is None
    await store.set_state("redelivery.since", "2024-01-01T00:00:00Z")
    await store.set_state("redelivery.since", "2024-01-02T00:00:00Z")
    assert await store.get_state("redelivery.since") == "2024-01-02T00:00:00Z"


async def test_instances_share_one_write_budget_per_installation(
    two: tuple[Store, Store],
) -> None:
    windows = ((3, 60.0),)
    now = 1_000_000.0
    # Five writes asked for at once through two instances: the budget lets three go.
    answers = await asyncio.gather(*(two[i % 2].take_write_slot(7, now, windows) for i in range(5)))
    assert sorted(answers, key=lambda a: a or 0) == [None, None, None, now + 60, now + 60]
    # Other installations, and token mode (no installation), have budgets of their own.
    assert await two[0].take_write_slot(8, now, windows) is None
    assert await two[1].take_write_slot(None, now, windows) is None
    # A refused ask counted nothing: once the window has moved on, three go again.
    later = now + 60.5
    assert [await two[i % 2].take_write_slot(7, later, windows) for i in range(4)] == [
        None,
        None,
        None,
        later + 60,
    ]


async def test_one_instance_takes_each_turn_of_a_periodic_job(two: tuple[Store, Store]) -> None:
    now = time.time()
    first = await asyncio.gather(*(store.claim_turn("retention", now, 60) for store in two))
    assert sorted(first) == [False, True]  # both asked at once: exactly one runs the pass
    # Within the interval nobody gets it again, whoever asks; another job is independent.
    assert not await two[0].claim_turn("retention", now + 30, 60)
    assert not await two[1].claim_turn("retention", now + 30, 60)
    assert await two[1].claim_turn("missed-delivery check", now + 30, 60)
    # Once the interval has passed, the next asker gets it, and only once.
    assert await two[1].claim_turn("retention", now + 61, 60)
    assert not await two[0].claim_turn("retention", now + 62, 60)
    # A turn is bookkeeping, not one of the bot's own named values.
    assert await two[0].get_state("retention") is None


# -- trail tools: import and rebuild -------------------------------------------------


def sealed_trail(run_id: str, *texts: str) -> list[Event]:
    """A verified trail as `audit-bot export` would write it (made here by hand)."""
    origin = ev.Source("import", "export-1")
    opened = ev.NewEvent(
        ev.RUN_OPENED,
        {"kind": "agent", "repo": REPO, "pr": 9, "head_sha": "abc", "name": "loop"},
        at="2024-02-01T10:00:00.000Z",
    )
    events = [ev.seal(run_id, 1, opened, origin, "2024-02-01T10:00:01.000Z", ev.GENESIS_HASH)]
    for text in texts:
        previous = events[-1]
        new = note(text)
        events.append(
            ev.seal(run_id, previous.seq + 1, new, origin, previous.recorded_at, previous.hash)
        )
    return events


async def test_import_run_stores_the_trail_as_given_once(store: Store) -> None:
    run_id = new_run_id()
    events = sealed_trail(run_id, "a", "b")

    state = await store.import_run(events, key="agent:loop")

    assert await store.get_events(run_id) == events
    assert await store.get_run(run_id) == state
    assert (state["seq"], state["head_hash"], state["kind"]) == (3, events[-1].hash, "agent")
    with pytest.raises(RunExists):
        await store.import_run(sealed_trail(run_id, "other"))
    assert await store.get_events(run_id) == events
    # an open run already holds the key: refused, and nothing of the new run is kept
    second = new_run_id()
    with pytest.raises(StoreError):
        await store.import_run(sealed_trail(second, "x"), key="agent:loop")
    assert await store.get_run(second) is None and await store.get_events(second) == []
    assert (await store.outbox_status())["pending"] == 0  # importing never posts


async def test_rebuild_projection_recomputes_the_fold(store: Store) -> None:
    run_id = (await store.apply(open_run(1, "a", note("x"), note("y")))).opened[0]
    true_state = await store.get_run(run_id)
    assert await store.rebuild_projection(run_id) == (true_state, true_state)

    await _raw_execute(store, f'UPDATE runs SET state = \'{{"id": "{run_id}"}}\'')
    stored, folded = await store.rebuild_projection(run_id)

    assert stored == {"id": run_id} and folded == true_state
    assert await store.get_run(run_id) == true_state
    assert await store.rebuild_projection("0" * 26) is None


# -- schema ------------------------------------------------------------------------


async def test_reopening_keeps_everything_and_migrates_nothing_twice(
    open_store: Callable[[], Any],
) -> None:
    first, _ = await asyncio.gather(open_store(), open_store())  # racing on an empty database
    run_id = (await first.apply(open_run(1, "a", note("kept")))).opened[0]
    await first.close()
    stores = await asyncio.gather(open_store(), open_store())  # concurrent starts
    for reopened in stores:
        assert_chain(await trail(reopened, run_id), run_id)
        assert len(await trail(reopened, run_id)) == 2


async def test_a_newer_schema_than_the_bot_refuses_to_start(
    store: Store, open_store: Callable[[], Any]
) -> None:
    await _raw_execute(store, "INSERT INTO schema_version (version) VALUES (999)")
    with pytest.raises(RuntimeError, match="newer than this bot"):
        await open_store()


async def _raw_execute(store: Any, sql: str) -> None:
    if hasattr(store, "pool"):
        await store.pool.execute(sql)
    else:
        import sqlite3

        with sqlite3.connect(store.path) as conn:
            conn.execute(sql)


async def test_sessions_round_trip_are_taken_once_and_expire(
    two: tuple[Store, Store],
) -> None:
    """Sessions of "Sign in with GitHub": what one instance stores another reads, a
    record is taken (deleted and returned) by one caller only, the idle clock only moves
    forward, and pruning removes idle and too-old records."""
    from bot.store.base import SessionRecord

    first, second = two
    record = SessionRecord("k1", "session", "octo", "sealed-bytes", 1000, 1000)
    await first.put_session(record)
    assert await second.get_session("k1") == record
    await second.put_session(dataclasses.replace(record, sealed="resealed", seen_at=1500))
    assert await first.get_session("k1") == dataclasses.replace(
        record, sealed="resealed", seen_at=1500
    )
    await first.touch_session("k1", 1200)  # never back
    assert (await second.get_session("k1")).seen_at == 1500  # type: ignore[union-attr]
    await first.touch_session("k1", 1800)
    assert (await second.get_session("k1")).seen_at == 1800  # type: ignore[union-attr]

    taken = await asyncio.gather(first.take_session("k1"), second.take_session("k1"))
    assert sorted(t is None for t in taken) == [False, True]
    assert await first.get_session("k1") is None
    assert await first.take_session("missing") is None

    await first.put_session(SessionRecord("idle", "session", "a", "s", 5000, 1000))
    await first.put_session(SessionRecord("old", "session", "b", "s", 100, 9000))
    await first.put_session(SessionRecord("live", "login", "", "s", 5000, 9000))
    assert await second.prune_sessions(seen_before=2000, created_before=1000) == 2
    assert await first.get_session("live") is not None
    assert await first.get_session("idle") is None and await first.get_session("old") is None
