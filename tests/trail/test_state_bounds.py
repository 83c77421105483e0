"""A run's state does not grow with its trail: it keeps the newest proofs only, and a
spend past the currency limit is refused before it is folded in."""

from __future__ import annotations

import pytest

from bot.trail import events as ev
from bot.trail.money import MAX_CURRENCIES_PER_RUN, check_currency_room
from bot.trail.state import MAX_PROOFS_IN_STATE, fold
from bot.trail.validation import InvalidInput

SOURCE = ev.Source("api", "test")
T0 = "2026-01-01T00:00:00.000Z"


def trail(bodies: list[ev.NewEvent]) -> list[ev.Event]:
    sealed, prev = [], ev.GENESIS_HASH
    for seq, new in enumerate(bodies, start=1):
        event = ev.seal("r", seq, new, SOURCE, T0, prev)
        sealed.append(event)
        prev = event.hash
    return sealed


def proof(i: int) -> ev.NewEvent:
    return ev.NewEvent(ev.PROOF, {"network": "eip155:8453", "tx": f"0x{i:064x}"})


def test_the_state_keeps_the_newest_proofs_only() -> None:
    events = trail([proof(i) for i in range(MAX_PROOFS_IN_STATE + 50)])
    state = fold("r", events)
    assert len(state["proofs"]) == MAX_PROOFS_IN_STATE
    assert state["proofs"][-1]["tx"] == f"0x{MAX_PROOFS_IN_STATE + 49:064x}"
    assert state["proofs"][0]["tx"] == f"0x{50:064x}"
    assert state["seq"] == MAX_PROOFS_IN_STATE + 50  # every proof is still in the trail


def test_a_new_currency_past_the_limit_is_refused_and_a_known_one_is_not() -> None:
    full = {f"X{i:02d}": "1" for i in range(MAX_CURRENCIES_PER_RUN)}
    check_currency_room(full, "X00")
    check_currency_room(dict(list(full.items())[:-1]), "EUR")
    with pytest.raises(InvalidInput) as refused:
        check_currency_room(full, "EUR")
    assert refused.value.path == "currency"
    assert f"already spends in {MAX_CURRENCIES_PER_RUN} currencies" in refused.value.reason
