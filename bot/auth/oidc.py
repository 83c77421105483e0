"""Verify GitHub Actions OIDC tokens presented by CI steps.

A workflow job with ``permissions: id-token: write`` can ask GitHub for a short-lived
RS256 JWT naming its repository, ref and workflow. Checking that JWT against the
issuer's published keys lets a CI step prove where it runs without any shared secret.

Only RS256 is accepted and the algorithm is fixed here, never taken from the token,
so ``alg: none`` and HS256-signed-with-the-public-key tokens cannot get through.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import aiohttp
import jwt
from cachetools import TTLCache

from bot.auth.tokens import globs_cover, normalise_repository_glob

log = logging.getLogger(__name__)

#: The issuer of GitHub.com's Actions tokens, for callers that configure the verifier.
GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"
#: Where GitHub.com publishes the keys that sign those tokens.
GITHUB_ACTIONS_JWKS_URL = GITHUB_ACTIONS_ISSUER + "/.well-known/jwks"

_ALGORITHM = "RS256"
_REQUIRED_CLAIMS = ["repository", "exp", "iat", "iss", "aud"]
# PyJWT's errors as the short reasons a reporter is told; the first that matches wins.
_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "token has expired"),
    (jwt.ImmatureSignatureError, "token is not valid yet"),
    (jwt.InvalidAudienceError, "token audience is not accepted"),
    (jwt.InvalidIssuerError, "token issuer is not accepted"),
    (jwt.InvalidSignatureError, "token signature is invalid"),
    (jwt.InvalidAlgorithmError, "token algorithm is not accepted (RS256 only)"),
)


def _reason(err: jwt.PyJWTError) -> str:
    """Why PyJWT refused a token, in words (a missing claim is named)."""
    if isinstance(err, jwt.MissingRequiredClaimError):
        return f"token lacks the {err.claim!r} claim"
    return next((reason for kind, reason in _REASONS if isinstance(err, kind)), "malformed token")


_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_PULL_REF = re.compile(r"refs/pull/([0-9]+)/(?:merge|head)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_JWKS = "jwks"
#: After a failed JWKS download, wait this long before trying again, so an outage
#: of the issuer does not queue every request behind a slow download.
RETRY_AFTER_FAILURE = 5.0
_UNAVAILABLE = "cannot fetch the issuer's signing keys"


class AuthError(Exception):
    """A credential was refused; ``str(err)`` is short and safe to send back (401).

    It lives here rather than in ``bot.auth`` so that the verifier can raise it
    without a circular import; ``bot.auth`` re-exports it.
    """


class AuthUnavailable(AuthError):
    """The credential could not be checked because a dependency failed (503, not 401).

    Raised when the issuer's signing keys cannot be fetched: the caller did nothing
    wrong and may retry, so answering 401 would mislead it.
    """


@dataclass(frozen=True)
class OIDCClaims:
    """The verified facts an Actions token states about the job that holds it.

    Identifiers stay strings, as GitHub sends them; absent optional claims are None.
    ``pr_number`` is derived from ``ref`` (``refs/pull/N/merge`` or ``/head``) so that
    it travels with the claims, e.g. through ``dataclasses.asdict``.
    """

    repository: str
    repository_owner: str
    repository_id: str | None
    ref: str | None
    sha: str | None
    run_id: str | None
    run_attempt: str | None
    workflow: str | None
    job_workflow_ref: str | None
    event_name: str | None
    actor: str | None
    jti: str | None
    sub: str | None = None
    pr_number: int | None = field(init=False)

    def __post_init__(self) -> None:
        """Derive ``pr_number`` once, so it can never disagree with ``ref``."""
        match = _PULL_REF.fullmatch(self.ref or "")
        object.__setattr__(self, "pr_number", int(match.group(1)) if match else None)

    @property
    def subject(self) -> str:
        """Repository and workflow name on one line, safe to put in a log."""
        if not self.workflow:
            return self.repository
        workflow = _CONTROL.sub("?", self.workflow)[:100]
        return f"{self.repository} ({workflow})"


def _split_workflow_glob(glob: str) -> tuple[str, str]:
    """Split a ``path@ref`` policy glob, refusing shapes that cannot be matched safely."""
    path, at, ref = glob.partition("@")
    if not at or not path or not ref or "@" in ref:
        raise ValueError(
            "a job_workflow_ref policy must look like "
            "owner/repo/.github/workflows/file.yml@ref (one '@', globs allowed)"
        )
    return path.lower(), ref


def _check_repository_glob(glob: str) -> str:
    """Normalise a configured repository glob, failing at start when it is malformed."""
    normalised = normalise_repository_glob(glob)
    if normalised is None:
        raise ValueError(f"repository glob {glob!r} must look like owner/name (e.g. acme/*)")
    return normalised


def _optional_str(payload: Mapping[str, Any], name: str) -> str | None:
    """Read an optional claim as text; numbers are accepted for GitHub's numeric ids."""
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise AuthError(f"token claim {name!r} has the wrong type")
    return str(value)


class OIDCVerifier:
    """Check GitHub Actions OIDC tokens and turn them into :class:`OIDCClaims`.

    The issuer's key set is cached for ``jwks_ttl`` seconds; a token signed with a
    key the cache does not know triggers one early refetch at most every
    ``refetch_interval`` seconds, so rotation is picked up quickly while made-up
    key ids cannot make the bot hammer the issuer. If a refresh fails, the last good
    key set keeps being used.

    ``policies`` maps a repository glob to the ``job_workflow_ref`` glob its tokens
    must carry (``path@ref``; the path part matches case-insensitively, the ref part
    case-sensitively because git refs are). Every policy whose repository glob
    matches applies. ``allowed_repositories`` (globs), when given, limits which
    repositories may authenticate at all: any GitHub user can obtain a token with
    our audience for a repository of their own.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        issuer: str,
        audience: str,
        jwks_url: str,
        leeway: int = 60,
        policies: Mapping[str, str] | None = None,
        allowed_repositories: Collection[str] | None = None,
        jwks_ttl: float = 600.0,
        refetch_interval: float = 60.0,
        fetch_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not issuer or not audience or not jwks_url:
            raise ValueError("issuer, audience and jwks_url must all be set")
        self._session = session
        self._issuer = issuer
        self._audience = audience
        self._jwks_url = jwks_url
        self._leeway = leeway
        self._policies = [
            (_check_repository_glob(repo), _split_workflow_glob(workflow))
            for repo, workflow in (policies or {}).items()
        ]
        self._allowed = (
            None
            if allowed_repositories is None
            else tuple(_check_repository_glob(glob) for glob in allowed_repositories)
        )
        self._refetch_interval = refetch_interval
        self._timeout = aiohttp.ClientTimeout(total=fetch_timeout)
        self._clock = clock
        self._fresh: TTLCache[str, dict[str, jwt.PyJWK]] = TTLCache(
            maxsize=1, ttl=jwks_ttl, timer=clock
        )
        self._last_good: dict[str, jwt.PyJWK] | None = None
        self._retry_at = float("-inf")
        self._next_forced_refetch = float("-inf")
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> OIDCClaims:
        """Return the claims of a valid token, or raise :class:`AuthError`."""
        if not token.isascii():  # PyJWT encodes it to UTF-8 first, which may raise
            raise AuthError("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        if header.get("alg") != _ALGORITHM:
            raise AuthError("token algorithm is not accepted (RS256 only)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("token has no key id")
        key = await self._signing_key(kid)
        payload = self._decode(token, key)
        claims = self._claims(payload)
        self._check_policy(claims)
        return claims

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        """Check signature and registered claims, mapping PyJWT's errors to short reasons."""
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[_ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS, "enforce_minimum_key_length": True},
            )
        except jwt.PyJWTError as err:
            raise AuthError(_reason(err)) from None

    def _claims(self, payload: Mapping[str, Any]) -> OIDCClaims:
        """Build claims from a verified payload, refusing a repository we cannot compare."""
        repository = payload.get("repository")
        if not isinstance(repository, str) or not _REPOSITORY.fullmatch(repository):
            raise AuthError("token claim 'repository' is not owner/name")
        if self._allowed is not None and not globs_cover(self._allowed, repository):
            raise AuthError("repository is not allowed to use this bot")
        return OIDCClaims(
            repository=repository,
            repository_owner=_optional_str(payload, "repository_owner")
            or repository.partition("/")[0],
            repository_id=_optional_str(payload, "repository_id"),
            ref=_optional_str(payload, "ref"),
            sha=_optional_str(payload, "sha"),
            run_id=_optional_str(payload, "run_id"),
            run_attempt=_optional_str(payload, "run_attempt"),
            workflow=_optional_str(payload, "workflow"),
            job_workflow_ref=_optional_str(payload, "job_workflow_ref"),
            event_name=_optional_str(payload, "event_name"),
            actor=_optional_str(payload, "actor"),
            jti=_optional_str(payload, "jti"),
            sub=_optional_str(payload, "sub"),
        )

    def _check_policy(self, claims: OIDCClaims) -> None:
        """Require the configured reusable workflow for repositories that have a policy."""
        for repo_glob, (path_glob, ref_glob) in self._policies:
            if not globs_cover((repo_glob,), claims.repository):
                continue
            path, at, ref = (claims.job_workflow_ref or "").rpartition("@")
            if not (at and fnmatchcase(path.lower(), path_glob) and fnmatchcase(ref, ref_glob)):
                raise AuthError("job_workflow_ref is not allowed for this repository")

    async def _signing_key(self, kid: str) -> jwt.PyJWK:
        """Find the key for ``kid``, refetching once (rate limited) when it is unknown."""
        key = (await self._current_keys()).get(kid)
        if key is not None:
            return key
        async with self._lock:
            # Another request may have refetched while this one waited for the lock.
            key = (self._fresh.get(_JWKS) or self._last_good or {}).get(kid)
            now = self._clock()
            if key is None and now >= self._next_forced_refetch:
                self._next_forced_refetch = now + self._refetch_interval
                key = (await self._refresh()).get(kid)
        if key is None:
            raise AuthError("token is signed by an unknown key")
        return key

    async def _current_keys(self) -> dict[str, jwt.PyJWK]:
        """The cached key set, downloaded once for all waiters when it has expired."""
        keys = self._fresh.get(_JWKS)
        if keys is not None:
            return keys
        async with self._lock:
            keys = self._fresh.get(_JWKS)
            if keys is None:
                keys = await self._refresh()
            return keys

    async def _refresh(self) -> dict[str, jwt.PyJWK]:
        """Download the key set (lock held); fall back to the last good one on failure."""
        if self._clock() < self._retry_at:
            if self._last_good is not None:
                return self._last_good
            raise AuthUnavailable(_UNAVAILABLE)
        try:
            keys = await self._download()
        except AuthUnavailable:
            self._retry_at = self._clock() + RETRY_AFTER_FAILURE
            if self._last_good is None:
                raise
            log.warning("JWKS refresh failed; using the previous signing keys")
            return self._last_good
        self._fresh[_JWKS] = self._last_good = keys
        return keys

    async def _download(self) -> dict[str, jwt.PyJWK]:
        """Fetch and parse the issuer's JWKS, keeping only RSA signing keys with a kid."""
        try:
            async with self._session.get(self._jwks_url, timeout=self._timeout) as resp:
                if resp.status != 200:
                    log.warning("JWKS fetch answered HTTP %s", resp.status)
                    raise AuthUnavailable(_UNAVAILABLE)
                document = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as err:
            log.warning("JWKS fetch failed: %s", type(err).__name__)
            raise AuthUnavailable(_UNAVAILABLE) from None
        keys: dict[str, jwt.PyJWK] = {}
        entries = document.get("keys") if isinstance(document, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if not (
                isinstance(entry, dict)
                and isinstance(entry.get("kid"), str)
                and entry.get("kty") == "RSA"
                and entry.get("use", "sig") == "sig"
                and entry.get("alg", _ALGORITHM) == _ALGORITHM
            ):
                continue
            try:
                keys[entry["kid"]] = jwt.PyJWK(entry, algorithm=_ALGORITHM)
            except jwt.PyJWTError:
                continue
        if not keys:
            log.warning("JWKS holds no usable RS256 key")
            raise AuthUnavailable(_UNAVAILABLE)
        return keys
