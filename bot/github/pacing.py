"""Pacing content-creating writes per installation, and what GitHub says is left.

GitHub's secondary rate limits allow about 80 content-creating requests a minute and
500 an hour. Hitting them earns a 403 and, repeated, a longer ban, so the bot keeps
under them itself: every POST/PATCH/PUT/DELETE an installation's client makes takes
a slot from that installation's sliding windows first. When no slot is free the call
raises `Paced` *before* anything is sent, so the outbox can put the row back with a
due time instead of sleeping while it holds the row.

The windows live in this process; several bot instances each pace themselves (two
instances can together exceed the limit, and then the rate-limit handling of the
outbox takes over).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gidgethub.aiohttp import GitHubAPI

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# (requests, seconds): GitHub's documented secondary limits for content creation.
DEFAULT_WINDOWS: tuple[tuple[int, float], ...] = ((80, 60.0), (500, 3600.0))


class Paced(Exception):
    """No write slot is free for this installation until `until` (epoch seconds)."""

    def __init__(self, installation_id: int | None, until: float) -> None:
        super().__init__(f"paced: installation {installation_id} may write again at {until:.0f}")
        self.installation_id = installation_id
        self.until = until


class WritePacer:
    """Sliding-window write budgets, one set per installation."""

    def __init__(
        self,
        windows: tuple[tuple[int, float], ...] = DEFAULT_WINDOWS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.windows = windows
        self.clock = clock
        self._sent: dict[int | None, deque[float]] = {}
        self._longest = max(seconds for _, seconds in windows)

    def next_free(self, installation_id: int | None) -> float:
        """When the installation may write next (now or later)."""
        now = self.clock()
        sent = self._trimmed(installation_id, now)
        free = now
        for limit, seconds in self.windows:
            in_window = [t for t in sent if t > now - seconds]
            if len(in_window) >= limit:
                # The slot frees when the oldest write that still counts leaves the window.
                free = max(free, in_window[len(in_window) - limit] + seconds)
        return free

    def take(self, installation_id: int | None) -> None:
        """Take a write slot now, or raise `Paced` saying when one frees."""
        free = self.next_free(installation_id)
        if free > self.clock():
            raise Paced(installation_id, free)
        self._sent.setdefault(installation_id, deque()).append(self.clock())

    def _trimmed(self, installation_id: int | None, now: float) -> deque[float]:
        sent = self._sent.setdefault(installation_id, deque())
        while sent and sent[0] <= now - self._longest:
            sent.popleft()
        return sent


@dataclass(frozen=True)
class RateLimitSeen:
    """The primary rate limit as GitHub last reported it for one installation."""

    limit: int
    remaining: int
    reset: float


class PacedGitHubAPI(GitHubAPI):
    """A `GitHubAPI` for one installation that paces its writes and notes its limit.

    It uses gidgethub's hooks: `manage_rate_limit` runs before every request, and
    `_request` is the transport, whose response headers carry the rate limit.
    """

    def __init__(
        self,
        *args: object,
        installation_id: int | None,
        pacer: WritePacer,
        seen: dict[int | None, RateLimitSeen],
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.installation_id = installation_id
        self.pacer = pacer
        self.seen = seen

    async def manage_rate_limit(self, *, method: str, url: str) -> None:
        if method.upper() in WRITE_METHODS:
            self.pacer.take(self.installation_id)

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        status, response_headers, data = await super()._request(method, url, headers, body)
        limit = rate_limit_from(response_headers)
        if limit is not None:
            self.seen[self.installation_id] = limit
        return status, response_headers, data


def rate_limit_from(headers: Mapping[str, str]) -> RateLimitSeen | None:
    """`x-ratelimit-*` headers as numbers, or None when absent or malformed."""
    try:
        return RateLimitSeen(
            limit=int(headers["x-ratelimit-limit"]),
            remaining=int(headers["x-ratelimit-remaining"]),
            reset=float(headers["x-ratelimit-reset"]),
        )
    except (KeyError, ValueError):
        return None
