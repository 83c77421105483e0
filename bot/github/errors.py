"""What a failed GitHub call means: slow down, new credentials, GitHub's own fault,
or a refusal that retrying will not change.

Read from gidgethub's exceptions in one place, so the outbox's retry policy and
the readers of repository files and check runs sort GitHub's answers alike.
"""

from __future__ import annotations

import http

from gidgethub import GitHubBroken, HTTPException, RateLimitExceeded

# Answers to an optional write that mean "not here": no permission, no such head, or
# a payload GitHub will not take for this commit. The write is skipped, not retried.
DECLINED = frozenset({403, 404, 422})


def headers_of(exc: BaseException) -> dict[str, str]:
    """The answer's headers, lower-cased (HTTP header names are case-insensitive)."""
    return {k.lower(): v for k, v in (getattr(exc, "headers", None) or {}).items()}


def is_rate_limit(exc: HTTPException) -> bool:
    """A 403 that means "slow down", which must be retried rather than accepted."""
    headers = headers_of(exc)
    return (
        isinstance(exc, RateLimitExceeded)
        or "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
        or "rate limit" in str(exc).lower()
    )


def is_rate_limited(exc: HTTPException) -> bool:
    """Any rate limit: primary (gidgethub raises RateLimitExceeded for a 403 with
    remaining 0), or secondary (a 403 carrying retry-after or saying so, or any 429)."""
    status = int(exc.status_code)
    return (
        isinstance(exc, RateLimitExceeded)
        or status == 429
        or (status == 403 and is_rate_limit(exc))
    )


def refused_credentials(exc: BaseException) -> bool:
    """An expired or revoked token (401): mint a new one and retry."""
    return isinstance(exc, HTTPException) and int(exc.status_code) == 401


def is_server_error(exc: HTTPException) -> bool:
    """GitHub's own failure (5xx): worth retrying later."""
    return isinstance(exc, GitHubBroken) or int(exc.status_code) >= 500


def is_declined(exc: HTTPException) -> bool:
    """An optional write GitHub will not take here (see `DECLINED`), not a rate limit."""
    return int(exc.status_code) in DECLINED and not is_rate_limit(exc)


def status_text(status: int) -> str:
    """`404 Not Found`; just the number for a status Python does not name."""
    try:  # (`int in HTTPStatus` raises TypeError before Python 3.12)
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"{status} {phrase}".strip()
