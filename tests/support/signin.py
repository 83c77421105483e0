"""The "Sign in with GitHub" flow driven over HTTP, without a browser.

`sign_in` walks the redirects a browser would: the bot's `/auth/login`, the fake
GitHub's authorize page, the bot's callback. Cookies are carried by hand (a
`__Host-` cookie is `Secure`, and the bot under test listens on plain http), so a
test sees exactly which cookies the bot set, with which attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from tests.support.bot import Bot
from tests.support.fake_github import FakeGitHub

SESSION_KEY = "a-session-key-only-these-tests-know"
PRIVATE_REPO = "Codertocat/Hello-World"  # tests.support.bot.REPO: readside's default
OTHER_PRIVATE_REPO = "someone-else/secret-project"


def signin_env(github: FakeGitHub, **more: str) -> dict[str, str]:
    client_id, client_secret = github.oauth_client
    return {
        "GITHUB_CLIENT_ID": client_id,
        "GITHUB_CLIENT_SECRET": client_secret,
        "AUDIT_SESSION_KEY": SESSION_KEY,
        "GITHUB_WEB_URL": github.url,
        **more,
    }


@dataclass
class Jar:
    """Cookies by name, as the bot set them (with their attributes)."""

    cookies: dict[str, Any] = field(default_factory=dict)  # name -> Morsel

    def take(self, response: aiohttp.ClientResponse) -> None:
        for header in response.headers.getall("Set-Cookie", []):
            parsed: SimpleCookie = SimpleCookie()
            parsed.load(header)
            for name, morsel in parsed.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel

    def header(self) -> dict[str, str]:
        if not self.cookies:
            return {}
        return {"Cookie": "; ".join(f"{k}={m.value}" for k, m in self.cookies.items())}


def local(bot: Bot, url: str) -> str:
    """A PUBLIC_URL address as the bot under test serves it (on loopback)."""
    parts = urlsplit(url)
    return bot.url + parts.path + (f"?{parts.query}" if parts.query else "")


async def get(bot: Bot, jar: Jar, path: str, **kwargs: Any) -> tuple[int, str, Any]:
    """GET on the bot with the jar's cookies; (status, body, headers). No redirects."""
    assert bot.session is not None
    url = path if path.startswith("http") else bot.url + path
    headers = {**jar.header(), **kwargs.pop("headers", {})}
    async with bot.session.get(url, headers=headers, allow_redirects=False, **kwargs) as reply:
        jar.take(reply)
        return reply.status, await reply.text(), reply.headers


async def begin(bot: Bot, jar: Jar, next_path: str | None = None) -> str:
    """`/auth/login`: the authorize URL the bot sends the browser to."""
    params = {"next": next_path} if next_path is not None else {}
    status, _, headers = await get(bot, jar, "/auth/login", params=params)
    assert status == 302, status
    return headers["Location"]


async def authorize(bot: Bot, authorize_url: str) -> str:
    """The fake GitHub's authorize page: where it sends the browser back (on the bot)."""
    assert bot.session is not None
    async with bot.session.get(authorize_url, allow_redirects=False) as reply:
        assert reply.status == 302, await reply.text()
        return local(bot, reply.headers["Location"])


async def sign_in(bot: Bot, next_path: str | None = None) -> tuple[Jar, str]:
    """The whole flow; the jar holds the session cookie, and where the bot sent us."""
    jar = Jar()
    back = await authorize(bot, await begin(bot, jar, next_path))
    status, body, headers = await get(bot, jar, back)
    assert status == 302, (status, body)
    return jar, headers["Location"]
