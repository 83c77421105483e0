"""`POST /webhook`: verify, plan, commit, answer — GitHub work happens later.

Every rejection is a 4xx with a JSON reason and writes nothing. A 2xx means the
delivery's events are committed (durable); a redelivery (same `X-GitHub-Delivery`)
is answered 200 and adds nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import orjson
from aiohttp import web
from gidgethub import ValidationFailure, sansio

from bot import keys
from bot.github.live_credentials import webhook_refusal, webhook_secret
from bot.handlers import plan_delivery
from bot.handlers.context import PlanOptions
from bot.handlers.payload import PayloadError
from bot.http import intake
from bot.http.errors import ApiError
from bot.http.links import page_base, run_urls
from bot.http.openapi import RUN_ID, ApiDoc, json_content, ref
from bot.workers.commit import commit

log = logging.getLogger(__name__)

_CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded")
# GitHub sends a GUID and a snake_case name. Printable ASCII only: a header that is not
# UTF-8 reaches us as lone surrogates, which no store or log line can encode.
_HEADER_TOKEN = re.compile(r"[\x21-\x7e]{1,200}")


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str | None) -> None:
    """gidgethub's own check of `X-Hub-Signature-256` on a body already read.

    Done here rather than through `Event.from_http` so the body can be parsed with
    orjson: GitHub's payloads are 10-30 KB and the stdlib parser was a quarter of
    the bot's CPU per delivery. With no secret (local mode) nothing is checked.
    """
    if secret is None:
        return
    # Only the SHA-256 header: GitHub sends it beside the legacy SHA-1 `X-Hub-Signature`,
    # so a request carrying SHA-1 alone is a downgrade and is refused.
    signature = headers.get("X-Hub-Signature-256")
    if signature is None:
        raise ValidationFailure("signature is missing")
    if not signature.isascii():  # hmac.compare_digest raises TypeError on non-ASCII text
        raise ValidationFailure("signature is not a hex digest")
    sansio.validate_event(body, signature=signature, secret=secret)


def decode_body(content_type: str, body: bytes) -> Any:
    """The payload of a JSON or form-encoded (`payload=`) delivery."""
    if content_type == "application/x-www-form-urlencoded":
        return orjson.loads(parse_qs(body.decode())["payload"][0])
    return orjson.loads(body)


async def receive(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    cap = settings.max_body_bytes
    refusal = webhook_refusal(request.app)
    if refusal is not None:  # setup mode beyond loopback: no secret to check yet
        raise ApiError(503, refusal)
    if request.content_length is not None and request.content_length > cap:
        raise ApiError(413, f"body is larger than the {cap}-byte limit")
    event_name = request.headers.get("X-GitHub-Event")
    delivery = request.headers.get("X-GitHub-Delivery")
    if not event_name or not _HEADER_TOKEN.fullmatch(event_name):
        raise ApiError(400, "missing or malformed X-GitHub-Event header")
    if not delivery or not _HEADER_TOKEN.fullmatch(delivery):
        raise ApiError(400, "missing or malformed X-GitHub-Delivery header")
    if request.content_type not in _CONTENT_TYPES:
        raise ApiError(415, "content type must be application/json")
    try:  # signature checked while reading, under the in-flight budget (bot.http.intake)
        body = await intake.read_signed_body(request, cap, webhook_secret(request.app))
    except intake.BodyRefused as refused:
        raise ApiError(refused.status, refused.message, headers=refused.headers) from None
    try:
        data = decode_body(request.content_type, body)
    except (ValueError, KeyError, IndexError):
        raise ApiError(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object")
    event = sansio.Event(data, event=event_name, delivery_id=delivery)
    try:
        command = await plan_delivery(event, PlanOptions(ci_rates=settings.ci_rates))
    except PayloadError as exc:
        raise ApiError(400, str(exc), field=exc.path) from None
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
    # Each run's page: under PUBLIC_URL, in local mode under the bot's own address
    # (the comment's links), else under the Host GitHub used. No store read: the IDs
    # are the commit's answer and the base is settings.
    urls = run_urls(page_base(request, settings.link_base), result.runs) if result.runs else []
    return web.json_response(
        {
            "status": outcome,
            "delivery": delivery,
            "runs": result.runs,
            "urls": urls,
            "events": result.events,
        },
        dumps=_dumps,
    )


def _dumps(answer: Any) -> str:
    """The answer's JSON (orjson: a tenth of the standard library's time per delivery)."""
    return orjson.dumps(answer).decode()


def _field(data: dict[str, Any], outer: str, inner: str) -> Any:
    """`data[outer][inner]` for the log line, or None whatever shape the payload has."""
    node = data.get(outer)
    value = node.get(inner) if isinstance(node, dict) else None
    return value if isinstance(value, (str, int)) else None


PRINTABLE = {"type": "string", "pattern": f"^{_HEADER_TOKEN.pattern}$"}

DOC = ApiDoc(
    paths={
        "/webhook": {
            "post": {
                "summary": "GitHub webhook deliveries",
                "description": "Verified, planned and committed before the answer; GitHub work "
                "happens afterwards. A redelivery (same X-GitHub-Delivery) answers 200 "
                "`duplicate` and adds nothing. Without GITHUB_WEBHOOK_SECRET (local mode) no "
                "signature is checked. Every answer other than 200 writes nothing.",
                "operationId": "receiveWebhook",
                "security": [{"webhookSignature": []}, {}],
                "parameters": [
                    {
                        "name": "X-GitHub-Event",
                        "in": "header",
                        "required": True,
                        "schema": PRINTABLE,
                        "description": "pull_request, pull_request_review, workflow_run, …",
                    },
                    {
                        "name": "X-GitHub-Delivery",
                        "in": "header",
                        "required": True,
                        "schema": PRINTABLE,
                        "description": "unique per event; the same on a redelivery",
                    },
                ],
                "requestBody": {
                    "required": True,
                    "description": "the event's payload, at most AUDIT_MAX_BODY_BYTES",
                    "content": {
                        "application/json": {"schema": {"type": "object"}},
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["payload"],
                                "properties": {"payload": {"type": "string"}},
                            }
                        },
                    },
                },
                "responses": {
                    "200": json_content(
                        {
                            "type": "object",
                            "required": ["status", "delivery", "runs", "urls", "events"],
                            "additionalProperties": False,
                            "properties": {
                                "status": {
                                    "type": "string",
                                    "enum": [
                                        "recorded",
                                        "logged",
                                        "unmatched",
                                        "ignored",
                                        "duplicate",
                                    ],
                                },
                                "delivery": {"type": "string"},
                                "runs": {"type": "array", "items": RUN_ID},
                                "urls": {
                                    "type": "array",
                                    "items": {"type": "string"},
                                    "description": "each run's page, in the order of `runs`",
                                },
                                "events": {"type": "integer", "minimum": 0},
                            },
                        },
                        "committed (or a duplicate, ignored or unmatched delivery): the runs it "
                        "touched and how many trail events it appended",
                    ),
                    "400": json_content(
                        ref("Error"),
                        "a missing or malformed X-GitHub-Event or X-GitHub-Delivery (1-200 "
                        "printable ASCII characters), a body that is not a JSON "
                        "object, or a handled event without a field it needs (`field` names it)",
                    ),
                    "401": json_content(ref("Error"), "a missing or wrong signature (secret set)"),
                    "413": json_content(ref("Error"), "the body is over AUDIT_MAX_BODY_BYTES"),
                    "415": json_content(ref("Error"), "the content type is not JSON or form data"),
                    "503": json_content(
                        ref("Error"),
                        "setup mode beyond loopback (no webhook secret stored yet); or, with "
                        "`Retry-After`, body bytes in flight past their bound or a store that "
                        "cannot write (disk full, I/O error, read-only or replaced database "
                        "file): nothing was stored",
                    ),
                },
            }
        },
    }
)
