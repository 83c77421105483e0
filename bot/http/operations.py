"""`GET /api/outbox`: what the bot still has to do on GitHub, and what it gave up on.

The counts are harmless (they are on /metrics too); the itemised list names
repositories and pull requests, which may be private. So the list needs the admin
token (`Authorization: Bearer $AUDIT_ADMIN_TOKEN`); without it (none sent, or none
set, local mode included) the answer carries the counts alone and says how to see
more, like the read rule of `bot.http.access`, which has no local-mode exception.
"""

from __future__ import annotations

import time

from aiohttp import web

from bot import keys
from bot.http import access, openapi
from bot.http.errors import ApiError
from bot.workers.outbox import outbox_lag


def _may_see_items(request: web.Request) -> bool | None:
    """True / False for a good / missing token; None for a wrong one (401).

    Any credential that is not the admin token is wrong, whatever its scheme; a
    header without one (no header, or a bare scheme) just gets the counts.
    """
    settings = request.app[keys.SETTINGS]
    if not access.has_admin_token(settings):
        return False  # nobody may list rows: they name (maybe private) repositories
    header = request.headers.get("Authorization")
    if access.is_admin(settings, header):
        return True
    _, credential = access.credentials(header)
    return None if credential else False


async def outbox(request: web.Request) -> web.Response:
    allowed = _may_see_items(request)
    if allowed is None:
        raise ApiError(401, "invalid admin token")
    status = await request.app[keys.STORE].outbox_status()
    answer: dict[str, object] = {
        "pending": status["pending"],
        "failed": status["failed"],
        "lag_seconds": round(outbox_lag(status, time.time()), 3),
    }
    if allowed:
        answer["retrying"] = status.get("retrying", [])
        answer["failures"] = status.get("failures", [])
    else:
        answer["note"] = "send Authorization: Bearer <AUDIT_ADMIN_TOKEN> to list rows"
    return web.json_response(answer)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/outbox", outbox)


_ROW = {"type": "string"}
_ROW_KEY = {"key": _ROW, "repo": _ROW, "pr": {"type": "integer"}}  # which row
_SCHEMAS = {
    "Outbox": {
        "type": "object",
        "description": "Counts for anyone; the rows with the admin token only.",
        "required": ["pending", "failed", "lag_seconds"],
        "additionalProperties": False,
        "oneOf": [{"required": ["note"]}, {"required": ["retrying", "failures"]}],
        "properties": {
            "pending": {"type": "integer", "minimum": 0},
            "failed": {"type": "integer", "minimum": 0, "description": "given up on"},
            "lag_seconds": {
                "type": "number",
                "minimum": 0,
                "description": "how overdue the oldest pending row is",
            },
            "note": {"type": "string", "description": "how to see the rows"},
            "retrying": {
                "type": "array",
                "description": "pending rows that failed before (at most 100, next due first)",
                "items": openapi.closed(
                    {
                        **_ROW_KEY,
                        "reason": _ROW,
                        "attempts": {"type": "integer", "minimum": 1},
                        "due_at": {"type": "number", "description": "Unix time"},
                    }
                ),
            },
            "failures": {
                "type": "array",
                "description": "rows given up on (at most 100, newest first)",
                "items": openapi.closed(
                    {**_ROW_KEY, "reason": {"type": ["string", "null"]}, "at": openapi.TIME}
                ),
            },
        },
    }
}
DOC = openapi.ApiDoc(
    schemas=_SCHEMAS,
    paths={
        "/api/outbox": {
            "get": {
                "summary": "GitHub writes still to do, and the ones given up on",
                "operationId": "getOutbox",
                "security": [{}, {"adminToken": []}],
                "responses": {
                    "200": openapi.json_content(openapi.ref("Outbox"), "the outbox"),
                    "401": openapi.json_content(
                        openapi.ref("Error"),
                        "a wrong admin token (sent while AUDIT_ADMIN_TOKEN is set); "
                        "no token gets the counts alone",
                    ),
                },
            }
        },
    },
)
