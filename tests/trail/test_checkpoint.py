"""Signed checkpoints: round trips, a third-party test vector, rotation, every refusal."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bot.trail import checkpoint as cp

# Test data of Go's signed-note package (golang/mod, sumdb/note tests): two verifier keys,
# the seed of the first, a text and its two signature lines.
PETER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
ENOCH_KEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfq"
    "dngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGw"
    "nWLox33WWd1RvMc+QQ=\n"
)

ROOT = hashlib.sha256(b"a root").digest()
ORIGIN = "audit-bot.example/log"


def test_go_vector_verifies() -> None:
    text, good = cp.open_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [PETER_KEY])
    assert text == GO_TEXT
    assert [v.name for v in good] == ["PeterNeumann"]
    _, good = cp.open_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [PETER_KEY, ENOCH_KEY])
    assert [v.key for v in good] == [PETER_KEY, ENOCH_KEY]


def test_go_vector_keys_and_signature_are_reproduced() -> None:
    peter = cp.Signer("PeterNeumann", Ed25519PrivateKey.from_private_bytes(PETER_SEED))
    assert peter.verifier.key == PETER_KEY
    assert cp.parse_verifier_key(PETER_KEY).key_hash.hex() == "c74f20a3"
    # Ed25519 is deterministic: signing the text gives Go's exact note
    assert cp.sign_note(GO_TEXT, [peter]) == GO_TEXT + "\n" + PETER_SIG


def test_go_vector_refusals() -> None:
    with pytest.raises(cp.CheckpointError, match="no signature by a trusted key"):
        cp.open_note(GO_TEXT + "\n" + ENOCH_SIG, [PETER_KEY])
    with pytest.raises(cp.CheckpointError, match="bad signature by key PeterNeumann"):
        cp.open_note(GO_TEXT.replace("you", "You", 1) + "\n" + PETER_SIG, [PETER_KEY])


def test_round_trip() -> None:
    signer = cp.generate_signer("audit-bot")
    note = cp.sign_note(cp.checkpoint_body(ORIGIN, 42, ROOT), [signer])
    assert note.startswith(f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\n\n— audit-bot ")
    assert cp.open_checkpoint(note, [signer.verifier.key], ORIGIN) == cp.Checkpoint(
        ORIGIN, 42, ROOT
    )
    assert cp.open_checkpoint(note, [signer.verifier], None).size == 42
    again = cp.signer_from_pem("audit-bot", cp.signer_to_pem(signer))
    assert again.verifier == signer.verifier
    assert cp.parse_verifier_key(signer.verifier.key) == signer.verifier


def test_extension_lines_and_empty_tree() -> None:
    body = cp.checkpoint_body(ORIGIN, 0, hashlib.sha256(b"").digest()) + "ext line\n"
    assert cp.parse_checkpoint_body(body).size == 0


def test_rotation_co_signature() -> None:
    old, new = cp.generate_signer("audit-bot"), cp.generate_signer("audit-bot-2")
    note = cp.sign_note(cp.checkpoint_body(ORIGIN, 9, ROOT), [old])
    both = cp.cosign(note, new)
    assert both.startswith(note)
    for keys in ([old.verifier], [new.verifier], [old.verifier, new.verifier]):
        assert cp.open_checkpoint(both, keys, ORIGIN).size == 9
    _, good = cp.open_note(both, [old.verifier, new.verifier])
    assert good == [old.verifier, new.verifier]
    # co-signing again replaces the signer's own line rather than adding one
    assert cp.cosign(both, new).count("— audit-bot-2 ") == 1


def test_same_name_new_key_is_not_trusted_by_the_old_key() -> None:
    old, other = cp.generate_signer("audit-bot"), cp.generate_signer("audit-bot")
    note = cp.sign_note(cp.checkpoint_body(ORIGIN, 1, ROOT), [other])
    with pytest.raises(cp.CheckpointError, match="no signature by a trusted key"):
        cp.open_checkpoint(note, [old.verifier], ORIGIN)


@pytest.fixture
def signer() -> cp.Signer:
    return cp.generate_signer("audit-bot")


def test_bad_signature(signer: cp.Signer) -> None:
    note = cp.sign_note(cp.checkpoint_body(ORIGIN, 5, ROOT), [signer])
    forged = note.replace("\n5\n", "\n6\n")
    with pytest.raises(cp.CheckpointError, match="bad signature"):
        cp.open_checkpoint(forged, [signer.verifier], ORIGIN)


def test_untrusted_key(signer: cp.Signer) -> None:
    note = cp.sign_note(cp.checkpoint_body(ORIGIN, 5, ROOT), [signer])
    with pytest.raises(cp.CheckpointError, match="no signature by a trusted key"):
        cp.open_checkpoint(note, [PETER_KEY], ORIGIN)


def test_wrong_origin(signer: cp.Signer) -> None:
    note = cp.sign_note(cp.checkpoint_body("another.example/log", 5, ROOT), [signer])
    with pytest.raises(cp.CheckpointError, match=r"wrong origin 'another\.example/log'"):
        cp.open_checkpoint(note, [signer.verifier], ORIGIN)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda n: n.replace("\n\n", "\n"),  # no signature block
        lambda n: n[:-1],  # no final newline
        lambda n: n.replace("— ", "-- "),  # not an em dash
        lambda n: n.replace("— audit-bot ", "— audit bot "),  # name with a space
        lambda n: n.rstrip("\n") + "!\n",  # signature not base64
        lambda n: n.split("\n\n")[0] + "\n\n",  # no signature lines
        lambda n: n.replace(f"{ORIGIN}\n", f"{ORIGIN}\x07\n"),  # control character
    ],
)
def test_malformed_notes(signer: cp.Signer, mangle) -> None:
    note = cp.sign_note(cp.checkpoint_body(ORIGIN, 5, ROOT), [signer])
    with pytest.raises(cp.CheckpointError, match="malformed"):
        cp.open_checkpoint(mangle(note), [signer.verifier], ORIGIN)


@pytest.mark.parametrize(
    "text",
    [
        f"{ORIGIN}\n05\n{base64.b64encode(ROOT).decode()}\n",  # size not canonical
        f"{ORIGIN}\n-5\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n5\n",  # a line missing
        f"{ORIGIN}\n5\n{base64.b64encode(ROOT).decode()[:-1]}\n",  # root not base64
    ],
)
def test_malformed_bodies_even_when_signed(signer: cp.Signer, text: str) -> None:
    note = cp.sign_note(text, [signer])
    with pytest.raises(cp.CheckpointError, match=r"malformed (checkpoint|root)"):
        cp.open_checkpoint(note, [signer.verifier], ORIGIN)


def test_root_of_the_wrong_length(signer: cp.Signer) -> None:
    text = f"{ORIGIN}\n5\n{base64.b64encode(b'short').decode()}\n"
    with pytest.raises(cp.CheckpointError, match="not 32 bytes"):
        cp.open_checkpoint(cp.sign_note(text, [signer]), [signer.verifier], ORIGIN)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("PeterNeumann+c74f20a3", "want name"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "hex"),
        # Go's own bad keys: wrong length, unknown algorithm
        (
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "malformed verifier key",
        ),
        ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not an Ed25519"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name"),
    ],
)
def test_bad_verifier_keys(key: str, reason: str) -> None:
    with pytest.raises(cp.CheckpointError, match=reason):
        cp.parse_verifier_key(key)


def test_pem_refusals() -> None:
    with pytest.raises(cp.CheckpointError, match="PEM"):
        cp.signer_from_pem("audit-bot", b"not a key")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(cp.CheckpointError, match="Ed25519"):
        cp.signer_from_pem("audit-bot", pem)
