"""Who is calling the reporter API, and which repositories may they write to.

CI steps send ``Authorization: Bearer <token>`` where the token is either a GitHub
Actions OIDC JWT (proves the repository without a shared secret), a static token
from ``AUDIT_API_TOKENS`` (for other CI systems), or the admin token
(``AUDIT_ADMIN_TOKEN``). :class:`Authenticator` tells them apart and returns a
:class:`Principal`; the API answers 401 for :class:`AuthError`, 503 for
:class:`AuthUnavailable` (check it first: it is a subclass), and 403 when
``principal.may_write(repo)`` is False.

Browsers are the other callers: "Sign in with GitHub" sessions (``sessions``: kept
in the store through its ``SessionStore`` protocol, user tokens sealed) and what a
signed-in user may read (``user_access``: asked of GitHub through
``bot.github.user_oauth``, cached per session).

Lives here: the authenticator and principals (``__init__``), the Actions OIDC
verifier (``oidc``), static and admin tokens (``tokens``), sessions and the signed-in
user (``sessions``, ``user_access``). May import the root helpers (``config``,
``ids``, ``logs``), ``bot.trail``, the store's protocols and records
(``bot.store.base``) and ``bot.github.user_oauth``; never ``workers``, ``http``,
``web``, ``reporter``, ``cli`` or ``app``: the HTTP layer and the reporter ask it,
not the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import jwt

from bot.auth.oidc import AuthError, AuthUnavailable, OIDCClaims, OIDCVerifier
from bot.auth.tokens import (
    StaticToken,
    StaticTokens,
    credentials,
    globs_cover,
    match_digest,
    parse_api_tokens,
    token_digest,
)

__all__ = [
    "AuthError",
    "AuthUnavailable",
    "Authenticator",
    "OIDCClaims",
    "OIDCVerifier",
    "Principal",
    "StaticTokens",
    "parse_api_tokens",
]

PrincipalKind = Literal["oidc", "static", "admin"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller; ``subject`` is safe to log and never holds a secret.

    ``repositories`` holds the exact ``owner/name`` for an OIDC caller and the
    lower-case globs for a static token; an admin needs none.
    """

    kind: PrincipalKind
    subject: str
    repositories: tuple[str, ...] = ()
    claims: OIDCClaims | None = None

    def may_write(self, repository: str) -> bool:
        """Whether this caller may report for ``owner/name`` (case-insensitive)."""
        if self.kind == "admin":
            return True
        if self.kind == "oidc":
            wanted = repository.strip().lower()
            return any(wanted == own.lower() for own in self.repositories)
        return globs_cover(self.repositories, repository)


def _looks_like_jwt(token: str) -> bool:
    """Route a token to OIDC only if it has a JWT's shape and a readable JOSE header.

    A JWT is base64url, so ASCII: PyJWT would raise UnicodeEncodeError (a 500) on the
    lone surrogates a header that is not UTF-8 arrives with.
    """
    if token.count(".") != 2 or not token.isascii():
        return False
    try:
        return "alg" in jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return False


class Authenticator:
    """Turn an ``Authorization`` header into a :class:`Principal`, or raise AuthError.

    Any of the three credential kinds may be absent: no static tokens, ``oidc=None``
    (OIDC disabled) or no admin token. An empty admin token counts as none, so an
    unset variable can never match an empty bearer token.
    """

    def __init__(
        self,
        *,
        static_tokens: StaticTokens | None = None,
        oidc: OIDCVerifier | None = None,
        admin_token: str | None = None,
    ) -> None:
        self._static = static_tokens or StaticTokens()
        self._oidc = oidc
        admin = (admin_token or "").strip()
        self._admin = StaticToken(0, token_digest(admin), ()) if admin else None

    @property
    def configured(self) -> bool:
        """Whether any credential at all can succeed (worth a warning at start if not)."""
        return bool(len(self._static) or self._oidc or self._admin)

    async def authenticate(self, header: str | None) -> Principal:
        """Check the header's bearer token; messages never repeat the token."""
        scheme, token = credentials(header)
        if scheme != "bearer" or not token:
            raise AuthError("missing bearer token")
        if _looks_like_jwt(token):
            if self._oidc is None:
                raise AuthError("OIDC tokens are not accepted by this bot")
            claims = await self._oidc.verify(token)
            return Principal("oidc", claims.subject, (claims.repository,), claims)
        candidates = [*self._static] if self._admin is None else [self._admin, *self._static]
        found = match_digest(candidates, token_digest(token))
        if found is None:
            raise AuthError("invalid token")
        if found is self._admin:
            return Principal("admin", "admin token")
        return Principal("static", f"static token #{found.number}", found.globs)
