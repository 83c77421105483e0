"""The transparency log over HTTP: the latest checkpoint, the verifier key, and proofs.

Proofs are only given against sizes the bot signed a checkpoint for, so every answer
can be checked against a signed note. A run's inclusion proof follows the run's read
rule: a caller who may not read the run gets the same 404 as for a missing run.
"""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from bot import keys
from bot.http import openapi
from bot.http import params as query
from bot.http.access import LINK_PARAM
from bot.http.api import readable_run
from bot.http.errors import ApiError
from bot.store import log as tlog
from bot.store.base import LogStore
from bot.trail import merkle
from bot.workers.log_integrator import INTEGRATOR
from bot.workers.log_signing import load_signer

NOTE = "text/plain; charset=utf-8"
MAX_SIZE = 2**62


def b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(v).decode() for v in values]


async def checkpoint(request: web.Request) -> web.Response:
    latest = await request.app[keys.STORE].latest_checkpoint()
    if latest is None:
        raise ApiError(404, "no checkpoint yet: the log is empty")
    return web.Response(text=latest.note, content_type="text/plain", charset="utf-8")


async def verifier_key(request: web.Request) -> web.Response:
    integrator = request.app.get(INTEGRATOR)
    if integrator is not None:
        key = integrator.signer.verifier.key
    else:  # a read process: the intake's key from the same place, never a new one
        try:
            key = load_signer(request.app[keys.SETTINGS], create=False).verifier.key
        except FileNotFoundError:
            raise ApiError(
                404, "no log signing key here: set AUDIT_LOG_SIGNING_KEY on read processes"
            ) from None
    return web.Response(text=key + "\n", content_type="text/plain", charset="utf-8")


async def _signed_size(store: LogStore, raw: str | None, name: str, default: int | None) -> int:
    """A tree size the bot signed a checkpoint for (0 allowed as the empty tree)."""
    size = query.integer(raw, name, 0, MAX_SIZE, default)
    if size is None:
        raise query.BadParameter(name, "is required")
    if size > await store.log_size():
        raise query.BadParameter(name, f"{size} is larger than the tree")
    if size and size not in {c.size for c in await store.checkpoints()}:
        raise query.BadParameter(name, f"{size} is not the size of a signed checkpoint")
    return size


async def consistency(request: web.Request) -> web.Response:
    store = request.app[keys.STORE]
    query.reject_unknown(request.query, ("from", "to"))
    new = await _signed_size(store, request.query.get("to"), "to", None)
    old = await _signed_size(store, request.query.get("from"), "from", None)
    if old > new:
        raise query.BadParameter("from", f"{old} is larger than to ({new})")
    proof = await tlog.consistency_proof(store, old, new)
    return web.json_response({"from": old, "to": new, "proof": b64(proof)})


async def run_proof(request: web.Request) -> web.Response:
    store = request.app[keys.STORE]
    query.reject_unknown(request.query, ("tree_size", LINK_PARAM))
    run = await readable_run(request, request.match_info["run_id"])
    index = await store.leaf_index(run["id"], run["seq"]) if run["seq"] else None
    latest = await store.latest_checkpoint()
    if index is None or latest is None or latest.size <= index:
        raise ApiError(404, "the run's head is not in a signed checkpoint yet; retry in seconds")
    size = await _signed_size(store, request.query.get("tree_size"), "tree_size", latest.size)
    if size <= index:
        raise query.BadParameter("tree_size", f"{size} is before the run's head leaf {index}")
    notes = {c.size: c.note for c in await store.checkpoints()}
    proof = await tlog.inclusion_proof(store, index, size)
    data = merkle.leaf_data(run["id"], run["seq"], run["head_hash"])
    return web.json_response(
        {
            "run_id": run["id"],
            "seq": run["seq"],
            "leaf_index": index,
            "leaf_data": base64.b64encode(data).decode(),
            "tree_size": size,
            "inclusion_proof": b64(proof),
            "checkpoint": notes[size],
        }
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/log/checkpoint", checkpoint)
    app.router.add_get("/api/log/key", verifier_key)
    app.router.add_get("/api/log/proof/consistency", consistency)
    app.router.add_get("/api/runs/{run_id}/proof", run_proof)


# -- the OpenAPI description of these routes --------------------------------------

_B64_HASHES = {"type": "array", "items": {"type": "string", "contentEncoding": "base64"}}
_TEXT = {"text/plain": {"schema": {"type": "string"}}}
_SIZE = {"type": "integer", "minimum": 0}
SCHEMAS: dict[str, Any] = {
    "ConsistencyProof": {
        "type": "object",
        "required": ["from", "to", "proof"],
        "additionalProperties": False,
        "properties": {"from": _SIZE, "to": _SIZE, "proof": _B64_HASHES},
    },
    "InclusionProof": {
        "type": "object",
        "required": [
            "run_id",
            "seq",
            "leaf_index",
            "leaf_data",
            "tree_size",
            "inclusion_proof",
            "checkpoint",
        ],
        "additionalProperties": False,
        "properties": {
            "run_id": openapi.RUN_ID,
            "seq": {"type": "integer", "minimum": 1},
            "leaf_index": _SIZE,
            "leaf_data": {"type": "string", "contentEncoding": "base64"},
            "tree_size": _SIZE,
            "inclusion_proof": _B64_HASHES,
            "checkpoint": {"type": "string", "description": "the signed note of that size"},
        },
    },
}
PUBLIC: list[dict[str, list[str]]] = [{}]  # anyone: the log is public
_NO_LOG = openapi.json_content(openapi.ref("Error"), "the log has no checkpoint yet")


def _size_param(name: str, description: str, required: bool) -> dict[str, Any]:
    return {**openapi.param(name, "query", _SIZE, description), "required": required}


PATHS: dict[str, Any] = {
    "/api/log/checkpoint": {
        "get": {
            "summary": "The latest signed checkpoint (C2SP tlog-checkpoint signed note)",
            "operationId": "logCheckpoint",
            "security": PUBLIC,
            "responses": {
                "200": {"description": "origin, size, base64 root, signatures", "content": _TEXT},
                "404": _NO_LOG,
            },
        }
    },
    "/api/log/key": {
        "get": {
            "summary": "The checkpoints' verifier key (`name+keyhash+key`)",
            "operationId": "logKey",
            "security": PUBLIC,
            "responses": {"200": {"description": "the verifier key", "content": _TEXT}},
        }
    },
    "/api/log/proof/consistency": {
        "get": {
            "summary": "RFC 9162 consistency proof between two signed checkpoint sizes",
            "operationId": "logConsistency",
            "security": PUBLIC,
            "parameters": [
                _size_param("from", "the older checkpoint's size (0: the empty tree)", True),
                _size_param("to", "the newer checkpoint's size", True),
            ],
            "responses": {
                "200": openapi.json_content(openapi.ref("ConsistencyProof"), "the proof"),
                "400": openapi.BAD,
            },
        }
    },
    "/api/runs/{run_id}/proof": {
        "get": {
            "summary": "Inclusion proof of the run's head event in a signed checkpoint",
            "description": "The head's leaf binds the run id, seq and chain hash, so it "
            "proves the whole trail. Under the run's read rule.",
            "operationId": "runProof",
            "security": openapi.READERS,
            "parameters": [
                openapi.RUN_PATH,
                _size_param("tree_size", "a signed checkpoint's size (default: latest)", False),
            ],
            "responses": {
                "200": openapi.json_content(openapi.ref("InclusionProof"), "the proof"),
                "400": openapi.BAD,
                "404": openapi.MISSING,
                "410": openapi.GONE,
            },
        }
    },
}

# These routes in the OpenAPI document, composed by `create_app`.
DOC = openapi.ApiDoc(paths=PATHS, schemas=SCHEMAS)
