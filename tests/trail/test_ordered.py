"""Times and IDs stay ordered when the wall clock steps back."""

from __future__ import annotations

from bot.ids import new_run_id
from bot.trail import events as ev
from bot.trail.events import parse_time
from bot.trail.ordered import MAX_STEP_BACK, not_before, recorded_after
from bot.trail.state import fold

T0 = "2026-12-03T10:00:00Z"
EARLIER = "2026-12-03T09:00:00Z"


def test_run_ids_only_grow_when_the_clock_steps_back() -> None:
    now = 1_800_000_000_000
    first = new_run_id(now)
    after_step = new_run_id(now - 3_600_000)
    same_ms = [new_run_id(now) for _ in range(50)]
    assert first < after_step
    assert [first, after_step, *same_ms] == sorted([first, after_step, *same_ms])
    assert len(set(same_ms)) == 50


def test_an_event_is_never_recorded_before_the_previous_one() -> None:
    assert recorded_after(EARLIER, T0) == T0
    assert recorded_after(T0, EARLIER) == T0
    assert recorded_after(T0, None) == T0
    # A payload's time far ahead (more than a day) is not a floor for the bot's clock.
    assert recorded_after(T0, "2099-01-01T00:00:00Z") == T0
    assert not_before("not a time", T0) == "not a time"


def _event(seq: int, kind: str, at: str, data: dict | None = None) -> ev.Event:
    source = ev.Source(kind="webhook", id=f"d{seq}")
    return ev.seal("r", seq, ev.NewEvent(kind, data or {}, at=at), source, at, "0" * 64)


def test_a_run_never_ends_before_it_started() -> None:
    opened = {"kind": "review", "repo": "o/r", "pr": 1, "head_sha": "a" * 40}
    state = fold("r", [_event(1, ev.RUN_OPENED, T0, opened), _event(2, ev.RUN_CLOSED, EARLIER)])
    assert state["started_at"] == T0
    assert state["ended_at"] == T0 and state["finished_at"] == T0


# Dates and times on either side of the shortcut's edges: the same second with other
# fractions, offsets, no zone, days and hours that do not exist.
TIMES = [
    f"{date}T{clock}{fraction}{zone}"
    for date in ("2019-05-15", "2026-12-31", "2026-13-01", "9999-12-31")
    for clock in ("00:00:00", "15:20:33", "24:00:00")
    for fraction in ("", ".000", ".5", ".999")
    for zone in ("Z", "+01:00", "")
]


def _by_parsing(at: str, floor: str) -> str:
    try:
        return floor if parse_time(floor) > parse_time(at) else at
    except ValueError:
        return at


def test_times_compared_by_their_text_answer_as_parsing_them_does() -> None:
    # Most times are compared without parsing them (every event does it twice): the
    # shortcut must give the answer parsing gives, invalid dates and offsets included.
    for a in TIMES:
        for b in TIMES:
            assert not_before(a, b) == _by_parsing(a, b), (a, b)
            try:
                stepped = parse_time(b) - parse_time(a) > MAX_STEP_BACK
            except ValueError:
                stepped = True
            assert recorded_after(a, b) == (a if stepped else _by_parsing(a, b)), (a, b)
