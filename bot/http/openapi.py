"""The OpenAPI 3.1 description of the bot's own HTTP API, served at `/api/openapi.json`.

Kept as data beside the handlers it describes; the tests validate real responses
against these schemas, so the description cannot drift from what the bot sends.
Each feature module exposes its part as an `ApiDoc` value (`READ_API` here, `DOC` in
`webhooks`, `operations`, `bot.reporter` and `bot.app`); `create_app` composes them
with `setup(app, parts)`: no global registry, nothing registered by importing.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot import __version__

HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
RUN_ID = {"type": "string", "pattern": "^[0-9a-hjkmnp-tv-z]{26}$"}
TIME = {"type": "string", "description": "ISO 8601 time, UTC"}
AMOUNT = {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$", "description": "exact decimal"}
MONEY = {
    "type": "object",
    "description": "currency → exact decimal amount",
    "additionalProperties": AMOUNT,
}


def closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """An object of these properties and no others; all required unless `required` says."""
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
        "properties": properties,
    }


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "what was wrong, in words"},
            "parameter": {"type": "string", "description": "the query parameter at fault"},
            "field": {"type": "string", "description": "the webhook payload field at fault"},
        },
    },
    "Gone": {
        "type": "object",
        "description": "a run retention removed: when and why (not where: it may have "
        "been private)",
        "required": ["error", "pruned_at", "reason"],
        "properties": {
            "error": {"type": "string"},
            "pruned_at": TIME,
            "reason": {"type": "string"},
            "last_seq": {"type": "integer"},
            "head_hash": HASH,
        },
    },
    "Source": {
        "type": "object",
        "required": ["kind", "id"],
        "properties": {
            "kind": {"type": "string", "examples": ["webhook", "api", "import", "bot"]},
            "id": {"type": "string", "description": "X-GitHub-Delivery or idempotency key"},
            "event": {"type": "string"},
            "action": {"type": "string"},
            "actor": {"type": "string"},
        },
    },
    "Event": {
        "type": "object",
        "description": "one trail event; hash = sha256(prev_hash ‖ canonical JSON of the rest)",
        "required": [
            "run_id",
            "seq",
            "type",
            "at",
            "recorded_at",
            "source",
            "data",
            "prev_hash",
            "hash",
        ],
        "additionalProperties": False,
        "properties": {
            "run_id": RUN_ID,
            "seq": {"type": "integer", "minimum": 1},
            "type": {"type": "string"},
            "at": TIME,
            "recorded_at": TIME,
            "source": ref("Source"),
            "data": {"type": "object"},
            "prev_hash": HASH,
            "hash": HASH,
        },
    },
    "Proof": {
        "type": "object",
        "properties": {
            "network": {"type": "string", "description": "CAIP-2 id"},
            "tx": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": ["settled", "pending", "failed"]},
            "amount": AMOUNT,
            "currency": {"type": "string"},
            "at": TIME,
            "explorer_url": {"type": ["string", "null"], "format": "uri"},
        },
    },
    "Links": {
        "type": "object",
        "required": ["self", "events", "page"],
        "description": "relative URLs; they carry the run's link token where one is needed",
        "properties": {name: {"type": "string"} for name in ("self", "events", "page")},
    },
    "Run": {
        "type": "object",
        "description": "a run's state: the fold of its trail",
        "required": [
            "id",
            "kind",
            "repo",
            "pr",
            "head_sha",
            "status",
            "started_at",
            "ended_at",
            "seq",
            "head_hash",
            "spend",
            "budget",
            "proofs",
        ],
        "properties": {
            "id": RUN_ID,
            "kind": {"type": ["string", "null"], "examples": ["pr", "review", "ci", "agent"]},
            "repo": {"type": ["string", "null"]},
            "pr": {"type": ["integer", "null"]},
            "head_sha": {"type": ["string", "null"]},
            "name": {"type": ["string", "null"]},
            "status": {"type": "string"},
            "private": {"type": ["boolean", "null"]},
            "started_at": nullable(TIME),
            "ended_at": nullable(TIME),
            "finished_at": nullable(TIME),
            "updated_at": nullable(TIME),
            "seq": {"type": "integer", "minimum": 0, "description": "events in the trail"},
            "head_hash": {**HASH, "description": "the trail's digest"},
            "spend": MONEY,
            "budget": MONEY,
            "spend_by_category": {"type": "object", "additionalProperties": MONEY},
            "tokens": {
                "type": "object",
                "properties": {"input": {"type": "integer"}, "output": {"type": "integer"}},
            },
            "proofs": {"type": "array", "items": ref("Proof")},
            "links": ref("Links"),
            "over_budget": {
                "type": "array",
                "items": {"type": "string"},
                "description": "currencies whose spend is over the run's budget",
            },
        },
    },
    "RunPage": {
        "type": "object",
        "required": ["runs", "next_cursor"],
        "additionalProperties": False,
        "properties": {
            "runs": {"type": "array", "items": ref("Run")},
            "next_cursor": {
                **nullable(RUN_ID),
                "description": "pass as `cursor` for the next page; null at the end",
            },
        },
    },
    "EventPage": {
        "type": "object",
        "required": ["run_id", "events", "next_after"],
        "additionalProperties": False,
        "properties": {
            "run_id": RUN_ID,
            "events": {"type": "array", "items": ref("Event")},
            "next_after": {
                "type": ["integer", "null"],
                "description": "pass as `after` for the next page; null at the end",
            },
        },
    },
    "Summary": {
        "type": "object",
        "required": ["repo", "pr", "comment_id", "body", "posted_at"],
        "properties": {
            "repo": {"type": "string"},
            "pr": {"type": "integer"},
            "comment_id": {"type": ["integer", "null"]},
            "body": {"type": "string"},
            "posted_at": TIME,
        },
    },
}


def json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def page(description: str) -> dict[str, Any]:
    """An HTML answer (the pages render errors as pages too)."""
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def param(name: str, where: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": where, "schema": schema, "description": description}


RUN_PATH = {**param("run_id", "path", RUN_ID, "the run ID"), "required": True}
BAD = json_content(ref("Error"), "a bad parameter; `error` says why, `parameter` names it")
MISSING = json_content(ref("Error"), "no such run, or one the caller may not read")
GONE = json_content(ref("Gone"), "the run was removed by retention")

SECURITY_SCHEMES: dict[str, Any] = {
    "oidc": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "A GitHub Actions OIDC token (RS256, from AUDIT_OIDC_ISSUER, audience "
            "AUDIT_OIDC_AUDIENCE or PUBLIC_URL): reports for and reads the repository in "
            "its `repository` claim; the reporter takes `pr` and `head_sha` from its "
            "`ref` and `sha` when the body leaves them out."
        ),
    },
    "apiToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A static token from AUDIT_API_TOKENS (`token=owner/*,…`): reports "
        "for and reads the repositories its globs cover.",
    },
    "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "AUDIT_ADMIN_TOKEN: reports for and reads every repository, and "
        "lists the outbox's rows.",
    },
    "linkToken": {
        "type": "apiKey",
        "in": "query",
        "name": "t",
        "description": "The link token the bot puts on the links it posts: opens one run "
        "of a private repository, or (the PR-wide token) every run of one pull request.",
    },
    "webhookSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Hub-Signature-256",
        "description": "`sha256=` + the hex HMAC-SHA256 of the body keyed with "
        "GITHUB_WEBHOOK_SECRET (the legacy SHA-1 `X-Hub-Signature` alone is refused).",
    },
}
# Reading: anyone for public runs; a link token or credential for private ones.
READERS: list[dict[str, list[str]]] = [
    {},
    {"linkToken": []},
    {"oidc": []},
    {"apiToken": []},
    {"adminToken": []},
]
# Reporting: one of the three bearer credentials, always.
REPORTERS: list[dict[str, list[str]]] = [{"oidc": []}, {"apiToken": []}, {"adminToken": []}]

PATHS: dict[str, Any] = {
    "/api/runs": {
        "get": {
            "summary": "List runs, newest first",
            "operationId": "listRuns",
            "security": READERS,
            "parameters": [
                param("repo", "query", {"type": "string"}, "owner/name"),
                param("pr", "query", {"type": "integer", "minimum": 1}, "needs repo"),
                param("kind", "query", {"type": "string"}, "pr, review, ci, agent, …"),
                param("status", "query", {"type": "string"}, "open, running, succeeded, …"),
                param("since", "query", {"type": "string"}, "runs started at or after"),
                param("cursor", "query", RUN_ID, "next_cursor of the previous page"),
                param(
                    "limit",
                    "query",
                    {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    "runs per page",
                ),
            ],
            "responses": {"200": json_content(ref("RunPage"), "a page of runs"), "400": BAD},
        }
    },
    "/api/runs/{run_id}": {
        "get": {
            "summary": "One run's state: spend, budget, proofs, head digest",
            "operationId": "getRun",
            "security": READERS,
            "parameters": [RUN_PATH],
            "responses": {
                "200": json_content(ref("Run"), "the run"),
                "400": BAD,
                "404": MISSING,
                "410": GONE,
            },
        }
    },
    "/api/runs/{run_id}/events": {
        "get": {
            "summary": "The run's trail: JSON pages, NDJSON stream or live SSE tail",
            "description": (
                "The format follows `Accept` (or `format`): `application/json` (default) "
                "pages of at most 10,000 events; `application/x-ndjson` one event a line, "
                "streamed; `text/event-stream` the stored events then new ones as they "
                "commit, each as `event: trail` with `id:` = seq, an `event: run` with the "
                "run's state after each batch, heartbeat comments, and `event: end` when "
                "the run has ended, after which the stream closes. Reconnect with "
                "`Last-Event-ID` to resume after the last event seen."
            ),
            "operationId": "getRunEvents",
            "security": READERS,
            "parameters": [
                RUN_PATH,
                param("after", "query", {"type": "integer", "minimum": 0}, "events after seq"),
                param(
                    "limit",
                    "query",
                    {"type": "integer", "minimum": 1},
                    "at most this many (JSON: default 1000, max 10000)",
                ),
                param(
                    "format",
                    "query",
                    {"type": "string", "enum": ["json", "ndjson", "sse"]},
                    "overrides Accept",
                ),
                param("Last-Event-ID", "header", {"type": "integer"}, "SSE: resume after this seq"),
            ],
            "responses": {
                "200": {
                    "description": "the trail",
                    "content": {
                        "application/json": {"schema": ref("EventPage")},
                        "application/x-ndjson": {
                            "schema": {**ref("Event"), "description": "one Event per line"}
                        },
                        "text/event-stream": {"schema": {"type": "string"}},
                    },
                },
                "400": BAD,
                "404": MISSING,
                "410": GONE,
                "503": {
                    **json_content(
                        ref("Error"), "SSE only: as many live tails are open as the bot allows"
                    ),
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                },
            },
        }
    },
    "/api/summary": {
        "get": {
            "summary": "The PR summary comment body last posted (or, in dry run, rendered)",
            "description": "A private PR's summary follows its runs' read rule: the PR-wide "
            "link token, a reporter credential for the repository, or the admin token.",
            "operationId": "getSummary",
            "security": READERS,
            "parameters": [
                {**param("repo", "query", {"type": "string"}, "owner/name"), "required": True},
                {
                    **param("pr", "query", {"type": "integer", "minimum": 1}, "PR number"),
                    "required": True,
                },
                param(
                    "wait",
                    "query",
                    {"type": "integer", "minimum": 0, "maximum": 10, "default": 0},
                    "with no summary yet, wait up to this many seconds for the first one "
                    "(the comment debounce) before answering 404",
                ),
                param(
                    "format",
                    "query",
                    {"type": "string", "enum": ["json", "markdown"], "default": "json"},
                    "markdown: the comment body alone, as text/markdown",
                ),
            ],
            "responses": {
                "200": {
                    "description": "the summary",
                    "content": {
                        "application/json": {"schema": ref("Summary")},
                        "text/markdown": {"schema": {"type": "string"}},
                    },
                },
                "400": BAD,
                "404": json_content(ref("Error"), "no summary yet, or one the caller may not read"),
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This description",
            "operationId": "getOpenAPI",
            "responses": {"200": json_content({"type": "object"}, "OpenAPI 3.1")},
        }
    },
    "/runs/{run_id}": {
        "get": {
            "summary": "The run's page (HTML)",
            "operationId": "runPage",
            "security": READERS,
            "parameters": [RUN_PATH],
            "responses": {
                "200": page("the page"),
                "400": page("an unknown query parameter"),
                "404": page("no such run, or one the caller may not read"),
                "410": page("removed by retention: when and why"),
            },
        }
    },
    "/repos/{owner}/{repo}/pull/{number}": {
        "get": {
            "summary": "All runs of a pull request (HTML)",
            "operationId": "prPage",
            "security": READERS,
            "parameters": [
                {**param("owner", "path", {"type": "string"}, "owner"), "required": True},
                {**param("repo", "path", {"type": "string"}, "repository"), "required": True},
                {
                    **param("number", "path", {"type": "integer", "minimum": 1}, "PR"),
                    "required": True,
                },
            ],
            "responses": {
                "200": page("the page"),
                "400": page("a malformed repository or PR number, or an unknown parameter"),
                "404": page("no run of this PR the caller may read"),
            },
        }
    },
}


@dataclass(frozen=True)
class ApiDoc:
    """One feature's part of the document: path items (merged per method) and schemas."""

    paths: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    schemas: Mapping[str, Any] = field(default_factory=dict)


READ_API = ApiDoc(paths=PATHS, schemas=SCHEMAS)
OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi")


def _merge(parts: Iterable[ApiDoc]) -> tuple[dict[str, Any], dict[str, Any]]:
    """All parts' paths (an item's methods merged) and schemas (a name means one schema)."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for part in parts:
        for path, item in part.paths.items():
            paths.setdefault(path, {}).update(copy.deepcopy(item))
        for name, schema in part.schemas.items():
            if schemas.setdefault(name, copy.deepcopy(schema)) != schema:
                raise ValueError(f"OpenAPI schema {name!r} is described twice, differently")
    return paths, schemas


def document(parts: Iterable[ApiDoc]) -> dict[str, Any]:
    """The whole OpenAPI document from the features' parts."""
    paths, schemas = _merge(parts)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "audit bot",
            "version": __version__,
            "description": (
                "Audited runs of pull requests: run states, hash-chained trails, live tails. "
                "Runs of public repositories are readable by anyone; private ones need the "
                "link token `t`, a reporter credential for the repository, or the admin "
                "token. A run the caller may not read answers 404. CI steps report runs, "
                "events and spend through the reporter routes (`POST /api/runs…`, a bearer "
                "credential always); GitHub delivers to `POST /webhook`; `/healthz`, "
                "`/readyz`, `/metrics` and `/api/outbox` are for operators."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": copy.deepcopy(SECURITY_SCHEMES),
        },
    }


async def serve(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


def setup(app: web.Application, parts: Iterable[ApiDoc]) -> None:
    """Build the document once, at app setup, and serve it at `/api/openapi.json`."""
    app[OPENAPI] = document(parts)
    app.router.add_get("/api/openapi.json", serve)
