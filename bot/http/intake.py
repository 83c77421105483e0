"""Request bodies read under a budget: bounded bytes in flight, a read timeout, and the
webhook signature checked while the bytes arrive.

Why: a body is read whole before anything in it can be trusted, so without a bound
forty concurrent unsigned 25 MB bodies cost a gigabyte, and a client sending one
byte every few seconds holds its connection for ever. Here every body byte being
received is counted against a global budget and a per-client-address share (so
one address cannot take the budget GitHub's deliveries need); past either the
answer is 503 with `Retry-After`. Each refusal is a `BodyRefused` the route turns
into its own error answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections import defaultdict
from dataclasses import dataclass, field

from aiohttp import web

from bot import keys

CHUNK = 64 * 1024
RETRY_AFTER = "5"  # seconds: bodies in flight finish (or time out) well within this
# A digest of the wrong length is still read through (a 413 past the cap says more);
# only a missing, SHA-1-only or non-ASCII signature is refused before any read.
_SHA256_HEADER = re.compile(r"sha256=([0-9a-fA-F]*)")


class BodyRefused(Exception):
    """A body not accepted: the status, a message for the JSON answer, extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Budget:
    """Bytes of request bodies being received: all clients, and per client address."""

    total: int
    per_address: int
    in_flight: int = 0
    peak: int = 0  # the most ever held at once (tests and metrics read it)
    by_address: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def room(self, address: str) -> int:
        """How many more bytes `address` may hold now."""
        return min(self.total - self.in_flight, self.per_address - self.by_address[address])

    def take(self, address: str, size: int) -> bool:
        if size > self.room(address):
            return False
        self.in_flight += size
        self.by_address[address] += size
        self.peak = max(self.peak, self.in_flight)
        return True

    def give_back(self, address: str, size: int) -> None:
        self.in_flight -= size
        left = self.by_address[address] - size
        if left > 0:
            self.by_address[address] = left
        else:
            self.by_address.pop(address, None)  # no entry kept per address ever seen


BUDGET = web.AppKey("body_budget", Budget)


def setup(app: web.Application) -> None:
    """One budget for the whole app (webhooks and the reporter API share it)."""
    settings = app[keys.SETTINGS]
    app[BUDGET] = Budget(settings.max_body_bytes_in_flight, settings.max_body_bytes_per_address)


def busy() -> BodyRefused:
    return BodyRefused(
        503, "too many request bodies in flight; retry later", {"Retry-After": RETRY_AFTER}
    )


def expected_signature(signature: str | None) -> str:
    """The hex digest of a well-formed `X-Hub-Signature-256`, or 401 before any read.

    Only the SHA-256 header counts: GitHub sends it beside the legacy SHA-1 one, so a
    request carrying SHA-1 alone is a downgrade, not an older client.
    """
    match = _SHA256_HEADER.fullmatch(signature or "")
    if match is None:
        raise BodyRefused(401, "missing or invalid X-Hub-Signature-256")
    return match.group(1).lower()


async def read_body(
    request: web.Request, *, cap: int, secret: str | None = None, digest: str | None = None
) -> bytes:
    """The whole body, at most `cap` bytes, within the body timeout and the budget.

    With `secret`, HMAC-SHA256 is computed chunk by chunk and compared with `digest`
    (from `expected_signature`) at the end: a wrong signature is a 401 whose bytes
    are released as soon as it is known. Raises `BodyRefused` (413, 408, 503, 401).
    """
    budget = request.app[BUDGET]
    address = request.remote or "-"
    declared = request.content_length
    if declared is not None and declared > cap:
        raise BodyRefused(413, f"body is larger than the {cap}-byte limit")
    if declared is not None and declared > budget.room(address):
        raise busy()  # refused before reading a byte of it
    if request.content.is_eof():
        return _arrived(request, budget, address, cap, secret, digest)
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha256) if secret is not None else None
    timeout = request.app[keys.SETTINGS].body_timeout
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.content.iter_chunked(CHUNK):
                if len(body) + len(chunk) > cap:
                    raise BodyRefused(413, f"body is larger than the {cap}-byte limit")
                if not budget.take(address, len(chunk)):
                    raise busy()
                body += chunk
                if mac is not None:
                    mac.update(chunk)
    except TimeoutError:
        raise BodyRefused(
            408, f"the body did not arrive within {timeout:g} s", {"Connection": "close"}
        ) from None
    finally:
        budget.give_back(address, len(body))
    if mac is not None and not hmac.compare_digest(mac.hexdigest(), digest or ""):
        raise BodyRefused(401, "missing or invalid X-Hub-Signature-256")
    return bytes(body)


def _arrived(
    request: web.Request,
    budget: Budget,
    address: str,
    cap: int,
    secret: str | None,
    digest: str | None,
) -> bytes:
    """`read_body` for a body already received whole (a webhook's usually is, by the
    time its headers are parsed): nothing to wait for, so no timer and one HMAC call,
    under the same cap, budget and signature rules."""
    body = request.content.read_nowait()
    if len(body) > cap:
        raise BodyRefused(413, f"body is larger than the {cap}-byte limit")
    if not budget.take(address, len(body)):
        raise busy()
    budget.give_back(address, len(body))
    if secret is not None:
        mac = hmac.digest(secret.encode(), body, "sha256").hex()  # one C call
        if not hmac.compare_digest(mac, digest or ""):
            raise BodyRefused(401, "missing or invalid X-Hub-Signature-256")
    return body


async def read_signed_body(request: web.Request, cap: int, secret: str | None) -> bytes:
    """A webhook body: with a secret, a missing, SHA-1-only or malformed signature is
    refused before a byte is read, and the SHA-256 HMAC is checked as it arrives."""
    if secret is None:  # local mode: nothing to check
        return await read_body(request, cap=cap)
    digest = expected_signature(request.headers.get("X-Hub-Signature-256"))
    return await read_body(request, cap=cap, secret=secret, digest=digest)
