"""A run page asked for again is served from the rendered-page cache: it must still
show every change to the run and never skip the read rule."""

from __future__ import annotations

from bot.http.access import run_link_token
from bot.web.pages import RENDERED
from bot.workers.log_integrator import INTEGRATOR
from tests.support.bot import SECRET, Bot
from tests.support.readside import append, note, open_pr


async def test_a_cached_page_shows_each_new_event_and_keeps_the_read_rule(bot: Bot) -> None:
    assert bot.app is not None
    await bot.app[INTEGRATOR].stop()  # the log's line would change the page between reads
    run_id = await open_pr(bot, 5, repo="octo-org/secret", private=True)
    token = run_link_token(SECRET, run_id)
    path = f"/runs/{run_id}?t={token}"

    status, first = await bot.request("GET", path)
    assert status == 200 and "rehashed just now" in first
    # later reads continue the verified scan ("within the last 60 s"): one more render,
    # then the same bytes from the cache
    pages = [(await bot.request("GET", path))[1] for _ in range(3)]
    assert "rehashed within the last 60 s" in pages[0] and pages.count(pages[0]) == 3
    assert len(bot.app[RENDERED]) == 2

    await append(bot, run_id, note("a note that came later"))
    status, later = await bot.request("GET", path)
    assert status == 200 and "a note that came later" in later

    status, _ = await bot.request("GET", f"/runs/{run_id}")
    assert status == 404  # the cache sits behind the read rule: no token, no page
