"""The OpenAPI description of the reporter API (`DOC`), composed into the document by `create_app`.

Built from the same constants the body parsers use (event types, statuses, limits),
so a new event field or status cannot be accepted without the description knowing;
tests/http/test_openapi.py validates real answers of every route against it.
"""

from __future__ import annotations

from typing import Any

from bot.http import openapi
from bot.http.openapi import RUN_ID, RUN_PATH, json_content, param, ref
from bot.reporter.bodies import (
    CLOSE_STATUSES,
    MAX_ERRORS,
    MAX_EVENTS,
    STEP_STATUSES,
)
from bot.reporter.routes import IDEMPOTENCY_HEADER
from bot.trail import events as ev
from bot.trail.money import CATEGORIES, MAX_AMOUNT_CHARS, MAX_TOKENS
from bot.trail.proofs import MAX_HEADER_CHARS, PROOF_STATUSES


def _maybe(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field: null means the same as leaving it out."""
    return {"anyOf": [schema, {"type": "null"}]}


def _text(limit: int, what: str, multiline: bool = False) -> dict[str, Any]:
    lines = "tabs and newlines allowed" if multiline else "one line"
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": limit,
        "description": f"{what}: 1-{limit} characters, {lines}, no other control characters",
    }


AMOUNT_IN = {
    "description": (
        'A non-negative exact amount: a plain decimal string ("0.10") or a JSON number, '
        "read as a decimal, never a float. No sign, exponent or spaces; at most 30 "
        "digits before the point and 18 after it."
    ),
    "anyOf": [
        {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$", "maxLength": MAX_AMOUNT_CHARS},
        {"type": "number", "minimum": 0},
    ],
}
CURRENCY_IN = {
    "type": "string",
    "pattern": "^[A-Za-z][A-Za-z0-9]{1,10}$",
    "description": "ISO 4217 code or token symbol, any case, stored upper-case (usdc → USDC)",
}
KEY = {
    "type": "string",
    "pattern": "^[\\x21-\\x7e]{1,200}$",
    "description": "1-200 printable ASCII characters without spaces",
}
AT = _maybe(
    {
        "type": "string",
        "maxLength": 64,
        "description": "when it happened: ISO 8601 with a zone (2019-08-08T08:00:51Z or an "
        "offset like +02:00); recorded time if left out",
    }
)
SPEND_OUT = {
    **openapi.MONEY,
    "description": "the run's spend so far: currency → exact decimal amount",
}
URL = {"type": "string", "format": "uri", "description": "the run's page"}


def _event(kind: str, required: list[str], fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", *required],
        "additionalProperties": False,
        "properties": {"type": {"const": kind}, "at": AT, **fields},
        **extra,
    }


NAME = _text(200, "the step's name")


def _token_part(total: str, part: str) -> dict[str, Any]:
    return {
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_TOKENS,
        "description": f"the {part} counted in {total}, for their own price",
    }


PROOF_STATUS = {"type": "string", "enum": list(PROOF_STATUSES)}

SCHEMAS: dict[str, Any] = {
    "StepStartedEvent": _event(ev.STEP_STARTED, ["name"], {"name": NAME}),
    "StepFinishedEvent": _event(
        ev.STEP_FINISHED,
        ["name"],
        {
            "name": NAME,
            "status": _maybe(
                {
                    "type": "string",
                    "enum": list(STEP_STATUSES),
                    "description": "case-insensitive; succeeded if left out",
                }
            ),
        },
    ),
    "NoteEvent": _event(ev.NOTE, ["text"], {"text": _text(2000, "the note", multiline=True)}),
    "SpendEvent": _event(
        ev.SPEND,
        [],
        {
            "amount": _maybe(
                {
                    **AMOUNT_IN,
                    "description": "what was spent; leave it out to have `model` and the "
                    "token counts priced (USD, from the genai-prices table or the overrides)",
                }
            ),
            "currency": _maybe({**CURRENCY_IN, "description": "required with amount"}),
            "category": _maybe(
                {"type": "string", "enum": list(CATEGORIES), "description": "other if left out"}
            ),
            "input_tokens": _maybe({"type": "integer", "minimum": 0, "maximum": MAX_TOKENS}),
            "output_tokens": _maybe({"type": "integer", "minimum": 0, "maximum": MAX_TOKENS}),
            "model": _maybe(_text(200, "the model")),
            "unit_price": _maybe(AMOUNT_IN),
            "description": _maybe(_text(500, "what was bought", multiline=True)),
            "provider": _maybe(_text(100, "the model's provider (openai, anthropic, …)")),
            "cache_read_tokens": _maybe(_token_part("input_tokens", "cache reads")),
            "cache_write_tokens": _maybe(_token_part("input_tokens", "cache writes")),
            "reasoning_tokens": _maybe(_token_part("output_tokens", "reasoning")),
        },
        anyOf=[{"required": ["amount", "currency"]}, {"required": ["model"]}],
    ),
    "ProofEvent": _event(
        ev.PROOF,
        ["network"],
        {
            "network": {
                "type": "string",
                "description": "CAIP-2 id (eip155:8453, solana:5eykt4…) or an x402 v1 name "
                "(base, base-sepolia, ethereum, polygon, …)",
            },
            "tx": _maybe({"type": "string", "description": "the transaction hash or signature"}),
            "status": _maybe(
                {**PROOF_STATUS, "description": "case-insensitive; settled if left out"}
            ),
            "amount": _maybe(AMOUNT_IN),
            "currency": _maybe(CURRENCY_IN),
            "payer": _maybe({"type": "string", "pattern": "^[A-Za-z0-9:._-]{1,128}$"}),
            "description": _maybe(_text(500, "what was paid for", multiline=True)),
        },
        description="A payment proof; a settled one (the default) needs `tx`, and amount "
        "goes with currency. Explorer links are the bot's own: link fields are refused.",
        dependentRequired={"amount": ["currency"], "currency": ["amount"]},
        anyOf=[
            {"required": ["status"], "properties": {"status": {"enum": ["pending", "failed"]}}},
            {"required": ["tx"], "properties": {"tx": {"type": "string", "minLength": 1}}},
        ],
    ),
    "X402ProofEvent": _event(
        ev.PROOF,
        ["x402"],
        {
            "x402": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_HEADER_CHARS,
                "description": "an x402 PAYMENT-RESPONSE (or X-PAYMENT-RESPONSE) header "
                "value as the paid server sent it: base64 of the settlement JSON",
            },
            "description": _maybe(_text(500, "what was paid for", multiline=True)),
        },
    ),
    "ReportedEvent": {
        "description": "One event of a batch, by `type`; unknown fields are refused.",
        "oneOf": [
            ref("StepStartedEvent"),
            ref("StepFinishedEvent"),
            ref("NoteEvent"),
            ref("SpendEvent"),
            ref("ProofEvent"),
            ref("X402ProofEvent"),
        ],
    },
    "OpenRunRequest": {
        "type": "object",
        "required": ["kind"],
        "additionalProperties": False,
        "properties": {
            "kind": {
                "type": "string",
                "pattern": "^[a-z][a-z0-9_-]{0,31}$",
                "not": {"const": "pr"},
                "description": "review, agent, ci, …; never pr (PR runs follow webhooks)",
            },
            "repo": _maybe(
                {
                    "type": "string",
                    "pattern": "^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$",
                    "description": "owner/name; defaults to an OIDC token's `repository`, "
                    "required with a static or admin token",
                }
            ),
            "pr": _maybe(
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 2**31,
                    "description": "defaults to N of an OIDC token's refs/pull/N/merge",
                }
            ),
            "head_sha": _maybe(
                {
                    "type": "string",
                    "pattern": "^([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$",
                    "description": "the full commit SHA; defaults to an OIDC token's `sha`",
                }
            ),
            "name": _maybe(_text(200, "the run's name")),
            "budget": _maybe(
                {
                    "description": 'a limit per currency: "5 USD, 10 USDC" or {"USD": "5"}',
                    "oneOf": [
                        {"type": "string", "minLength": 1},
                        {
                            "type": "object",
                            "minProperties": 1,
                            "propertyNames": CURRENCY_IN,
                            "additionalProperties": AMOUNT_IN,
                        },
                    ],
                }
            ),
            "idempotency_key": _maybe(KEY),
            "events": {
                "type": "array",
                "maxItems": MAX_EVENTS,
                "items": ref("ReportedEvent"),
                "description": "events recorded with the opening, all or nothing",
            },
        },
    },
    "AppendEventsRequest": {
        "type": "object",
        "required": ["events"],
        "additionalProperties": False,
        "properties": {
            "events": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_EVENTS,
                "items": ref("ReportedEvent"),
                "description": "applied all or nothing",
            },
            "idempotency_key": _maybe(KEY),
        },
    },
    "CloseRunRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "status": _maybe(
                {
                    "type": "string",
                    "enum": list(CLOSE_STATUSES),
                    "description": "case-insensitive; succeeded if left out",
                }
            ),
            "reason": _maybe(_text(500, "why", multiline=True)),
            "idempotency_key": _maybe(KEY),
        },
    },
    "InvalidRequest": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "description": (
            "Bad fields: `errors` names each by its path (`events[2].amount`, `budget[0]`, "
            f'`header {IDEMPOTENCY_HEADER}`; the body itself is `""`), at most '
            f"{MAX_ERRORS}. An idempotency key reused for a different request has no `errors`."
        ),
        "properties": {
            "error": {"type": "string"},
            "errors": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_ERRORS,
                "items": openapi.closed({"path": {"type": "string"}, "reason": {"type": "string"}}),
            },
        },
    },
    "RunOpened": {
        "type": "object",
        "required": ["id", "url", "repo", "pr", "kind", "replayed"],
        "additionalProperties": False,
        "properties": {
            "id": RUN_ID,
            "url": URL,
            "repo": {"type": "string"},
            "pr": {"type": ["integer", "null"]},
            "kind": {"type": "string"},
            "replayed": {"type": "boolean", "description": "true for a retried call"},
        },
    },
    "EventsRecorded": {
        "type": "object",
        "required": ["run_id", "url", "recorded", "replayed", "spend", "proofs"],
        "additionalProperties": False,
        "properties": {
            "run_id": RUN_ID,
            "url": URL,
            "recorded": {"type": "integer", "minimum": 0, "description": "0 on a replay"},
            "replayed": {"type": "boolean"},
            "spend": SPEND_OUT,
            "proofs": {
                "type": "array",
                "description": "the batch's proofs, with the bot's own explorer link",
                "items": {
                    "type": "object",
                    "required": ["network", "network_name", "tx", "status", "url"],
                    "additionalProperties": False,
                    "properties": {
                        "network": {"type": "string", "description": "CAIP-2 id"},
                        "network_name": {"type": "string"},
                        "tx": {"type": ["string", "null"]},
                        "status": {"type": "string", "enum": list(PROOF_STATUSES)},
                        "url": {"type": ["string", "null"], "format": "uri"},
                    },
                },
            },
        },
    },
    "RunClosed": {
        "type": "object",
        "required": ["run_id", "url", "status", "spend", "replayed"],
        "additionalProperties": False,
        "properties": {
            "run_id": RUN_ID,
            "url": URL,
            "status": {"type": "string", "description": "the run's status now"},
            "spend": SPEND_OUT,
            "replayed": {"type": "boolean"},
        },
    },
}

IDEMPOTENCY = param(
    IDEMPOTENCY_HEADER,
    "header",
    KEY,
    "makes a retry a replay that writes nothing; must agree with `idempotency_key`",
)
_ERROR = ref("Error")
ANSWERS: dict[str, Any] = {
    "400": json_content(_ERROR, "the body is not JSON (or holds NaN or Infinity)"),
    "401": {
        **json_content(_ERROR, "no credential, a refused one, or none configured on the bot"),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    "403": json_content(_ERROR, "the credential does not cover the run's repository"),
    "413": json_content(_ERROR, "the body is over AUDIT_API_MAX_BODY_BYTES"),
    "415": json_content(_ERROR, "the content type is not JSON"),
    "422": json_content(ref("InvalidRequest"), "bad fields, or a reused idempotency key"),
    "503": {
        **json_content(
            _ERROR,
            "the OIDC issuer's keys cannot be fetched, or the store cannot write (disk full, "
            "I/O error, read-only or replaced database file): nothing was stored; try again",
        ),
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}
NOTHING_WRITTEN = (
    " Every answer other than 200/201 writes nothing; authentication is checked first, "
    "then the body, then the run."
)


def _body(name: str, required: bool = True) -> dict[str, Any]:
    return {
        "required": required,
        "description": "JSON (`application/json`, any `+json` type, or no content type)",
        "content": {"application/json": {"schema": ref(name)}},
    }


def _into_run() -> dict[str, Any]:
    return {
        "404": json_content(_ERROR, "no such run (or one retention removed)"),
        "409": json_content(
            _ERROR,
            "the run is closed (a retry of such a call too), or is a PR run (webhooks only)",
        ),
        **{code: ANSWERS[code] for code in ("400", "401", "403", "413", "415", "422", "503")},
    }


DOC = openapi.ApiDoc(
    schemas=SCHEMAS,
    paths={
        "/api/runs": {
            "post": {
                "summary": "Open a run (CI steps)",
                "description": "Opens a run of any kind but `pr`, optionally with its first "
                "events. A run on a PR takes the installation and visibility of the PR's own "
                "run, so its spend shows in the summary comment." + NOTHING_WRITTEN,
                "operationId": "openRun",
                "security": openapi.REPORTERS,
                "parameters": [IDEMPOTENCY],
                "requestBody": _body("OpenRunRequest"),
                "responses": {
                    "201": json_content(ref("RunOpened"), "opened"),
                    "200": json_content(ref("RunOpened"), "a replay: the run the key opened"),
                    **{
                        code: ANSWERS[code]
                        for code in ("400", "401", "403", "413", "415", "422", "503")
                    },
                },
            }
        },
        "/api/runs/{run_id}/events": {
            "post": {
                "summary": "Append a batch of events to an open run (CI steps)",
                "description": f"At most {MAX_EVENTS} events, committed together."
                + NOTHING_WRITTEN,
                "operationId": "appendEvents",
                "security": openapi.REPORTERS,
                "parameters": [RUN_PATH, IDEMPOTENCY],
                "requestBody": _body("AppendEventsRequest"),
                "responses": {
                    "201": json_content(ref("EventsRecorded"), "recorded"),
                    "200": json_content(ref("EventsRecorded"), "a replay: nothing recorded again"),
                    **_into_run(),
                },
            }
        },
        "/api/runs/{run_id}/close": {
            "post": {
                "summary": "Close a run with its final status (CI steps)",
                "description": "An empty body closes it as succeeded." + NOTHING_WRITTEN,
                "operationId": "closeRun",
                "security": openapi.REPORTERS,
                "parameters": [RUN_PATH, IDEMPOTENCY],
                "requestBody": _body("CloseRunRequest", required=False),
                "responses": {
                    "200": json_content(ref("RunClosed"), "closed (or a replay of the close)"),
                    **_into_run(),
                },
            }
        },
    },
)
