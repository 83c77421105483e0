"""The offline bundle verifier: an honest bundle passes; each attack is named when refused."""

from __future__ import annotations

import base64
import json

import pytest

from bot.trail import checkpoint as cp
from bot.trail import events as ev
from bot.trail import merkle
from bot.trail.bundle import FORMAT, BundleError, verify_bundle

ORIGIN = "audit-bot.example/log"
SOURCE = ev.Source(kind="webhook", id="delivery-1", event="pull_request", action="opened")
T0 = "2026-01-01T00:00:00.000Z"


def run_events(run_id: str, n: int, word: str = "step") -> list[ev.Event]:
    out, prev = [], ev.GENESIS_HASH
    for seq in range(1, n + 1):
        new = ev.NewEvent(ev.NOTE, {"text": f"{word} {seq}"})
        event = ev.seal(run_id, seq, new, SOURCE, T0, prev)
        out.append(event)
        prev = event.hash
    return out


class Log:
    """A log as the store will keep it: leaves appended in order, perfect subtrees kept."""

    def __init__(self) -> None:
        self.size, self.frontier, self.nodes = 0, (), {}
        self.index: dict[tuple[str, int], int] = {}

    def add(self, events: list[ev.Event]) -> None:
        for offset, event in enumerate(events):
            self.index[(event.run_id, event.seq)] = self.size + offset
        leaves = [merkle.leaf_hash(merkle.leaf_data(e.run_id, e.seq, e.hash)) for e in events]
        done = merkle.append(self.size, self.frontier, leaves)
        self.nodes.update({(lv, i): h for lv, i, h in done.nodes})
        self.size, self.frontier = done.size, done.frontier

    def get(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]

    def checkpoint(self, signer: cp.Signer, size: int | None = None, origin: str = ORIGIN) -> str:
        size = self.size if size is None else size
        body = cp.checkpoint_body(origin, size, merkle.root(size, self.get))
        return cp.sign_note(body, [signer])


def b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def bundle_of(
    log: Log, signer: cp.Signer, events: list[ev.Event], older: tuple[int, ...] = ()
) -> dict:
    head = events[-1]
    index = log.index[(head.run_id, head.seq)]
    return json.loads(
        json.dumps(
            {
                "format": FORMAT,
                "run_id": head.run_id,
                "events": [e.as_dict() for e in events],
                "leaf_index": index,
                "tree_size": log.size,
                "inclusion_proof": b64(merkle.inclusion_proof(index, log.size, log.get)),
                "checkpoint": log.checkpoint(signer),
                "verifier_key": signer.verifier.key,
                "consistency": {
                    str(m): b64(merkle.consistency_proof(m, log.size, log.get)) for m in older
                },
            }
        )
    )


@pytest.fixture
def signer() -> cp.Signer:
    return cp.generate_signer("audit-bot")


@pytest.fixture
def world(signer: cp.Signer) -> tuple[Log, list[ev.Event], str]:
    """Three runs logged, an older checkpoint saved after the second, then more events."""
    log = Log()
    a, target, c = run_events("run-a", 5), run_events("run-b", 7), run_events("run-c", 4)
    log.add(a)
    log.add(target)
    older = log.checkpoint(signer)
    log.add(c)
    log.add(run_events("run-d", 9))
    return log, target, older


def test_an_honest_bundle_verifies(world, signer: cp.Signer) -> None:
    log, target, older = world
    bundle = bundle_of(log, signer, target, older=(12,))
    lines = verify_bundle(bundle, [signer.verifier.key], ORIGIN, older_checkpoint=older)
    assert lines[0].startswith("chain: 7 events of run run-b link")
    assert any(line.startswith("inclusion: head event 7 is leaf 11 of") for line in lines)
    assert lines[-1] == "consistency: the tree of size 25 extends the older one of size 12"
    # without an older checkpoint or an origin, the rest still holds
    assert len(verify_bundle(bundle, [signer.verifier])) == 4


def test_an_edited_event_is_refused(world, signer: cp.Signer) -> None:
    log, target, _ = world
    bundle = bundle_of(log, signer, target)
    bundle["events"][2]["data"]["text"] = "edited"
    with pytest.raises(BundleError, match=r"chain: event 3: .*edited"):
        verify_bundle(bundle, [signer.verifier.key])


def test_a_deleted_event_is_refused(world, signer: cp.Signer) -> None:
    log, target, _ = world
    bundle = bundle_of(log, signer, target)
    del bundle["events"][3]
    with pytest.raises(BundleError, match=r"chain: event 4"):
        verify_bundle(bundle, [signer.verifier.key])


def test_a_recomputed_run_rewrite_is_caught_by_an_older_checkpoint(
    world, signer: cp.Signer
) -> None:
    """The operator rewrites run-b whole, rebuilds the tree and re-signs with its own key."""
    _, target, older = world
    rewritten = run_events("run-b", 7, word="forged")
    log = Log()
    log.add(run_events("run-a", 5))
    log.add(rewritten)
    log.add(run_events("run-c", 4))
    log.add(run_events("run-d", 9))
    bundle = bundle_of(log, signer, rewritten, older=(12,))
    # on its own the rewritten bundle is self-consistent...
    verify_bundle(bundle, [signer.verifier.key], ORIGIN)
    # ...but the checkpoint saved earlier (on GitHub) contradicts it
    with pytest.raises(BundleError, match=r"consistency: .* does not extend the older"):
        verify_bundle(bundle, [signer.verifier.key], ORIGIN, older_checkpoint=older)
    # and leaving the proof out does not help
    del bundle["consistency"]
    with pytest.raises(BundleError, match="no proof from size 12"):
        verify_bundle(bundle, [signer.verifier.key], ORIGIN, older_checkpoint=older)
    assert target[-1].hash != rewritten[-1].hash


def test_a_proof_for_another_leaf_is_refused(world, signer: cp.Signer) -> None:
    log, target, _ = world
    bundle = bundle_of(log, signer, target)
    bundle["leaf_index"] -= 1
    with pytest.raises(BundleError, match="inclusion: head event 7 is not in the log"):
        verify_bundle(bundle, [signer.verifier.key])


def test_a_bad_signature_is_refused(world, signer: cp.Signer) -> None:
    log, target, _ = world
    bundle = bundle_of(log, signer, target)
    bundle["checkpoint"] = bundle["checkpoint"].replace("\n25\n", "\n26\n")
    with pytest.raises(BundleError, match="checkpoint: bad signature"):
        verify_bundle(bundle, [signer.verifier.key])


def test_a_wrong_origin_is_refused(world, signer: cp.Signer) -> None:
    log, target, _ = world
    bundle = bundle_of(log, signer, target)
    with pytest.raises(BundleError, match="checkpoint: wrong origin"):
        verify_bundle(bundle, [signer.verifier.key], origin="elsewhere.example/log")


def test_an_untrusted_key_is_refused_even_if_the_bundle_names_it(world) -> None:
    log, target, _ = world
    impostor = cp.generate_signer("audit-bot")
    bundle = bundle_of(log, impostor, target)
    trusted = cp.generate_signer("audit-bot").verifier.key
    with pytest.raises(BundleError, match="checkpoint: no signature by a trusted key"):
        verify_bundle(bundle, [trusted])


def test_an_older_checkpoint_with_a_larger_size_is_refused(world, signer: cp.Signer) -> None:
    log, target, _ = world
    bundle = bundle_of(log, signer, target)
    log.add(run_events("run-e", 3))
    larger = log.checkpoint(signer)
    with pytest.raises(BundleError, match="size 28 is larger than the bundle's 25"):
        verify_bundle(bundle, [signer.verifier.key], older_checkpoint=larger)


def test_an_older_checkpoint_by_an_untrusted_key_is_refused(world, signer: cp.Signer) -> None:
    log, target, _ = world
    bundle = bundle_of(log, signer, target, older=(12,))
    other = log.checkpoint(cp.generate_signer("audit-bot"), size=12)
    with pytest.raises(BundleError, match="older checkpoint: no signature by a trusted key"):
        verify_bundle(bundle, [signer.verifier.key], older_checkpoint=other)


def test_rotation_old_checkpoint_co_signed_by_the_new_key(world, signer: cp.Signer) -> None:
    log, target, older = world
    new = cp.generate_signer("audit-bot-2")
    bundle = bundle_of(log, new, target, older=(12,))
    cosigned = cp.cosign(older, new)
    lines = verify_bundle(bundle, [new.verifier.key], ORIGIN, older_checkpoint=cosigned)
    assert lines[-1].startswith("consistency:")


def test_malformed_bundles(world, signer: cp.Signer) -> None:
    log, target, _ = world
    key = [signer.verifier.key]
    with pytest.raises(BundleError, match="not a bundle"):
        verify_bundle({"format": "other"}, key)
    bundle = bundle_of(log, signer, target)
    bundle["inclusion_proof"] = ["!!"]
    with pytest.raises(BundleError, match="not base64"):
        verify_bundle(bundle, key)
    bundle = bundle_of(log, signer, target)
    bundle["events"] = []
    with pytest.raises(BundleError, match="no events"):
        verify_bundle(bundle, key)
    bundle = bundle_of(log, signer, target)
    bundle["tree_size"] = 24
    with pytest.raises(BundleError, match="not the checkpoint's 25"):
        verify_bundle(bundle, key)
    with pytest.raises(BundleError, match="trusted key"):
        verify_bundle(bundle, ["nonsense"])
