"""Missed deliveries: a refused redelivery is asked again; old bookkeeping is forgotten."""

from __future__ import annotations

from bot.github.redelivery import ASKED, MARK, WINDOW, check_once
from tests.github import test_redelivery as redelivery_tests
from tests.github.test_redelivery import NOW, attempt
from tests.support.bot import Bot
from tests.support.fake_github import FakeGitHub

app_bot = redelivery_tests.app_bot  # an App-mode bot with no pass of its own


async def test_a_redelivery_github_refused_is_asked_for_again_on_the_next_pass(
    app_bot: Bot, github: FakeGitHub
) -> None:
    github.hook_deliveries += [
        attempt(10, "lost-in-an-outage", 502),
        attempt(11, "fine", 200),
        attempt(12, "also-lost", 500),
    ]
    github.fail("POST", r"/hook/deliveries/10/attempts$", 503)  # GitHub itself struggling

    assert await check_once(app_bot.app, now=NOW) == [12]
    # GitHub made no new attempt of guid 10, so nothing above the mark would bring it back
    assert await check_once(app_bot.app, now=NOW) == [10]
    assert int(await app_bot.store.get_state(MARK)) == 12
    # and what was asked for is not asked for again while its redelivery is under way
    assert await check_once(app_bot.app, now=NOW) == []
    assert sorted(github.redelivered) == [10, 12]


async def test_counts_of_redeliveries_are_forgotten_once_out_of_githubs_window(
    app_bot: Bot, github: FakeGitHub
) -> None:
    github.hook_deliveries.append(attempt(20, "missed", 502))
    assert await check_once(app_bot.app, now=NOW) == [20]
    assert await app_bot.store.get_state(ASKED + "missed") is not None

    # Still inside the window: the count is what keeps it from being asked forever.
    await check_once(app_bot.app, now=NOW + WINDOW / 2)
    assert await app_bot.store.get_state(ASKED + "missed") is not None
    # Past it GitHub no longer lists or redelivers it: one row per failed guid would
    # otherwise stay in the store for good.
    await check_once(app_bot.app, now=NOW + WINDOW + 3600)
    assert await app_bot.store.get_state(ASKED + "missed") is None
    assert await app_bot.store.get_state(MARK) == "20"
