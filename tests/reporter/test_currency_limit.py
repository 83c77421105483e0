"""At most `MAX_CURRENCIES_PER_RUN` currencies per run: past it a 422 names the field,
and nothing of the batch is written."""

from __future__ import annotations

from bot.store.base import RunFilter
from bot.trail.money import MAX_CURRENCIES_PER_RUN
from tests.support.bot import REPO, Bot
from tests.support.reporter_kit import STATIC, post


def code(i: int) -> str:
    return "X" + chr(65 + i // 26) + chr(65 + i % 26)


def spend(currency: str) -> dict[str, str]:
    return {"type": "spend", "amount": "0.01", "currency": currency, "category": "api"}


async def test_a_currency_past_the_limit_is_a_422_naming_it_and_nothing_is_written(
    reporter_bot: Bot,
) -> None:
    full = [spend(code(i)) for i in range(MAX_CURRENCIES_PER_RUN)]
    status, opened = await post(
        reporter_bot, "/api/runs", {"kind": "agent", "repo": REPO, "events": full}, STATIC
    )
    assert status == 201, opened
    run_id = opened["id"]
    before = await reporter_bot.store.get_run(run_id)
    assert len(before["spend"]) == MAX_CURRENCIES_PER_RUN

    batch = {"events": [spend(code(0)), {"type": "note", "text": "x"}, spend("EUR")]}
    status, answer = await post(reporter_bot, f"/api/runs/{run_id}/events", batch, STATIC)
    assert status == 422, answer
    [error] = answer["errors"]
    assert error["path"] == "events[2].currency"
    assert f"already spends in {MAX_CURRENCIES_PER_RUN} currencies" in error["reason"]
    after = await reporter_bot.store.get_run(run_id)
    assert after["seq"] == before["seq"] and after["spend"] == before["spend"]

    # A currency the run already has is still welcome.
    status, answer = await post(
        reporter_bot, f"/api/runs/{run_id}/events", {"events": [spend(code(3))]}, STATIC
    )
    assert status == 201, answer
    assert len(answer["spend"]) == MAX_CURRENCIES_PER_RUN


async def test_opening_a_run_with_too_many_currencies_opens_nothing(reporter_bot: Bot) -> None:
    events = [spend(code(i)) for i in range(MAX_CURRENCIES_PER_RUN + 1)]
    body = {"kind": "agent", "repo": REPO, "events": events}
    status, answer = await post(reporter_bot, "/api/runs", body, STATIC)
    assert status == 422, answer
    assert answer["errors"][0]["path"] == f"events[{MAX_CURRENCIES_PER_RUN}].currency"
    assert not await reporter_bot.store.list_runs(RunFilter(repo=REPO, kind="agent"))
