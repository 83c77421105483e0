"""The one-time setup token and the `state` values bound to it (the manifest flow).

The token is 32 random bytes (URL-safe base64) in `setup-token` in the data
directory, mode 0600, kept across restarts until setup completes (then deleted). A
`state` is a fresh random value handed to a caller that showed the token; the
callback must bring one back, and each is used at most once and lives an hour (as
long as GitHub's code). Nothing here is logged except by `SetupState.url`'s caller,
which prints the setup URL once at start.
"""

from __future__ import annotations

import hmac
import secrets
import time
from pathlib import Path

from bot.github.stored_credentials import write_private

TOKEN_FILE = "setup-token"
STATE_LIFETIME = 3600.0  # seconds; GitHub's manifest code lives an hour
MAX_STATES = 64  # outstanding states; the oldest is dropped beyond this


class SetupState:
    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / TOKEN_FILE
        self.token = self._load_or_create()
        self._states: dict[str, float] = {}  # state -> monotonic deadline
        self.done = False

    def _load_or_create(self) -> str:
        try:
            token = self.path.read_text().strip()
        except FileNotFoundError:
            token = ""
        if len(token) < 32:
            token = secrets.token_urlsafe(32)
            write_private(self.path, token + "\n")
        return token

    def holds_token(self, offered: str | None) -> bool:
        if self.done or not offered:
            return False
        return hmac.compare_digest(offered.encode(), self.token.encode())

    def new_state(self) -> str:
        """A fresh `state` for a caller that showed the token."""
        now = time.monotonic()
        self._states = {s: d for s, d in self._states.items() if d > now}
        while len(self._states) >= MAX_STATES:
            self._states.pop(next(iter(self._states)))
        state = secrets.token_urlsafe(32)
        self._states[state] = now + STATE_LIFETIME
        return state

    def take_state(self, offered: str | None) -> bool:
        """True once for a state this process handed out (unexpired); it is then spent."""
        if self.done or not offered:
            return False
        for state in list(self._states):
            if hmac.compare_digest(state.encode(), offered.encode()):
                deadline = self._states.pop(state)
                return deadline > time.monotonic()
        return False

    def finish(self) -> None:
        """Setup is complete: no token, no state works any more."""
        self.done = True
        self._states.clear()
        self.path.unlink(missing_ok=True)
