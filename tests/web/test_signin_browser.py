"""Sign in with GitHub in a real headless Chromium: the link on a page, GitHub's
authorize page (the fake's, which approves at once), back on the run page signed in,
the CSV download, and the sign-out button. Served on a fixed loopback port so that
PUBLIC_URL (the OAuth redirect) is where the browser really is."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.bot import Bot
from tests.support.fake_github import FakeGitHub
from tests.support.readside import append, open_pr, spend
from tests.support.signin import OTHER_PRIVATE_REPO, PRIVATE_REPO, signin_env
from tests.web.test_pages_browser import ARTIFACTS, DESKTOP, browser, new_page, pytestmark

__all__ = ["browser", "pytestmark"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def served(bot_env: dict[str, str], github: FakeGitHub) -> AsyncIterator[Bot]:
    port = free_port()
    env = {**bot_env, **signin_env(github), "PUBLIC_URL": f"http://127.0.0.1:{port}"}
    github.user_installations["octo-maintainer"] = {77: [PRIVATE_REPO]}
    bot = await Bot(env, port=port).start()
    yield bot
    await bot.stop()


async def test_sign_in_read_a_private_run_and_its_csv_then_sign_out(
    browser: Any, served: Bot
) -> None:
    bot = served
    mine = await open_pr(bot, 2, repo=PRIVATE_REPO, private=True)
    theirs = await open_pr(bot, 3, repo=OTHER_PRIVATE_REPO, private=True)
    await append(bot, mine, spend("4.20"))
    page = await new_page(browser, DESKTOP)

    answer = await page.goto(f"{bot.url}/runs/{mine}")
    assert answer.status == 404
    assert await page.locator("h1").inner_text() == "No such run"
    await page.get_by_role("link", name="Sign in with GitHub").click()
    await page.wait_for_url(f"{bot.url}/runs/{mine}")
    assert "octo-maintainer" in await page.locator("header").inner_text()
    assert mine in await page.content()
    await page.screenshot(path=str(ARTIFACTS / "signed-in-run.png"), full_page=True)
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["audit_session"]["httpOnly"] and cookies["audit_session"]["sameSite"] == "Lax"
    assert await page.evaluate("document.cookie") == ""  # HttpOnly: no script reads it

    csv = await page.request.get(f"{bot.url}/api/spend?repo={PRIVATE_REPO}&format=csv")
    assert csv.status == 200 and "4.2" in await csv.text()
    other = await page.goto(f"{bot.url}/runs/{theirs}")
    assert other.status == 404

    await page.goto(f"{bot.url}/runs/{mine}")
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_load_state()
    assert await page.locator("h1").inner_text() == "No such run"
    assert await page.get_by_role("link", name="Sign in with GitHub").count() == 1
    assert "audit_session" not in {c["name"] for c in await page.context.cookies()}
    # no script error, no CSP violation (the form posts to self); the 404 pages
    # themselves are the only failed loads
    assert [e for e in page.errors if "status of 404" not in e] == []
