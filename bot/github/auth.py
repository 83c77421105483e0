"""GitHub credentials: an App's installation tokens, or one personal token.

Installation tokens live an hour; they are cached per installation until a minute
before `expires_at`, and minted under a per-installation lock so a burst of work
for one installation asks GitHub once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp
from cachetools import TLRUCache
from gidgethub import apps
from gidgethub.aiohttp import GitHubAPI

from bot.trail.times import parse_time

USER_AGENT = "audit-bot"
TOKEN_MARGIN = 60.0  # seconds before expiry at which a cached token is refreshed


@dataclass(frozen=True)
class _Token:
    value: str
    refresh_at: float  # time.monotonic() deadline


def _token_ttu(_key: int, token: _Token, now: float) -> float:
    return token.refresh_at


class Credentials:
    """Hands out a token for an installation (App mode) or the one token (token mode)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_url: str,
        app_id: int | None = None,
        private_key: str | None = None,
        token: str | None = None,
    ) -> None:
        self._session = session
        self.api_url = api_url
        self.app_id = app_id
        self._private_key = private_key
        self._token = token
        self._cache: TLRUCache[int, _Token] = TLRUCache(
            maxsize=4096, ttu=_token_ttu, timer=time.monotonic
        )
        self._locks: dict[int, asyncio.Lock] = {}

    @property
    def is_app(self) -> bool:
        return self.app_id is not None

    def app_jwt(self) -> str:
        """A fresh App JWT (gidgethub back-dates `iat` by 60 s for clock drift)."""
        assert self.app_id is not None and self._private_key is not None
        return apps.get_jwt(app_id=str(self.app_id), private_key=self._private_key)

    async def token_for(self, installation_id: int | None) -> str:
        if not self.is_app:
            assert self._token is not None
            return self._token
        if installation_id is None:
            raise LookupError("no installation id: the App cannot act on this repository")
        cached = self._cache.get(installation_id)
        if cached is not None:
            return cached.value
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            cached = self._cache.get(installation_id)
            if cached is not None:
                return cached.value
            gh = GitHubAPI(self._session, USER_AGENT, base_url=self.api_url)
            reply = await gh.post(
                f"/app/installations/{installation_id}/access_tokens",
                data=b"",
                jwt=self.app_jwt(),
            )
            lifetime = parse_time(reply["expires_at"]).timestamp() - time.time()
            refresh_at = time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN)
            token = _Token(reply["token"], refresh_at)
            self._cache[installation_id] = token
            return token.value

    def forget(self, installation_id: int | None) -> None:
        """Drop a token GitHub refused (revoked or expired early)."""
        if installation_id is not None:
            self._cache.pop(installation_id, None)
