"""The run page's spend chart: exact totals, and bounded however long the trail."""

from __future__ import annotations

import re
from decimal import Decimal

from bot.trail import events as ev
from bot.web.chart import MAX_STEPS, WIDTH, SpendSeries, spend_chart
from tests.support.bot import Bot
from tests.support.readside import append, note, open_pr, spend


def event(seq: int, etype: str = ev.SPEND, **data: object) -> ev.Event:
    return ev.Event("0" * 26, seq, etype, "", "", {}, data, "0" * 64, "0" * 64)


def polygons(svg: str) -> list[list[tuple[float, float]]]:
    return [
        [tuple(map(float, pair.split(","))) for pair in points.split()]  # type: ignore[misc]
        for points in re.findall(r'<polygon points="([^"]+)"', svg)
    ]


def test_a_short_trail_is_drawn_event_by_event() -> None:
    events = [
        event(1, ev.RUN_OPENED),
        event(2, amount="0.10", currency="USD", category="llm"),
        event(3, ev.NOTE, text="x"),
        event(4, amount="0.05", currency="USD", category="api"),
        event(5, amount="1.25", currency="USDC", category="payment"),
        event(6, amount="oops", currency="USD"),  # unreadable: passed over
    ]
    series = SpendSeries.of(events)
    [(usd, usd_steps, usd_count), (usdc, _, usdc_count)] = series.series()
    assert (usd, usd_count, usdc, usdc_count) == ("USD", 2, "USDC", 1)
    assert [(s.seq, s.amounts) for s in usd_steps] == [
        (2, {"llm": Decimal("0.10")}),
        (4, {"api": Decimal("0.05")}),
    ]
    svg = spend_chart(series, 6)
    assert svg.count('class="spend-chart"') == 2  # one chart per currency
    _, api = polygons(svg.split("</figure>")[0])
    step_at = (4 - 1) / 6 * WIDTH  # the api spend starts at event 4's slot
    assert any(abs(x - step_at) < 0.1 for x, _ in api)
    assert "0.15 USD" in svg and "2 spend events among 6 events" in svg


def test_a_long_trail_stays_a_few_hundred_steps_with_exact_totals() -> None:
    series = SpendSeries()
    count = 50_000
    for seq in range(1, count + 1):
        category = "llm" if seq % 3 else "ci"
        series.add(event(seq, amount="0.001", currency="USD", category=category))
    [(_, steps, spent)] = series.series()
    assert spent == count and len(steps) <= MAX_STEPS
    totals: dict[str, Decimal] = {}
    for step in steps:
        for category, amount in step.amounts.items():
            totals[category] = totals.get(category, Decimal(0)) + amount
    assert totals == {"llm": Decimal("33.334"), "ci": Decimal("16.666")}  # not a cent lost
    # a step covers `width` events, drawn at its first: under 2 / MAX_STEPS of the chart
    assert series.width < 2 * count / MAX_STEPS
    assert [s.seq for s in steps] == list(range(1, count + 1, series.width))
    svg = spend_chart(series, count)
    assert len(svg) < 60_000 and "50.00 USD" in svg
    assert all(len(points) <= 4 * MAX_STEPS + 8 for points in polygons(svg))


async def test_the_run_page_of_a_long_spending_run_stays_small(bot: Bot) -> None:
    run_id = await open_pr(bot)
    for _ in range(8):
        await append(bot, run_id, *(spend("0.01", category=c) for c in ("llm", "api") * 150))
    await append(bot, run_id, note("done"))
    assert bot.session is not None
    async with bot.session.get(f"{bot.url}/runs/{run_id}") as response:
        assert response.status == 200
        page = await response.text()
    chart = page[page.index('<figure class="chart"') : page.index("</figure>")]
    assert "24.00 USD" in chart and "2,400 spend events" not in chart
    assert "2400 spend events among 2402 events" in chart
    assert len(chart) < 40_000, f"the chart grew to {len(chart):,} characters"
