"""Server-side sessions of "Sign in with GitHub", kept in the store.

The browser holds a random secret in an `HttpOnly`, `SameSite=Lax` cookie, with a MAC
under the session key, so a cookie made under another instance's key (or a made-up
one) is refused before the store is asked. The store keeps a digest of the secret
(never the secret) and the user's GitHub tokens sealed with AES-GCM under a key
derived from the session key, the row's key bound in as associated data, so neither a
copy of the database nor a row moved to another key opens anything.

A session ends after `idle` seconds without a request and `max_age` seconds after
sign-in, whichever comes first; an expired or unreadable session is deleted when met.
A sign-in under way is a row of kind "login" (its PKCE verifier and where to go
next), taken once by the callback: a state cannot be replayed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.store.base import SessionRecord, SessionStore, StoreUnavailable

log = logging.getLogger(__name__)

SESSION = "session"
LOGIN = "login"
LOGIN_WINDOW = 600  # seconds a sign-in may take at GitHub
# Each sign-in begun writes a row kept for LOGIN_WINDOW; these bound how many one
# process begins in that window (overall, and from one client address), so a flood of
# `/auth/login` cannot fill the store.
MAX_LOGINS = 5000
MAX_LOGINS_PER_ADDRESS = 30
TOUCH_EVERY = 60  # the idle clock is written at most this often per session


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode()
    )


class Sealer:
    """AES-GCM sealing and MACs under keys derived from the session key."""

    def __init__(self, session_key: str) -> None:
        self._aead = AESGCM(_derive(session_key, b"audit-bot/session-seal/v1"))
        self._mac = _derive(session_key, b"audit-bot/session-mac/v1")

    def seal(self, value: dict[str, Any], bound_to: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, json.dumps(value).encode(), bound_to.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, text: str, bound_to: str) -> dict[str, Any] | None:
        """The sealed value, or None when it was sealed under another key or row."""
        try:
            raw = base64.urlsafe_b64decode(text.encode("ascii"))
            value = json.loads(self._aead.decrypt(raw[:12], raw[12:], bound_to.encode()))
        except (InvalidTag, ValueError, binascii.Error, UnicodeError):
            return None
        return value if isinstance(value, dict) else None

    def mac(self, purpose: str, value: str) -> str:
        message = f"{purpose}\0{value}".encode()
        return hmac.new(self._mac, message, hashlib.sha256).hexdigest()[:32]


def cookie_name(public_url: str | None, base: str) -> str:
    """`__Host-<base>` when the bot is served over https (the prefix needs `Secure`)."""
    return f"__Host-{base}" if is_https(public_url) else base


def is_https(public_url: str | None) -> bool:
    return bool(public_url and public_url.lower().startswith("https://"))


def record_key(secret: str) -> str:
    """What the store keeps for a browser's secret: a digest, useless as a cookie."""
    return hashlib.sha256(f"audit-bot/session\0{secret}".encode()).hexdigest()


@dataclass
class Session:
    """A signed-in browser: who, their GitHub tokens (in memory only), and its clock."""

    key: str
    login: str
    user_id: int
    created_at: int
    seen_at: int
    tokens: dict[str, Any] = field(repr=False)  # access, refresh, expires_at, refresh_expires_at


class Sessions:
    """Start, find, refresh and end sessions; every instance on the store shares them."""

    def __init__(
        self,
        store: SessionStore,
        session_key: str,
        *,
        idle: int,
        max_age: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.sealer = Sealer(session_key)
        self.idle = idle
        self.max_age = max_age
        self.clock = clock
        self._begun: deque[float] = deque()  # when each sign-in of the window began
        self._begun_by: LRUCache[str, deque[float]] = LRUCache(maxsize=MAX_LOGINS)

    def _now(self) -> int:
        return int(self.clock())

    # -- the cookie ----------------------------------------------------------------

    def cookie_value(self, secret: str) -> str:
        return f"{secret}.{self.sealer.mac('cookie', secret)}"

    def secret_from(self, cookie: str | None) -> str | None:
        """The secret a cookie carries if this instance's key made it; else None."""
        if not cookie or cookie.count(".") != 1 or len(cookie) > 200:
            return None
        secret, mac = cookie.split(".")
        if not hmac.compare_digest(mac.encode(), self.sealer.mac("cookie", secret).encode()):
            return None
        return secret

    def csrf_token(self, secret: str) -> str:
        """The token a state-changing form of this session must carry back."""
        return self.sealer.mac("csrf", secret)

    def csrf_ok(self, secret: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(
            str(given).encode(), self.csrf_token(secret).encode()
        )

    # -- sign-ins under way ----------------------------------------------------------

    def login_room(self, address: str) -> bool:
        """Whether this process may begin one more sign-in for `address` now (and count it)."""
        now = self.clock()
        mine = self._begun_by.get(address) or deque()
        for times in (self._begun, mine):
            while times and now - times[0] > LOGIN_WINDOW:
                times.popleft()
        if len(self._begun) >= MAX_LOGINS or len(mine) >= MAX_LOGINS_PER_ADDRESS:
            return False
        self._begun.append(now)
        mine.append(now)
        self._begun_by[address] = mine
        return True

    async def begin_login(self, state: str, verifier: str, next_path: str) -> None:
        key = record_key("login\0" + state)
        sealed = self.sealer.seal({"verifier": verifier, "next": next_path}, key)
        now = self._now()
        await self.store.put_session(SessionRecord(key, LOGIN, "", sealed, now, now))

    async def finish_login(self, state: str) -> tuple[str, str] | None:
        """(verifier, next path) of the sign-in `state` began, once; None if unknown,
        used already, or older than `LOGIN_WINDOW`."""
        key = record_key("login\0" + state)
        record = await self.store.take_session(key)
        if record is None or record.kind != LOGIN:
            return None
        if self._now() - record.created_at > LOGIN_WINDOW:
            return None
        opened = self.sealer.open(record.sealed, key)
        if opened is None:
            return None
        return str(opened["verifier"]), str(opened["next"])

    # -- sessions --------------------------------------------------------------------

    async def start(self, login: str, user_id: int, tokens: dict[str, Any]) -> str:
        """A new session; returns the secret for the cookie (`cookie_value`)."""
        secret = secrets.token_urlsafe(32)
        key = record_key(secret)
        now = self._now()
        sealed = self.sealer.seal({"user_id": user_id, **tokens}, key)
        await self.store.put_session(SessionRecord(key, SESSION, login, sealed, now, now))
        return secret

    async def load(self, secret: str) -> Session | None:
        """The live session of `secret`, its idle clock moved on; None (and the row
        deleted) when it expired or its seal does not open under this key."""
        return await self.load_key(record_key(secret))

    async def load_key(self, key: str) -> Session | None:
        """`load` by the store's key (to see tokens another request or instance saved)."""
        record = await self.store.get_session(key)
        if record is None or record.kind != SESSION:
            return None
        now = self._now()
        if now - record.seen_at > self.idle or now - record.created_at > self.max_age:
            await self.store.take_session(key)
            return None
        opened = self.sealer.open(record.sealed, key)
        if opened is None:
            log.warning("a session sealed under another key was dropped")
            await self.store.take_session(key)
            return None
        if now - record.seen_at >= TOUCH_EVERY:
            # a read must not fail because the idle clock's write did
            with contextlib.suppress(StoreUnavailable):
                await self.store.touch_session(key, now)
        user_id = int(opened.pop("user_id", 0) or 0)
        return Session(key, record.login, user_id, record.created_at, now, opened)

    async def save_tokens(self, session: Session, tokens: dict[str, Any]) -> None:
        """Keep refreshed tokens (sealed again, under a fresh nonce)."""
        session.tokens = dict(tokens)
        sealed = self.sealer.seal({"user_id": session.user_id, **tokens}, session.key)
        record = SessionRecord(
            session.key, SESSION, session.login, sealed, session.created_at, self._now()
        )
        await self.store.put_session(record)

    async def end(self, key: str) -> None:
        await self.store.take_session(key)

    async def prune(self) -> int:
        """Forget expired sessions and abandoned sign-ins."""
        now = self._now()
        return await self.store.prune_sessions(
            now - max(self.idle, LOGIN_WINDOW), now - self.max_age
        )
