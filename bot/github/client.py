"""A `GitHubAPI` per installation, sharing one session, each with its own ETag cache.

gidgethub keys its cache by URL alone, so two installations must never share one:
a 304 for one installation's token would serve the other's cached body. Their caches
are views of one LRU cache bounded in bytes: a comment listing can hold megabytes,
and a count of entries per installation would not bound the whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, MutableMapping
from typing import Any

import aiohttp
import orjson
from cachetools import LRUCache
from gidgethub.aiohttp import GitHubAPI

from bot.github.auth import USER_AGENT, Credentials
from bot.github.pacing import PacedGitHubAPI, RateLimitSeen, WritePacer, WriteSlots

ETAG_CACHE_BYTES = 16 * 1024 * 1024  # cached answers of all installations together

Entry = tuple[str | None, str | None, Any, str | None]  # gidgethub's (etag, modified, data, more)


def entry_size(entry: Entry) -> int:
    """About the memory a cached answer takes: its body as JSON, plus the headers."""
    try:
        return len(orjson.dumps(entry[2])) + 256
    except orjson.JSONEncodeError:  # not from JSON (an integer beyond 64 bits, say)
        return len(repr(entry[2])) + 256


class InstallationCache(MutableMapping[str, Entry]):
    """One installation's part of the shared ETag cache, keyed by (installation, URL)."""

    def __init__(
        self, shared: LRUCache[tuple[int | None, str], Entry], installation: int | None
    ) -> None:
        self._shared = shared
        self._installation = installation

    def __getitem__(self, url: str) -> Entry:
        return self._shared[(self._installation, url)]

    def __setitem__(self, url: str, entry: Entry) -> None:
        try:
            self._shared[(self._installation, url)] = entry
        except ValueError:  # larger than the whole cache: answered, not kept
            self._shared.pop((self._installation, url), None)

    def __delitem__(self, url: str) -> None:
        del self._shared[(self._installation, url)]

    def __iter__(self) -> Iterator[str]:
        return iter([url for owner, url in list(self._shared) if owner == self._installation])

    def __len__(self) -> int:
        return sum(1 for owner, _ in list(self._shared) if owner == self._installation)


class GitHub:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        credentials: Credentials,
        slots: WriteSlots,
        *,
        cache_bytes: int = ETAG_CACHE_BYTES,
    ) -> None:
        self.session = session
        self.credentials = credentials
        self.etags: LRUCache[tuple[int | None, str], Entry] = LRUCache(
            maxsize=cache_bytes, getsizeof=entry_size
        )
        self._login: str | None = None
        self._login_lock = asyncio.Lock()
        # Writes are paced per installation (GitHub's secondary limits), counted in the
        # store; the last primary rate limit GitHub reported is kept per installation
        # for /metrics.
        self.pacer = WritePacer(slots)
        self.rate_limits: dict[int | None, RateLimitSeen] = {}

    async def api(self, installation_id: int | None) -> GitHubAPI:
        """An API client acting as the installation (or the token's user)."""
        token = await self.credentials.token_for(installation_id)
        return PacedGitHubAPI(
            self.session,
            USER_AGENT,
            oauth_token=token,
            cache=InstallationCache(self.etags, installation_id),
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
