"""The OpenAPI 3.1 description of the bot's own HTTP API, served at `/api/openapi.json`.

Kept as data beside the handlers it describes; the tests validate real responses
against these schemas, so the description cannot drift from what the bot sends.
Other features add their routes with `register(path, item)` at import time.
"""

from __future__ import annotations

import copy
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


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "what was wrong, in words"},
            "parameter": {"type": "string", "description": "the query parameter at fault"},
        },
    },
    "Gone": {
        "type": "object",
        "description": "a run retention removed: when and why",
        "required": ["error", "pruned_at", "reason"],
        "properties": {
            "error": {"type": "string"},
            "pruned_at": TIME,
            "reason": {"type": "string"},
            "repo": {"type": "string"},
            "pr": {"type": ["integer", "null"]},
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
            "source": _ref("Source"),
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
        "properties": {
            "self": {"type": "string"},
            "events": {"type": "string"},
            "page": {"type": "string"},
        },
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
            "started_at": _nullable(TIME),
            "ended_at": _nullable(TIME),
            "finished_at": _nullable(TIME),
            "updated_at": _nullable(TIME),
            "seq": {"type": "integer", "minimum": 0, "description": "events in the trail"},
            "head_hash": {**HASH, "description": "the trail's digest"},
            "spend": MONEY,
            "budget": MONEY,
            "spend_by_category": {"type": "object", "additionalProperties": MONEY},
            "tokens": {
                "type": "object",
                "properties": {"input": {"type": "integer"}, "output": {"type": "integer"}},
            },
            "proofs": {"type": "array", "items": _ref("Proof")},
            "links": _ref("Links"),
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
            "runs": {"type": "array", "items": _ref("Run")},
            "next_cursor": {
                **_nullable(RUN_ID),
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
            "events": {"type": "array", "items": _ref("Event")},
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
    "Status": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}},
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _param(name: str, where: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": where, "schema": schema, "description": description}


TOKEN = _param(
    "t",
    "query",
    {"type": "string"},
    "link token for a run of a private repository (carried by the links the bot posts)",
)
RUN_PATH = {**_param("run_id", "path", RUN_ID, "the run ID"), "required": True}
BAD = _json(_ref("Error"), "a bad parameter; `error` says why, `parameter` names it")
MISSING = _json(_ref("Error"), "no such run, or one the caller may not read")
GONE = _json(_ref("Gone"), "the run was removed by retention")
BEARER = [{}, {"bearer": []}]  # anonymous works for public runs

PATHS: dict[str, Any] = {
    "/api/runs": {
        "get": {
            "summary": "List runs, newest first",
            "operationId": "listRuns",
            "security": BEARER,
            "parameters": [
                _param("repo", "query", {"type": "string"}, "owner/name"),
                _param("pr", "query", {"type": "integer", "minimum": 1}, "needs repo"),
                _param("kind", "query", {"type": "string"}, "pr, review, ci, agent, …"),
                _param("status", "query", {"type": "string"}, "open, running, succeeded, …"),
                _param("since", "query", {"type": "string"}, "runs started at or after"),
                _param("cursor", "query", RUN_ID, "next_cursor of the previous page"),
                _param(
                    "limit",
                    "query",
                    {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    "runs per page",
                ),
                TOKEN,
            ],
            "responses": {"200": _json(_ref("RunPage"), "a page of runs"), "400": BAD},
        }
    },
    "/api/runs/{run_id}": {
        "get": {
            "summary": "One run's state: spend, budget, proofs, head digest",
            "operationId": "getRun",
            "security": BEARER,
            "parameters": [RUN_PATH, TOKEN],
            "responses": {
                "200": _json(_ref("Run"), "the run"),
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
            "security": BEARER,
            "parameters": [
                RUN_PATH,
                _param("after", "query", {"type": "integer", "minimum": 0}, "events after seq"),
                _param(
                    "limit",
                    "query",
                    {"type": "integer", "minimum": 1},
                    "at most this many (JSON: default 1000, max 10000)",
                ),
                _param(
                    "format",
                    "query",
                    {"type": "string", "enum": ["json", "ndjson", "sse"]},
                    "overrides Accept",
                ),
                _param(
                    "Last-Event-ID", "header", {"type": "integer"}, "SSE: resume after this seq"
                ),
                TOKEN,
            ],
            "responses": {
                "200": {
                    "description": "the trail",
                    "content": {
                        "application/json": {"schema": _ref("EventPage")},
                        "application/x-ndjson": {
                            "schema": {**_ref("Event"), "description": "one Event per line"}
                        },
                        "text/event-stream": {"schema": {"type": "string"}},
                    },
                },
                "400": BAD,
                "404": MISSING,
                "410": GONE,
            },
        }
    },
    "/api/summary": {
        "get": {
            "summary": "The PR summary comment body last posted (or, in dry run, rendered)",
            "operationId": "getSummary",
            "parameters": [
                {**_param("repo", "query", {"type": "string"}, "owner/name"), "required": True},
                {**_param("pr", "query", {"type": "integer"}, "PR number"), "required": True},
            ],
            "responses": {
                "200": _json(_ref("Summary"), "the summary"),
                "400": BAD,
                "404": _json(_ref("Error"), "no summary yet"),
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This description",
            "operationId": "getOpenAPI",
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
        }
    },
    "/healthz": {
        "get": {
            "summary": "Alive",
            "operationId": "healthz",
            "responses": {"200": _json(_ref("Status"), "alive")},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Store reachable, outbox not stuck",
            "operationId": "readyz",
            "responses": {
                "200": _json(_ref("Status"), "ready"),
                "503": _json(_ref("Status"), "not ready, and why"),
            },
        }
    },
    "/runs/{run_id}": {
        "get": {
            "summary": "The run's page (HTML)",
            "operationId": "runPage",
            "parameters": [RUN_PATH, TOKEN],
            "responses": {
                "200": {"description": "the page", "content": {"text/html": {}}},
                "404": {"description": "no such run", "content": {"text/html": {}}},
                "410": {"description": "removed by retention", "content": {"text/html": {}}},
            },
        }
    },
    "/repos/{owner}/{repo}/pull/{number}": {
        "get": {
            "summary": "All runs of a pull request (HTML)",
            "operationId": "prPage",
            "parameters": [
                {**_param("owner", "path", {"type": "string"}, "owner"), "required": True},
                {**_param("repo", "path", {"type": "string"}, "repository"), "required": True},
                {**_param("number", "path", {"type": "integer"}, "PR"), "required": True},
                TOKEN,
            ],
            "responses": {"200": {"description": "the page", "content": {"text/html": {}}}},
        }
    },
}


def register(path: str, item: dict[str, Any]) -> None:
    """Describe another feature's route (merged per method)."""
    PATHS.setdefault(path, {}).update(item)


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "audit bot",
            "version": __version__,
            "description": (
                "Audited runs of pull requests: run states, hash-chained trails, live tails. "
                "Runs of public repositories are readable by anyone; private ones need the "
                "link token `t`, a reporter credential for the repository, or the admin "
                "token. A run the caller may not read answers 404."
            ),
        },
        "paths": copy.deepcopy(PATHS),
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a reporter credential (GitHub Actions OIDC token or "
                    "AUDIT_API_TOKENS token) or AUDIT_ADMIN_TOKEN",
                }
            },
        },
    }


async def serve(request: web.Request) -> web.Response:
    return web.json_response(document())
