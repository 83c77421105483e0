"""A bot in setup mode whose PUBLIC_URL is its own loopback address, and the flow's steps.

The port is bound before the app is built (as `audit-bot serve` does), so the manifest's
`redirect_url` brings the browser back to this very bot.
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import aiohttp

from bot.app import create_app
from bot.cli.listen import listen
from bot.config import load_settings
from bot.http import server
from tests.support.bot import Bot
from tests.support.fake_github import FakeGitHub


def setup_env(tmp_path: Path, github: FakeGitHub, **extra: str) -> dict[str, str]:
    """No GitHub credentials, no webhook secret: setup mode."""
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path}/audit.db",
        "GITHUB_API_URL": github.url,
        "GITHUB_WEB_URL": github.url,
        "HOST": "127.0.0.1",
        "AUDIT_COMMENT_DEBOUNCE_SECONDS": "0",
        **extra,
    }


class SetupBot(Bot):
    """`PUBLIC_URL` = the bot's own URL unless the env names one (or sets it to "")."""

    async def start(self) -> SetupBot:
        sock = listen("127.0.0.1", 0)
        port = sock.getsockname()[1]
        env = {"PUBLIC_URL": f"http://127.0.0.1:{port}", **self.env, "PORT": str(port)}
        settings = load_settings(env)
        self.app = create_app(settings)
        # served as `audit-bot serve` serves it (its access log, its read timeouts)
        self.runner, _ = await server.start(self.app, settings, "127.0.0.1", port, sock=sock)
        self.url = f"http://127.0.0.1:{port}"
        self.session = aiohttp.ClientSession()
        return self


def token_in(tmp_path: Path) -> str:
    return (tmp_path / "setup-token").read_text().strip()


def registration_form(page: str) -> tuple[str, str]:
    """The form's action (GitHub's registration URL with the state) and its manifest."""
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    manifest = re.search(r'name="manifest" value="([^"]+)"', page)
    assert action and manifest, page
    return unescape(action.group(1)), unescape(manifest.group(1))


async def submit(bot: SetupBot, action: str, manifest: str) -> str:
    """What the browser does with the form: POST to GitHub, return where it redirects."""
    assert bot.session is not None
    async with bot.session.post(
        action, data={"manifest": manifest}, allow_redirects=False
    ) as response:
        assert response.status == 302, await response.text()
        return response.headers["Location"]


async def get(bot: SetupBot, url: str) -> tuple[int, str]:
    assert bot.session is not None
    async with bot.session.get(url, allow_redirects=False) as response:
        return response.status, await response.text()


async def register(bot: SetupBot, token: str, **query: Any) -> tuple[int, str]:
    """The whole flow over plain HTTP: the setup page, GitHub's form, the callback."""
    status, page = await get(bot, f"{bot.url}/setup?token={token}")
    assert status == 200, page
    callback = await submit(bot, *registration_form(page))
    return await get(bot, callback)
