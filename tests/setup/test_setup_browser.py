"""The manifest flow in a real headless Chromium (Debian's, via playwright), no JavaScript
needed: open the setup URL, submit, land on the callback page; then the running bot, with
no restart, accepts a webhook signed with the App's new secret and posts as the App."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from tests.support.bot import REPO, load_payload
from tests.support.fake_github import APP_SLUG, FakeGitHub
from tests.support.setup_flow import SetupBot, setup_env, token_in
from tests.web.test_pages_browser import ARTIFACTS, DESKTOP, browser, pytestmark

__all__ = ["browser", "pytestmark"]  # the fixture and the skip rule of the page tests


@pytest.mark.parametrize("javascript", [True, False])
async def test_register_in_the_browser_then_post_as_the_app_without_a_restart(
    browser, github: FakeGitHub, tmp_path: Path, javascript: bool
) -> None:
    bot = await SetupBot(setup_env(tmp_path, github)).start()
    try:
        context = await browser.new_context(java_script_enabled=javascript, viewport=DESKTOP)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto(f"{bot.url}/setup?token={token_in(tmp_path)}")
        assert await page.title() == "Register the audit bot on GitHub"
        await page.screenshot(path=ARTIFACTS / f"setup-page-js-{javascript}.png", full_page=True)
        async with page.expect_navigation(url=f"{bot.url}/setup/callback?**"):
            await page.get_by_role("button", name="Register on my account").click()
        await page.wait_for_load_state()
        assert await page.title() == "The audit bot is registered"
        [answer] = github.registered
        install = page.get_by_role("link", name="install the App")
        assert await install.get_attribute("href") == f"{answer['html_url']}/installations/new"
        await page.screenshot(path=ARTIFACTS / f"setup-done-js-{javascript}.png", full_page=True)
        assert errors == []  # CSP violations and script errors land here
        await context.close()

        status, body = await bot.deliver(
            "pull_request", load_payload("pull_request.opened"), secret=answer["webhook_secret"]
        )
        assert (status, body["status"]) == (200, "recorded")
        await bot.settle()
        [comment] = github.comments_on(REPO, 2)
        assert comment["user"]["login"] == f"{APP_SLUG}[bot]"
        mint = next(r for r in github.requests if r.path.endswith("/access_tokens"))
        token = mint.headers["Authorization"].split(" ", 1)[1]
        claims = jwt.decode(token, github.app_public_keys[answer["id"]], algorithms=["RS256"])
        assert claims["iss"] == str(answer["id"])
    finally:
        await bot.stop()
