"""Properties of the hash chain and the fold, over generated trails (hypothesis)."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.trail import events as ev
from bot.trail.state import apply, fold

SOURCE = ev.Source(kind="webhook", id="d", event="x")
TIMES = st.integers(min_value=0, max_value=59).map(lambda s: f"2026-01-01T00:00:{s:02d}.000Z")
WORDS = st.text(alphabet="abcdefgh-_ ü✓", min_size=1, max_size=8)
STATUSES = st.sampled_from(["queued", "in_progress", "completed"])
CONCLUSIONS = st.sampled_from([None, "success", "failure", "cancelled", "skipped"])
AMOUNTS = st.decimals(min_value=0, max_value=10**6, places=6, allow_nan=False).map(str)

# Event bodies the handlers and the reporter API produce, with the fields fold reads.
BODIES = st.one_of(
    st.builds(lambda t: (ev.PR_UPDATED, {"title": t}), WORDS),
    st.builds(
        lambda i, s, c, at: (
            ev.CI_WORKFLOW_RUN,
            {"id": i, "name": "ci", "status": s, "conclusion": c, "updated_at": at},
        ),
        st.integers(1, 5),
        STATUSES,
        CONCLUSIONS,
        TIMES,
    ),
    st.builds(
        lambda i, s, c: (ev.CI_WORKFLOW_JOB, {"id": i, "status": s, "conclusion": c}),
        st.integers(1, 5),
        STATUSES,
        CONCLUSIONS,
    ),
    st.builds(
        lambda a, cur, cat: (ev.SPEND, {"amount": a, "currency": cur, "category": cat}),
        AMOUNTS,
        st.sampled_from(["USD", "USDC"]),
        st.sampled_from(["llm", "ci", "api"]),
    ),
    st.builds(lambda n: (ev.STEP_STARTED, {"name": n}), WORDS),
    st.builds(lambda n: (ev.STEP_FINISHED, {"name": n, "status": "succeeded"}), WORDS),
    st.builds(lambda t: (ev.NOTE, {"text": t}), WORDS),
    st.builds(lambda s: (ev.RUN_CLOSED, {"status": s}), st.sampled_from(["succeeded", "closed"])),
    st.just((ev.RUN_SUPERSEDED, {"by_head_sha": "f" * 40})),
)


def seal_all(run_id: str, bodies: list[tuple[str, dict[str, Any]]], times: list[str]) -> list:
    """A sealed trail: run.opened, then `bodies` at `times`."""
    opened = {"kind": "pr", "repo": "o/r", "pr": 1, "head_sha": "a" * 40}
    news = [
        ev.NewEvent(ev.RUN_OPENED, opened, at=times[0]),
        *(ev.NewEvent(t, d, at=at) for (t, d), at in zip(bodies, times, strict=True)),
    ]
    chain, prev = [], ev.GENESIS_HASH
    for seq, new in enumerate(news, start=1):
        event = ev.seal(run_id, seq, new, SOURCE, new.at or times[0], prev)
        chain.append(event)
        prev = event.hash
    return chain


TRAILS = (
    st.integers(min_value=1, max_value=25)
    .flatmap(
        lambda n: st.tuples(
            st.lists(BODIES, min_size=n, max_size=n), st.lists(TIMES, min_size=n, max_size=n)
        )
    )
    .map(lambda bt: seal_all("01HRUNIDXXXXXXXXXXXXXXXXXX", bt[0], bt[1]))
)


@settings(max_examples=100, deadline=None)
@given(TRAILS)
def test_an_untouched_trail_verifies(trail: list) -> None:
    assert ev.verify_chain(trail, trail[0].run_id) is None


@settings(max_examples=100, deadline=None)
@given(TRAILS, st.data())
def test_any_deletion_reorder_or_duplication_is_detected(trail: list, data: st.DataObject) -> None:
    n = len(trail)
    kind = data.draw(st.sampled_from(["delete", "swap", "duplicate", "move"]))
    tampered = list(trail)
    i = data.draw(st.integers(0, n - 1))
    if kind == "delete":
        if n == 1:
            return  # an empty trail has nothing left to check; the head digest changed
        del tampered[i]
        if i == n - 1:
            # Dropping the last event leaves a valid shorter chain: the published head
            # digest (the PR comment) is what pins the length.
            assert tampered[-1].hash != trail[-1].hash
            return
    elif kind == "swap":
        j = data.draw(st.integers(0, n - 1).filter(lambda j: j != i)) if n > 1 else i
        if i == j:
            return
        tampered[i], tampered[j] = tampered[j], tampered[i]
    elif kind == "duplicate":
        tampered.insert(i, trail[i])
    else:  # move an event to the end
        if i == n - 1:
            return
        tampered.append(tampered.pop(i))
    assert ev.verify_chain(tampered, trail[0].run_id) is not None


@settings(max_examples=100, deadline=None)
@given(TRAILS, st.data())
def test_any_edit_is_detected(trail: list, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(trail) - 1))
    field = data.draw(st.sampled_from(["data", "at", "type", "source", "amount"]))
    victim = trail[i]
    if field == "data":
        changed = dataclasses.replace(victim, data={**victim.data, "tampered": True})
    elif field == "at":
        changed = dataclasses.replace(victim, at="2030-01-01T00:00:00.000Z")
    elif field == "type":
        other = ev.NOTE if victim.type != ev.NOTE else ev.PR_UPDATED
        changed = dataclasses.replace(victim, type=other)
    elif field == "source":
        changed = dataclasses.replace(victim, source={**victim.source, "id": "forged"})
    else:
        changed = dataclasses.replace(victim, data={**victim.data, "amount": "999"})
    tampered = [*trail[:i], changed, *trail[i + 1 :]]
    assert ev.verify_chain(tampered, trail[0].run_id) is not None
    # Re-hashing the edited event does not help: the next link, or the head digest, breaks.
    body = changed.body()
    rehashed = dataclasses.replace(changed, hash=ev.chain_hash(changed.prev_hash, body))
    tampered = [*trail[:i], rehashed, *trail[i + 1 :]]
    if i < len(trail) - 1:
        assert ev.verify_chain(tampered, trail[0].run_id) is not None
    else:
        assert tampered[-1].hash != trail[-1].hash


@settings(max_examples=100, deadline=None)
@given(TRAILS, st.data())
def test_fold_of_a_prefix_then_the_rest_is_the_fold_of_all(
    trail: list, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(trail)))
    state = fold(trail[0].run_id, trail[:cut])
    for event in trail[cut:]:
        state = apply(state, event)
    assert state == fold(trail[0].run_id, trail)
    assert state["seq"] == len(trail) and state["head_hash"] == trail[-1].hash


@settings(max_examples=100, deadline=None)
@given(TRAILS)
def test_fold_does_not_change_its_input(trail: list) -> None:
    before = fold(trail[0].run_id, trail[:-1])
    snapshot = repr(before)
    apply(before, trail[-1])
    assert repr(before) == snapshot


def _stdlib_canonical(value: Any) -> bytes:
    """The canonical form every stored hash was computed with (before orjson wrote it)."""
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),  # past 64 bits too
        st.floats(),  # written by the standard library's rules, NaN and all
        st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=6), inner, max_size=4),
        st.dictionaries(st.integers(-3, 3), inner, max_size=2),  # keys JSON turns into text
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES)
def test_canonical_json_is_byte_for_byte_what_stored_hashes_were_made_from(value: Any) -> None:
    # Every hash already in a trail was made from the standard library's bytes: a
    # faster writer that differs in one byte would break every verification.
    try:
        expected = _stdlib_canonical(value)
    except (TypeError, ValueError):  # mixed key types cannot be sorted: refused both ways
        return
    assert ev.canonical_json(value) == expected
