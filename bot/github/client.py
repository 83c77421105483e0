"""A `GitHubAPI` per installation, sharing one session, each with its own ETag cache.

gidgethub keys its cache by URL alone, so two installations must never share one:
a 304 for one installation's token would serve the other's cached body.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from cachetools import LRUCache
from gidgethub.aiohttp import GitHubAPI

from bot.github.auth import USER_AGENT, Credentials
from bot.github.pacing import PacedGitHubAPI, RateLimitSeen, WritePacer, WriteSlots


class GitHub:
    def __init__(
        self, session: aiohttp.ClientSession, credentials: Credentials, slots: WriteSlots
    ) -> None:
        self.session = session
        self.credentials = credentials
        self._caches: LRUCache[int | None, LRUCache[str, Any]] = LRUCache(maxsize=1024)
        self._login: str | None = None
        self._login_lock = asyncio.Lock()
        # Writes are paced per installation (GitHub's secondary limits), counted in the
        # store; the last primary rate limit GitHub reported is kept per installation
        # for /metrics.
        self.pacer = WritePacer(slots)
        self.rate_limits: dict[int | None, RateLimitSeen] = {}

    def _cache_for(self, installation_id: int | None) -> LRUCache[str, Any]:
        cache = self._caches.get(installation_id)
        if cache is None:
            cache = LRUCache(maxsize=256)
            self._caches[installation_id] = cache
        return cache

    async def api(self, installation_id: int | None) -> GitHubAPI:
        """An API client acting as the installation (or the token's user)."""
        token = await self.credentials.token_for(installation_id)
        return PacedGitHubAPI(
            self.session,
            USER_AGENT,
            oauth_token=token,
            cache=self._cache_for(installation_id),
            base_url=self.credentials.api_url,
            installation_id=installation_id,
            pacer=self.pacer,
            seen=self.rate_limits,
        )

    def app_api(self) -> GitHubAPI:
        """An API client acting as the App itself (JWT), for /app endpoints."""
        return GitHubAPI(self.session, USER_AGENT, base_url=self.credentials.api_url)

    async def bot_login(self, installation_id: int | None) -> str:
        """The login the bot's comments are authored by: `<slug>[bot]` or the user."""
        if self._login is not None:
            return self._login
        async with self._login_lock:  # refreshes racing on a fresh process ask once
            if self._login is None:
                self._login = await self._fetch_login(installation_id)
        return self._login

    async def _fetch_login(self, installation_id: int | None) -> str:
        if self.credentials.is_app:
            app = await self.app_api().getitem("/app", jwt=self.credentials.app_jwt())
            return f"{app['slug']}[bot]"
        gh = await self.api(installation_id)
        return str((await gh.getitem("/user"))["login"])
