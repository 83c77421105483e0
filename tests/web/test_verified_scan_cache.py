"""The run page continues its last verified scan instead of re-reading the whole trail.

Real app over HTTP, real SQLite; tampering is done straight in the database file, the
way someone with access to it would.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.web.verified import VERIFIED
from tests.support.bot import Bot
from tests.support.readside import (
    add_notes_directly,
    append,
    db_path,
    note,
    open_agent_run,
    open_pr,
    proof,
    spend,
)

MARK = re.compile(r'<p class="mark (?:ok|broken)" data-verified="(true|false)">(.*?)</p>')
# the signed log's line says whether the integrator has run yet: not what this test checks
LOG_MARK = re.compile(r'<p class="mark log-mark [a-z]+" data-log="[^"]*">.*?</p>')


async def page(bot: Bot, run_id: str) -> str:
    status, text = await bot.request("GET", f"/runs/{run_id}")
    assert status == 200, text
    return str(text)


def mark(html: str) -> tuple[bool, str]:
    """(verified, the mark's words) of a rendered run page or panel."""
    found = MARK.search(html)
    assert found is not None, "the page has no chain mark"
    return found.group(1) == "true", re.sub(r"<[^>]+>", "", found.group(2))


def without_mark(html: str) -> str:
    """The page with the marks' wording (how fresh the check is, whether the log has
    taken the head in yet) left out."""
    return LOG_MARK.sub("<log-mark>", MARK.sub(lambda m: f"<mark {m.group(1)}>", html))


def sql(path: Path, statement: str, *params: Any) -> None:
    with sqlite3.connect(path) as conn:
        assert conn.execute(statement, params).rowcount == 1


def edit(bot: Bot, run_id: str, seq: int) -> None:
    sql(
        db_path(bot),
        "UPDATE events SET data = json_set(data, '$.forged', 1) WHERE run_id = ? AND seq = ?",
        run_id,
        seq,
    )


class CountingReads:
    """The store's own `get_events`, counting the events it hands back."""

    def __init__(self, bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
        self.returned = 0
        self._inner = bot.store.get_events
        monkeypatch.setattr(bot.store, "get_events", self.get_events)

    async def get_events(self, run_id: str, after: int = 0, limit: int | None = None) -> Any:
        events = await self._inner(run_id, after, limit)
        self.returned += len(events)
        return events


async def test_a_render_after_new_events_matches_a_cold_render(bot: Bot) -> None:
    run_id = await open_agent_run(bot, budget={"USD": "10"})
    # over 400 spend events: the chart has merged steps before the page is first seen
    await append(bot, run_id, *(spend("0.01", category=c) for c in ("llm", "api") * 225))
    await append(bot, run_id, spend("2.5", currency="EUR", category="ci"), note("first part"))
    first = await page(bot, run_id)
    assert mark(first) == (True, "✓ Chain verified — all 453 events rehashed just now")

    # and merges them again while continuing
    await append(bot, run_id, *(spend("0.02", category=c) for c in ("llm", "other") * 200))
    await append(bot, run_id, proof(), note("second part"))
    warm = await page(bot, run_id)
    assert mark(warm) == (
        True,
        "✓ Chain verified — the newest 402 events rehashed just now, all 855 within the last 60 s",
    )
    status, live = await bot.request("GET", f"/runs/{run_id}/live?after=453")
    assert status == 200 and mark(live["panel"]) == (
        True,
        "✓ Chain verified — all 855 events rehashed within the last 60 s",  # nothing new
    )

    await bot.restart()  # a new process's cache: a whole pass
    cold = await page(bot, run_id)
    assert mark(cold) == (True, "✓ Chain verified — all 855 events rehashed just now")
    assert without_mark(warm) == without_mark(cold)  # totals, chart, proofs, timeline
    assert "12.50 USD" in cold and "2.50 EUR" in cold and "855 events" in cold
    _, cold_live = await bot.request("GET", f"/runs/{run_id}/live?after=453")
    assert {**live, "panel": without_mark(live["panel"])} == {
        **cold_live,
        "panel": without_mark(cold_live["panel"]),
    }
    assert cold_live["rows"].count("<tr") == 402


async def test_an_edited_new_event_shows_at_once(bot: Bot) -> None:
    run_id = await open_pr(bot)
    await append(bot, run_id, note("one"), note("two"))
    assert mark(await page(bot, run_id))[0]
    await append(bot, run_id, note("three"), note("four"), note("five"))
    edit(bot, run_id, 5)
    verified, words = mark(await page(bot, run_id))
    assert not verified and "event 5: hash does not match its content (edited)" in words
    assert run_id not in bot.app[VERIFIED].entries  # type: ignore[index]
    _, live = await bot.request("GET", f"/runs/{run_id}/live?after=3")
    assert mark(live["panel"])[0] is False


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda bot, run: edit(bot, run, 3), "event 3: hash does not match its content (edited)"),
        (
            lambda bot, run: sql(
                db_path(bot), "DELETE FROM events WHERE run_id = ? AND seq = 3", run
            ),
            "event 3: missing",
        ),
    ],
    ids=["edited", "deleted"],
)
async def test_a_changed_last_verified_event_shows_at_once(
    bot: Bot, tamper: Any, expected: str
) -> None:
    """The event a page's last check ended on is read again: nothing new is needed."""
    run_id = await open_pr(bot)
    await append(bot, run_id, note("one"), note("two"))
    assert mark(await page(bot, run_id))[0]
    tamper(bot, run_id)
    verified, words = mark(await page(bot, run_id))
    assert not verified and expected in words


async def test_a_projection_that_disagrees_sends_the_page_back_to_the_whole_trail(
    bot: Bot,
) -> None:
    """An old event and the projection forged together: the page names the edited event."""
    run_id = await open_pr(bot)
    await append(bot, run_id, spend("1.00"), note("two"))
    assert mark(await page(bot, run_id))[0]
    sql(
        db_path(bot),
        "UPDATE events SET data = json_set(data, '$.amount', '0.10') WHERE run_id = ? AND seq = 2",
        run_id,
    )
    sql(
        db_path(bot),
        "UPDATE runs SET state = json_set(state, '$.spend.USD', '0.1', "
        "'$.spend_by_category.llm.USD', '0.1') WHERE id = ?",
        run_id,
    )
    verified, words = mark(await page(bot, run_id))
    assert not verified and "event 2: hash does not match its content (edited)" in words


async def test_an_edited_old_event_shows_once_the_bound_has_passed(bot: Bot) -> None:
    assert bot.app is not None
    trails = bot.app[VERIFIED]
    run_id = await open_pr(bot)
    await append(bot, run_id, note("one"), note("two"))
    assert mark(await page(bot, run_id))[0]
    edit(bot, run_id, 2)
    await append(bot, run_id, note("three"))
    # Within the bound only the new event and the one it links to are rehashed (README).
    assert mark(await page(bot, run_id)) == (
        True,
        "✓ Chain verified — the newest 1 event rehashed just now, all 4 within the last 60 s",
    )
    trails.max_age = 0.0  # the bound has passed
    verified, words = mark(await page(bot, run_id))
    assert not verified and "event 2: hash does not match its content (edited)" in words
    trails.max_age = 60.0
    assert not mark(await page(bot, run_id))[0]  # a broken trail is never remembered
    assert run_id not in trails.entries


async def test_a_render_reads_only_the_new_events(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = await open_pr(bot)
    await asyncio.to_thread(add_notes_directly, db_path(bot), run_id, 3000)
    reads = CountingReads(bot, monkeypatch)
    # two pages opened at once share one whole pass
    first, second = await asyncio.gather(page(bot, run_id), page(bot, run_id))
    assert mark(first)[0] and mark(second)[0]
    assert reads.returned == 3001 + 1  # the second continued from the first: its anchor

    await append(bot, run_id, spend("0.25"), note("a"), note("b"))
    reads.returned = 0
    status, live = await bot.request("GET", f"/runs/{run_id}/live?after=3001")
    assert status == 200 and mark(live["panel"])[0] and live["seq"] == 3004
    assert reads.returned == 3 + 1  # the new events and the one they link to
    assert "0.25 USD" in live["panel"] and live["rows"].count("<tr") == 3
