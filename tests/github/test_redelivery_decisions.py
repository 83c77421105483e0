"""What a redelivery pass decides, without GitHub or a store."""

from __future__ import annotations

from bot.github.redelivery import (
    MAX_REQUESTS,
    WINDOW,
    asked_after,
    choose,
    failing,
    high_water,
    is_past,
)


def attempt(number: int, guid: str, ok: bool = False, at: str = "2024-01-02T00:00:00Z") -> dict:
    return {"id": number, "guid": guid, "status": "OK" if ok else "Invalid", "delivered_at": at}


def test_listing_stops_at_the_mark_or_the_window() -> None:
    now = 1704153600.0  # 2024-01-02T00:00:00Z
    assert is_past(attempt(5, "a"), mark=5, now=now)
    assert not is_past(attempt(6, "a"), mark=5, now=now)
    assert is_past(attempt(6, "a", at="2023-12-01T00:00:00Z"), mark=5, now=now)
    assert not is_past(attempt(6, "a"), mark=5, now=now + WINDOW - 1)


def test_only_guids_never_answered_ok_fail() -> None:
    groups = {"a": [attempt(1, "a"), attempt(2, "a", ok=True)], "b": [attempt(3, "b")]}
    assert list(failing(groups)) == ["b"]


def test_choose_asks_for_the_newest_attempt_waits_and_gives_up() -> None:
    failed = {
        "new": [attempt(1, "new"), attempt(4, "new")],
        "waiting": [attempt(5, "waiting")],
        "spent": [attempt(6, "spent")],
        "recorded": [attempt(7, "recorded")],
    }
    asked = {"new": None, "waiting": "1:5", "spent": f"{MAX_REQUESTS}:2"}
    wanted, given_up = choose(failed, asked)
    assert [(a.guid, a.number, a.count) for a in wanted] == [("new", 4, 0)]
    assert [a.guid for a in given_up] == ["spent"]
    assert asked_after(wanted[0], accepted=True) == "1:4"
    assert asked_after(wanted[0], accepted=False) == "1"


def test_the_mark_stays_below_a_refused_request() -> None:
    assert high_water(10, 20, []) == 20
    assert high_water(10, 20, [15, 18]) == 14
    assert high_water(10, 10, []) is None
    assert high_water(10, 20, [11]) is None
