"""`POST /webhook`: verify, plan, commit, answer — GitHub work happens later.

Every rejection is a 4xx with a JSON reason and writes nothing. A 2xx means the
delivery's events are committed (durable); a redelivery (same `X-GitHub-Delivery`)
is answered 200 and adds nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from gidgethub import BadRequest, ValidationFailure, sansio

from bot import keys
from bot.commands import commit
from bot.errors import error
from bot.handlers import plan_delivery
from bot.handlers.context import PlanOptions
from bot.handlers.payload import PayloadError

log = logging.getLogger(__name__)

_SIGNATURE_HEADERS = ("x-hub-signature-256", "x-hub-signature")
_CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded")


async def receive(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    cap = settings.max_body_bytes
    if request.content_length is not None and request.content_length > cap:
        return error(413, f"body is larger than the {cap}-byte limit")
    event_name = request.headers.get("X-GitHub-Event")
    delivery = request.headers.get("X-GitHub-Delivery")
    if not event_name:
        return error(400, "missing X-GitHub-Event header")
    if not delivery or len(delivery) > 200:
        return error(400, "missing or malformed X-GitHub-Delivery header")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return error(413, f"body is larger than the {cap}-byte limit")
    if request.content_type not in _CONTENT_TYPES:
        return error(415, "content type must be application/json")
    headers = {k.lower(): v for k, v in request.headers.items()}
    if settings.unsigned_webhooks:
        for name in _SIGNATURE_HEADERS:  # local mode: nothing to check a signature with
            headers.pop(name, None)
    try:
        event = sansio.Event.from_http(headers, body, secret=settings.webhook_secret)
    except ValidationFailure:
        return error(401, "missing or invalid X-Hub-Signature-256")
    except (BadRequest, ValueError, KeyError, IndexError):
        # The content type was checked above, so gidgethub's 415 means an undecodable body.
        return error(400, "body is not valid JSON")
    if not isinstance(event.data, dict):
        return error(400, "body must be a JSON object")
    try:
        command = await plan_delivery(event, PlanOptions(ci_rates=settings.ci_rates))
    except PayloadError as exc:
        return error(400, str(exc), field=exc.path)
    result = await commit(request.app, command)
    outcome = result.outcome
    log.info(
        "delivery %s %s.%s: %s",
        delivery,
        event.event,
        event.data.get("action") or "-",
        outcome,
        extra={
            "delivery": delivery,
            "runs": result.runs,
            "installation": _field(event.data, "installation", "id"),
            "repo": _field(event.data, "repository", "full_name"),
        },
    )
    return web.json_response(
        {
            "status": outcome,
            "delivery": delivery,
            "runs": result.runs,
            "events": result.events,
        },
    )


def _field(data: dict[str, Any], outer: str, inner: str) -> Any:
    """`data[outer][inner]` for the log line, or None whatever shape the payload has."""
    node = data.get(outer)
    value = node.get(inner) if isinstance(node, dict) else None
    return value if isinstance(value, (str, int)) else None
