"""The offline verifier of one run's bundle: no database, no network, no trust in the bot.

A bundle is one JSON object:

    {"format": "audit-bot/bundle-v1",
     "run_id": "<run id>",
     "events": [<each event as `Event.as_dict` writes it: the body, prev_hash, hash>],
     "leaf_index": <the head event's leaf in the log>,
     "tree_size": <the checkpoint's size>,
     "inclusion_proof": ["<base64 hash>", ...],
     "checkpoint": "<the signed note text>",
     "verifier_key": "<name+keyhash+key of the bot's key>",
     "consistency": {"<older size>": ["<base64 hash>", ...], ...}}   (optional)

What is checked, in this order, stopping at the first failure:
1. the events form the run's hash chain, seq 1..n, and fold into a state;
2. the checkpoint is signed by a key the auditor trusts (not the bundle's own say-so)
   and, when asked, names the expected log (origin);
3. the head event's leaf (`merkle.leaf_data`) is in that checkpoint's tree: as the head's
   chain hash pins every earlier event, this proves the whole trail was logged;
4. with an older checkpoint (e.g. copied from GitHub before any rewrite), the new tree
   extends the old one: a run rewritten and re-signed since does not pass.

Only the standard library, `cryptography` and the bot's pure `bot.trail` modules.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.trail import checkpoint as cp
from bot.trail import merkle
from bot.trail.events import Event, verify_chain
from bot.trail.state import fold

FORMAT = "audit-bot/bundle-v1"


class BundleError(ValueError):
    """The bundle fails a check; the message names the first one that failed."""


def verify_bundle(
    bundle: Mapping[str, Any],
    trusted_keys: Iterable[str | cp.Verifier],
    origin: str | None = None,
    older_checkpoint: str | None = None,
    older_origin: str | None = None,
) -> list[str]:
    """Check `bundle` against keys the auditor trusts; the lines of what was checked.

    `older_origin` is the older checkpoint's log, when it differs (a key rotation that
    started a new origin); by default it must be the bundle checkpoint's own.
    """
    trusted = [_verifier(k) for k in trusted_keys]
    if not trusted:
        raise BundleError("no trusted key given")
    if not isinstance(bundle, Mapping) or bundle.get("format") != FORMAT:
        raise BundleError(f"not a bundle: format is not {FORMAT!r}")
    run_id = _field(bundle, "run_id", str)
    events = _events(bundle, run_id)
    head = events[-1]
    try:
        state = fold(run_id, events)
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        raise BundleError(f"fold: the events do not fold into a run ({error!r})") from None
    lines = [
        f"chain: {len(events)} events of run {run_id} link, head hash {head.hash}",
        f"fold: run {run_id} is {state['status']}",
    ]

    try:
        new = cp.open_checkpoint(_field(bundle, "checkpoint", str), trusted, origin)
    except cp.CheckpointError as error:
        raise BundleError(f"checkpoint: {error}") from None
    lines.append(f"checkpoint: signed by a trusted key, log {new.origin!r}, size {new.size}")
    shipped = _field(bundle, "verifier_key", str)
    if shipped not in {v.key for v in trusted}:
        lines.append("note: the bundle's own verifier key is not one you trust; it was ignored")

    index, size = _field(bundle, "leaf_index", int), _field(bundle, "tree_size", int)
    if size != new.size:
        raise BundleError(f"inclusion: tree_size {size} is not the checkpoint's {new.size}")
    leaf = merkle.leaf_hash(_leaf_data(run_id, head))
    try:
        merkle.verify_inclusion(leaf, index, size, _hashes(bundle, "inclusion_proof"), new.root)
    except merkle.ProofError as error:
        raise BundleError(f"inclusion: head event {head.seq} is not in the log: {error}") from None
    lines.append(f"inclusion: head event {head.seq} is leaf {index} of the tree of size {size}")

    if older_checkpoint is not None:
        lines.append(_consistency(bundle, trusted, new, older_checkpoint, older_origin))
    return lines


def _consistency(
    bundle: Mapping[str, Any],
    trusted: Sequence[cp.Verifier],
    new: cp.Checkpoint,
    older_note: str,
    older_origin: str | None,
) -> str:
    try:
        old = cp.open_checkpoint(older_note, trusted, older_origin or new.origin)
    except cp.CheckpointError as error:
        raise BundleError(f"older checkpoint: {error}") from None
    if old.size > new.size:
        raise BundleError(
            f"older checkpoint: its size {old.size} is larger than the bundle's {new.size}: "
            "the log shrank or was rewritten"
        )
    proofs = bundle.get("consistency") or {}
    if not isinstance(proofs, Mapping):
        raise BundleError("malformed bundle: consistency is not an object")
    proof: Any = proofs.get(str(old.size), [] if old.size in (0, new.size) else None)
    if proof is None:
        raise BundleError(f"consistency: the bundle has no proof from size {old.size}")
    try:
        merkle.verify_consistency(old.size, new.size, old.root, new.root, _decode(proof))
    except merkle.ProofError as error:
        raise BundleError(
            f"consistency: the tree of size {new.size} does not extend the older checkpoint "
            f"of size {old.size} (history rewritten?): {error}"
        ) from None
    return f"consistency: the tree of size {new.size} extends the older one of size {old.size}"


def _events(bundle: Mapping[str, Any], run_id: str) -> list[Event]:
    raw = _field(bundle, "events", list)
    if not raw:
        raise BundleError("malformed bundle: no events")
    try:
        events = [Event.from_dict(item) for item in raw]
    except (KeyError, TypeError, ValueError) as error:
        raise BundleError(f"malformed bundle: an event is unreadable ({error!r})") from None
    broken = verify_chain(events, expected_run=run_id)
    if broken is not None:
        raise BundleError(f"chain: event {broken.seq}: {broken.reason}")
    return events


def _leaf_data(run_id: str, head: Event) -> bytes:
    try:
        return merkle.leaf_data(run_id, head.seq, head.hash)
    except merkle.ProofError as error:
        raise BundleError(f"chain: head event {head.seq}: {error}") from None


def _hashes(bundle: Mapping[str, Any], name: str) -> list[bytes]:
    return _decode(_field(bundle, name, list))


def _decode(values: Any) -> list[bytes]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BundleError("malformed bundle: a proof is a list of base64 strings")
    try:
        return [base64.b64decode(v, validate=True) for v in values]
    except (binascii.Error, ValueError):
        raise BundleError("malformed bundle: a proof hash is not base64") from None


def _field(bundle: Mapping[str, Any], name: str, kind: type) -> Any:
    value = bundle.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BundleError(f"malformed bundle: {name} is missing or not a {kind.__name__}")
    return value


def _verifier(key: str | cp.Verifier) -> cp.Verifier:
    try:
        return key if isinstance(key, cp.Verifier) else cp.parse_verifier_key(key)
    except cp.CheckpointError as error:
        raise BundleError(f"trusted key: {error}") from None
