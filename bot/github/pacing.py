"""Pacing content-creating writes per installation, and what GitHub says is left.

GitHub's secondary rate limits allow about 80 content-creating requests a minute and
500 an hour. Hitting them earns a 403 and, repeated, a longer ban, so the bot keeps
under them itself: every POST/PATCH/PUT/DELETE an installation's client makes takes
a slot from that installation's sliding windows first. When no slot is free the call
raises `Paced` *before* anything is sent, so the outbox can put the row back with a
due time instead of sleeping while it holds the row.

The writes are counted in the store (`Store.take_write_slot`), so instances sharing
one database share one budget per installation, as GitHub counts it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from gidgethub.aiohttp import GitHubAPI

from bot.store.slots import Windows

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# GitHub's documented secondary limits for content creation.
DEFAULT_WINDOWS: Windows = ((80, 60.0), (500, 3600.0))


class Paced(Exception):
    """No write slot is free for this installation until `until` (epoch seconds)."""

    def __init__(self, installation_id: int | None, until: float) -> None:
        super().__init__(f"paced: installation {installation_id} may write again at {until:.0f}")
        self.installation_id = installation_id
        self.until = until


class WriteSlots(Protocol):
    """Where write times are counted: the store, shared by every instance on it."""

    async def take_write_slot(
        self, installation_id: int | None, now: float, windows: Windows
    ) -> float | None: ...


class WritePacer:
    """Sliding-window write budgets per installation, counted in the store."""

    def __init__(
        self,
        slots: WriteSlots,
        windows: Windows = DEFAULT_WINDOWS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.slots = slots
        self.windows = windows
        self.clock = clock

    async def take(self, installation_id: int | None) -> None:
        """Take a write slot now, or raise `Paced` saying when one frees."""
        free = await self.slots.take_write_slot(installation_id, self.clock(), self.windows)
        if free is not None:
            raise Paced(installation_id, free)


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
            await self.pacer.take(self.installation_id)

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
