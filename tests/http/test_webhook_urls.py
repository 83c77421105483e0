"""The webhook's answer hands back each run's page, where that page really is."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.support.bot import Bot, load_payload
from tests.support.fake_github import FakeGitHub
from tests.support.setup_flow import SetupBot, setup_env


async def test_answer_links_each_run_under_public_url(bot: Bot) -> None:
    status, body = await bot.deliver("pull_request", load_payload("pull_request.opened"))
    assert (status, body["status"]) == (200, "recorded")
    assert body["runs"]
    assert body["urls"] == [f"https://audit.example.test/runs/{r}" for r in body["runs"]]
    # a redelivery and an ignored event touch no run: no URLs either
    status, body = await bot.deliver("watch", {"action": "started"})
    assert (status, body["status"], body["runs"], body["urls"]) == (200, "ignored", [], [])


async def test_local_mode_answer_links_to_the_local_run_page(
    tmp_path: Path, github: FakeGitHub
) -> None:
    """No secret, no credentials, no PUBLIC_URL: the quick start's bot. The URL in the
    answer is the bot's own listening address, and the page is there."""
    bot = await SetupBot(setup_env(tmp_path, github, PUBLIC_URL="")).start()
    try:
        status, body = await bot.deliver(
            "pull_request", load_payload("pull_request.opened"), secret=None
        )
        assert (status, body["status"]) == (200, "recorded"), body
        [run_id] = body["runs"]
        [url] = body["urls"]
        assert url == f"{bot.url}/runs/{run_id}"
        async with aiohttp.ClientSession() as session, session.get(url) as page:
            assert page.status == 200
            assert "text/html" in page.headers["Content-Type"]
            assert run_id in await page.text()
    finally:
        await bot.stop()


async def test_without_public_url_signed_answers_use_the_host_github_used(make_bot) -> None:
    bot = await make_bot(PUBLIC_URL="")
    status, body = await bot.deliver("pull_request", load_payload("pull_request.opened"))
    assert status == 200
    assert body["urls"] == [f"{bot.url}/runs/{r}" for r in body["runs"]]
