"""GitHub's side of "Sign in with GitHub": the App's user authorization (web flow).

The browser goes to `{web}/login/oauth/authorize` with the App's client ID, a `state`
and a PKCE challenge (S256); GitHub sends it back with a code, which the bot trades
at `POST {web}/login/oauth/access_token` (client secret and PKCE verifier) for a user
access token, and later trades the refresh token the same way for a new pair. With the
user's token, `GET {api}/user` says who signed in and `GET {api}/user/installations`
and their `/repositories` say which repositories the App may show them.

Tokens are never logged, and the errors below never carry one.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

log = logging.getLogger(__name__)

MAX_INSTALLATIONS = 100  # one page of installations per user
MAX_REPO_PAGES = 10  # pages of 100 repositories per installation
MAX_REPOSITORIES = 10_000  # what one user may read through the bot, at most


class UserTokenRefused(Exception):
    """GitHub refused the code, the token or the refresh token (revoked, expired, wrong)."""


class GitHubUnavailable(Exception):
    """GitHub could not be asked now (network, 5xx, rate limit): try again later."""


@dataclass(frozen=True)
class Grant:
    """A user access token and its refresh token, with when each stops working (epoch s)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: int | None = None
    refresh_expires_at: int | None = None


def pkce_pair() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(
    web_url: str, client_id: str, redirect_uri: str, state: str, challenge: str
) -> str:
    query = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "allow_signup": "false",
    }
    return f"{web_url.rstrip('/')}/login/oauth/authorize?{urlencode(query)}"


async def exchange_code(
    session: aiohttp.ClientSession,
    web_url: str,
    client: tuple[str, str],
    code: str,
    redirect_uri: str,
    verifier: str,
) -> Grant:
    """Trade the callback's code (and the PKCE verifier) for the user's tokens."""
    form = {"code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
    return await _token(session, web_url, client, form)


async def refresh(
    session: aiohttp.ClientSession, web_url: str, client: tuple[str, str], refresh_token: str
) -> Grant:
    """A new token pair from the refresh token (the old pair stops working)."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return await _token(session, web_url, client, form)


async def _token(
    session: aiohttp.ClientSession, web_url: str, client: tuple[str, str], form: dict[str, str]
) -> Grant:
    client_id, client_secret = client
    url = f"{web_url.rstrip('/')}/login/oauth/access_token"
    body = {"client_id": client_id, "client_secret": client_secret, **form}
    try:
        async with session.post(url, data=body, headers={"Accept": "application/json"}) as reply:
            if reply.status >= 500 or reply.status == 429:
                raise GitHubUnavailable(f"GitHub's token endpoint answered {reply.status}")
            try:
                answer = await reply.json(content_type=None)
            except ValueError:
                answer = None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise GitHubUnavailable(
            f"GitHub's token endpoint could not be reached ({exc.__class__.__name__})"
        ) from None
    if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
        error = answer.get("error") if isinstance(answer, dict) else None
        raise UserTokenRefused(f"GitHub refused: {str(error or 'no token in the answer')[:80]}")
    now = int(time.time())
    return Grant(
        access_token=answer["access_token"],
        refresh_token=answer.get("refresh_token") or None,
        expires_at=_after(now, answer.get("expires_in")),
        refresh_expires_at=_after(now, answer.get("refresh_token_expires_in")),
    )


def _after(now: int, seconds: Any) -> int | None:
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds > 0:
        return now + seconds
    return None


async def _get(session: aiohttp.ClientSession, url: str, token: str) -> Any:
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    try:
        async with session.get(url, headers=headers) as reply:
            if reply.status == 401:
                raise UserTokenRefused("GitHub refused the user token (401)")
            if reply.status != 200:
                raise GitHubUnavailable(f"GitHub answered {reply.status}")
            return await reply.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise GitHubUnavailable(f"GitHub could not be asked ({exc.__class__.__name__})") from None


async def get_user(session: aiohttp.ClientSession, api_url: str, token: str) -> tuple[str, int]:
    """The signed-in user's login and numeric ID."""
    user = await _get(session, f"{api_url.rstrip('/')}/user", token)
    if not isinstance(user, dict) or not isinstance(user.get("login"), str):
        raise GitHubUnavailable("GitHub's /user answer has no login")
    return user["login"], int(user.get("id") or 0)


async def readable_repositories(
    session: aiohttp.ClientSession, api_url: str, token: str
) -> frozenset[str]:
    """The lower-case `owner/name` of every repository the user can reach through the
    App's installations (what GitHub lets the App show this user)."""
    base = api_url.rstrip("/")
    found = await _get(session, f"{base}/user/installations?per_page={MAX_INSTALLATIONS}", token)
    installations = found.get("installations") if isinstance(found, dict) else None
    names: set[str] = set()
    for installation in installations or ():
        iid = installation.get("id") if isinstance(installation, dict) else None
        if not isinstance(iid, int):
            continue
        for page in range(1, MAX_REPO_PAGES + 1):
            url = f"{base}/user/installations/{iid}/repositories?per_page=100&page={page}"
            answer = await _get(session, url, token)
            repos = answer.get("repositories") if isinstance(answer, dict) else None
            for repo in repos or ():
                if isinstance(repo, dict) and isinstance(repo.get("full_name"), str):
                    names.add(repo["full_name"].lower())
            if len(names) >= MAX_REPOSITORIES:
                log.warning(
                    "a signed-in user reaches over %d repositories; the rest are not shown",
                    MAX_REPOSITORIES,
                )
                return frozenset(sorted(names)[:MAX_REPOSITORIES])
            if not repos or len(repos) < 100:
                break
    return frozenset(names)
