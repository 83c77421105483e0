"""What one run page may cost: a bounded number of charts and bytes however many
currencies and events the run holds, rendered off the event loop so `/healthz`
answers while it renders; and an append's answer that does not grow with the run."""

from __future__ import annotations

import asyncio
import json
import time

from bot.trail.money import CATEGORIES, MAX_CURRENCIES_PER_RUN
from bot.web.chart import MAX_CHARTS
from tests.support.bot import REPO, Bot
from tests.support.readside import (
    add_notes_directly,
    append,
    db_path,
    open_agent_run,
    spend,
)
from tests.support.reporter_kit import STATIC, post

EVENTS = 20_000
PAGE_BYTES = 2_000_000  # 1,000 timeline rows and the panel: well under this
HEALTHZ_BOUND = 0.5  # s; measured 37-47 ms on a loaded 2-core machine (load average 8)


def code(i: int) -> str:
    return "X" + chr(65 + i // 26) + chr(65 + i % 26)


async def worst_case_run(bot: Bot) -> str:
    """The most currencies a run may hold, in every category, then a long trail."""
    run_id = await open_agent_run(bot)
    wide = [
        spend("0.01", currency=code(i), category=category)
        for i in range(MAX_CURRENCIES_PER_RUN)
        for category in CATEGORIES
    ]
    await append(bot, run_id, *wide)
    add_notes_directly(db_path(bot), run_id, EVENTS)
    return run_id


async def test_a_worst_case_page_is_bounded_and_healthz_answers_while_it_renders(
    bot: Bot,
) -> None:
    run_id = await worst_case_run(bot)
    page = asyncio.create_task(bot.request("GET", f"/runs/{run_id}"))
    waits = []
    while not page.done():
        started = time.monotonic()
        status, body = await bot.request("GET", "/healthz")
        waits.append(time.monotonic() - started)
        assert status == 200, body
        await asyncio.sleep(0.01)
    status, html = await page
    assert status == 200
    assert html.count('<figure class="chart"') == MAX_CHARTS
    # a chart's own svg and one legend swatch per category
    assert html.count("<svg") <= MAX_CHARTS * (1 + len(CATEGORIES))
    assert f"{MAX_CURRENCIES_PER_RUN - MAX_CHARTS} more currencies not charted" in html
    assert len(html.encode()) < PAGE_BYTES
    assert waits and max(waits) < HEALTHZ_BOUND, waits

    status, live = await bot.request("GET", f"/runs/{run_id}/live")
    assert status == 200
    assert live["panel"].count('<figure class="chart"') == MAX_CHARTS


async def test_an_append_answers_the_same_size_however_long_the_run(reporter_bot: Bot) -> None:
    status, opened = await post(reporter_bot, "/api/runs", {"kind": "agent", "repo": REPO}, STATIC)
    assert status == 201, opened
    run_id = opened["id"]
    batch = {"events": [{"type": "spend", "amount": "0.01", "currency": "USD"}]}

    async def answer_size() -> int:
        status, answer = await post(reporter_bot, f"/api/runs/{run_id}/events", batch, STATIC)
        assert status == 201, answer
        return len(json.dumps(answer))

    short = await answer_size()
    add_notes_directly(db_path(reporter_bot), run_id, 5_000)
    assert await answer_size() == short
