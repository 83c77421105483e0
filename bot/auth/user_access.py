"""Who a signed-in browser is and which repositories GitHub lets them read.

`SignIn.user(cookie)` resolves a session cookie to a `SignedIn`: the login and the
lower-case names of the repositories the user reaches through the App's installations,
as GitHub answered with the user's own token. That answer is cached per session for
`cache_seconds` (default 5 minutes) in a bounded in-memory cache: it is how long a
collaborator GitHub has removed may still read (on this instance). A token GitHub
refuses is refreshed once with the refresh token; if that is refused too, the session
is dropped and the browser is signed out. When GitHub cannot be asked at all the user
reads nothing private for that request (nothing is cached, the session is kept).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from cachetools import TTLCache

from bot.auth.sessions import Session, Sessions, record_key
from bot.github import user_oauth
from bot.github.user_oauth import GitHubUnavailable, Grant, UserTokenRefused

log = logging.getLogger(__name__)

REFRESH_MARGIN = 120  # seconds before a user token expires that it is refreshed


@dataclass(frozen=True)
class SignedIn:
    login: str
    repositories: frozenset[str]  # lower-case owner/name
    key: str = field(repr=False)  # the store's key of the session
    secret: str = field(repr=False)  # what the cookie carries: for the CSRF token

    def may_read(self, repo: str) -> bool:
        return repo.lower() in self.repositories


def grant_tokens(grant: Grant) -> dict[str, Any]:
    """A `Grant` as the session keeps it (sealed)."""
    return {
        "access": grant.access_token,
        "refresh": grant.refresh_token,
        "expires_at": grant.expires_at,
        "refresh_expires_at": grant.refresh_expires_at,
    }


class SignIn:
    """The signed-in side of the read rule, for one process."""

    def __init__(
        self,
        sessions: Sessions,
        http: aiohttp.ClientSession,
        *,
        api_url: str,
        web_url: str,
        client: Callable[[], tuple[str, str] | None],
        cookie: str,
        cache_seconds: float = 300,
        max_users: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.http = http
        self.api_url = api_url
        self.web_url = web_url
        self.client = client
        self.cookie = cookie  # the session cookie's name
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self.cache: TTLCache[str, frozenset[str]] = TTLCache(
            maxsize=max_users, ttl=max(cache_seconds, 0.001), timer=clock
        )

    async def user(self, cookie: str | None) -> SignedIn | None:
        """The signed-in user of a session cookie, or None (no, bad or ended session)."""
        secret = self.sessions.secret_from(cookie)
        if secret is None:
            return None
        session = await self.sessions.load(secret)
        if session is None:
            self.cache.pop(record_key(secret), None)
            return None
        repos = self.cache.get(session.key)
        if repos is None:
            # One question to GitHub per session at a time: a page and its live updates
            # arriving together must not both spend the same refresh token.
            lock = self._locks.setdefault(session.key, asyncio.Lock())
            async with lock:
                repos = self.cache.get(session.key)
                if repos is None:
                    latest = await self.sessions.load_key(session.key)
                    repos = None if latest is None else await self._repositories(latest)
                if repos is None:
                    return None  # GitHub refused the user: signed out
        return SignedIn(session.login, repos, session.key, secret)

    async def forget(self, key: str) -> None:
        self.cache.pop(key, None)
        await self.sessions.end(key)

    async def _repositories(self, session: Session) -> frozenset[str] | None:
        try:
            token = await self._fresh_token(session)
            try:
                repos = await user_oauth.readable_repositories(self.http, self.api_url, token)
            except UserTokenRefused:
                token = await self._refresh(session)
                repos = await user_oauth.readable_repositories(self.http, self.api_url, token)
        except UserTokenRefused:
            log.info("GitHub refused a signed-in user's token; the session is dropped")
            await self.forget(session.key)
            return None
        except GitHubUnavailable as exc:
            log.warning("what a signed-in user may read could not be asked: %s", exc)
            return frozenset()
        self.cache[session.key] = repos
        return repos

    async def _fresh_token(self, session: Session) -> str:
        expires = session.tokens.get("expires_at")
        if isinstance(expires, int) and expires - REFRESH_MARGIN <= time.time():
            return await self._refresh(session)
        return str(session.tokens.get("access") or "")

    async def _refresh(self, session: Session) -> str:
        """A new token pair from the refresh token, kept in the session; refused (the
        session cannot go on) without a refresh token or a client."""
        refresh_token = session.tokens.get("refresh")
        client = self.client()
        if not refresh_token or client is None:
            raise UserTokenRefused("no refresh token")
        try:
            grant = await user_oauth.refresh(self.http, self.web_url, client, str(refresh_token))
        except UserTokenRefused:
            # Another instance may have refreshed first (a refresh token works once):
            # then the store holds the new pair.
            latest = await self.sessions.load_key(session.key)
            if latest is None or latest.tokens.get("refresh") == refresh_token:
                raise
            session.tokens = latest.tokens
            return str(latest.tokens.get("access") or "")
        await self.sessions.save_tokens(session, grant_tokens(grant))
        return grant.access_token
