"""The access log line without the secrets some URLs carry in their query.

`/setup?token=…` (the one-time setup token), `/setup/callback?code=…&state=…` (the
manifest code and its state), `/auth/callback?code=…` and the `t=` of a private run's
link are credentials: whoever reads the log could use them. aiohttp's access logger
writes the request line and the `Referer` (which repeats the page's URL) as they came;
this one writes `token=[redacted]` in their place, in the line and in its `extra`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_plus

from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from bot.http.access import LINK_PARAM

# Query parameters whose values are secrets (matched as the bot reads them: names
# percent-decoded, so `%74oken=` is `token=` too).
SECRET_PARAMS = frozenset({"token", "code", "state", "client_secret", "access_token", LINK_PARAM})
_PARAM = re.compile(r"([?&;])([^=&;#\s\"?]+)=([^&;#\s\"]*)")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` with the value of every secret query parameter replaced."""
    if "=" not in text:  # most lines: nothing to scan
        return text
    return _PARAM.sub(_redact_one, text)


def _redact_one(match: re.Match[str]) -> str:
    sep, name, value = match.groups()
    if unquote_plus(name).lower() in SECRET_PARAMS and value:
        return f"{sep}{name}={REDACTED}"
    return match.group(0)


class RedactingAccessLogger(AccessLogger):
    """aiohttp's access logger, its fields passed through `redact`."""

    def _format_line(self, request: BaseRequest, response: StreamResponse, time: float) -> Any:
        return [
            (key, redact(value) if isinstance(value, str) else value)
            for key, value in super()._format_line(request, response, time)
        ]
