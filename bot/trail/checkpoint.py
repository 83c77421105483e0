"""Signed checkpoints: C2SP `tlog-checkpoint` bodies inside C2SP `signed-note`s, Ed25519.

A checkpoint says "the log named <origin> had <size> leaves with this root", signed. The
form is the one Go's checksum database, Rekor and the public witnesses use, so their
tools can read ours and an auditor needs nothing of this bot to check a signature:

    <origin>\\n<size in decimal>\\n<base64 root>\\n      the body (the note's text)
    \\n                                              a blank line
    — <key name> <base64(4-byte key hash ‖ 64-byte signature)>\\n   one line per signer

Key hash = first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key); a verifier key is
written `name+<8 hex key hash>+base64(0x01 ‖ public key)`. A note may carry several
signatures: on key rotation the new key co-signs the old key's last checkpoint.

Pure: no I/O. Every refusal is a `CheckpointError` that says why.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = 0x01  # the signature type byte of the signed-note spec
SIG_PREFIX = "— "  # em dash, space
MAX_SIGNATURES = 100


class CheckpointError(ValueError):
    """A note, key or checkpoint that is malformed, unsigned, mis-signed or of another log."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes


@dataclass(frozen=True)
class Verifier:
    """A public key a reader trusts, under the name its signature lines carry."""

    name: str
    key_hash: bytes
    public_key: bytes

    @property
    def key(self) -> str:
        """The `name+hash+key` string, as served and printed."""
        return verifier_key(self.name, self.public_key)

    def verifies(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, key_hash(self.name, self.public_key), self.public_key)


def key_hash(name: str, public_key: bytes) -> bytes:
    _check_name(name)
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    encoded = base64.b64encode(bytes([ED25519]) + public_key).decode()
    return f"{name}+{key_hash(name, public_key).hex()}+{encoded}"


def parse_verifier_key(text: str) -> Verifier:
    """Read a `name+hash+key` string, checking the hash matches the name and key."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("malformed verifier key: want name+keyhash+key")
    name, hash_hex, encoded = parts
    _check_name(name)
    if len(hash_hex) != 8 or any(c not in "0123456789abcdef" for c in hash_hex):
        raise CheckpointError("malformed verifier key: the key hash is 8 lowercase hex digits")
    raw = _b64(encoded, "verifier key")
    if len(raw) != 33 or raw[0] != ED25519:
        raise CheckpointError("malformed verifier key: not an Ed25519 key")
    verifier = Verifier(name, bytes.fromhex(hash_hex), raw[1:])
    if key_hash(name, verifier.public_key) != verifier.key_hash:
        raise CheckpointError("malformed verifier key: the key hash does not match the key")
    return verifier


def generate_signer(name: str) -> Signer:
    _check_name(name)
    return Signer(name, Ed25519PrivateKey.generate())


def signer_from_pem(name: str, pem: bytes) -> Signer:
    """The signing key from an unencrypted PKCS#8 PEM (as `signer_to_pem` writes it)."""
    _check_name(name)
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"not a usable PEM private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError("the signing key must be an Ed25519 key")
    return Signer(name, key)


def signer_to_pem(signer: Signer) -> bytes:
    return signer.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


# --- checkpoint bodies -------------------------------------------------------------------


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    if not origin or "\n" in origin or origin != origin.strip():
        raise CheckpointError("an origin is one non-empty line without surrounding spaces")
    if size < 0 or len(root) != 32:
        raise CheckpointError("a checkpoint has a size of 0 or more and a 32-byte root")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_checkpoint_body(text: str) -> Checkpoint:
    """Origin, size and root from a note's text; extension lines after them are allowed."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not all(lines[:-1]):
        raise CheckpointError("malformed checkpoint: want origin, size and root lines")
    origin, size, root = lines[0], lines[1], lines[2]
    if not size.isdecimal() or not size.isascii() or (size != "0" and size[0] == "0"):
        raise CheckpointError(f"malformed checkpoint: size {size!r} is not a decimal number")
    digest = _b64(root, "root hash")
    if len(digest) != 32:
        raise CheckpointError("malformed checkpoint: the root hash is not 32 bytes")
    return Checkpoint(origin, int(size), digest)


# --- signed notes ------------------------------------------------------------------------


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    """The note `text` followed by one signature line per signer."""
    _check_text(text)
    if not signers:
        raise CheckpointError("a signed note needs at least one signer")
    return text + "\n" + "".join(_signature_line(s, text) for s in signers)


def cosign(note: str, signer: Signer) -> str:
    """Add `signer`'s signature to a signed note (replacing its own, if already there).

    How a new key vouches for a checkpoint the old key signed, on rotation. The other
    signatures are kept as they are; readers check the ones they trust.
    """
    text, lines = _split(note)
    own = f"{SIG_PREFIX}{signer.name} "
    kept = [
        line
        for line in lines
        if not (line.startswith(own) and _signature(line)[1] == signer.verifier.key_hash)
    ]
    return text + "\n" + "".join(f"{line}\n" for line in kept) + _signature_line(signer, text)


def open_note(note: str, verifiers: Iterable[Verifier | str]) -> tuple[str, list[Verifier]]:
    """The note's text and the trusted keys whose signatures on it verify.

    Signatures by keys not in `verifiers` are ignored (a witness may co-sign); a
    signature by a trusted key that does not verify refuses the whole note.
    """
    trusted = {(v.name, v.key_hash): v for v in map(_as_verifier, verifiers)}
    text, lines = _split(note)
    message = text.encode()
    good: list[Verifier] = []
    for line in lines:
        name, hash_, signature = _signature(line)
        verifier = trusted.get((name, hash_))
        if verifier is None:
            continue
        if not verifier.verifies(message, signature):
            raise CheckpointError(f"bad signature by key {name}+{hash_.hex()}")
        if verifier not in good:
            good.append(verifier)
    if not good:
        raise CheckpointError("no signature by a trusted key")
    return text, good


def open_checkpoint(
    note: str, verifiers: Iterable[Verifier | str], origin: str | None
) -> Checkpoint:
    """The checkpoint in `note`, signed by a trusted key and (when given) of log `origin`."""
    text, _ = open_note(note, verifiers)
    checkpoint = parse_checkpoint_body(text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"wrong origin {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint


def _signature_line(signer: Signer, text: str) -> str:
    verifier = signer.verifier
    signature = signer.private_key.sign(text.encode())
    encoded = base64.b64encode(verifier.key_hash + signature).decode()
    return f"{SIG_PREFIX}{signer.name} {encoded}\n"


def _split(note: str) -> tuple[str, list[str]]:
    """The note's text and its signature lines (not yet checked against any key)."""
    if not note.endswith("\n") or "\n\n" not in note:
        raise CheckpointError("malformed note: no signature block")
    cut = note.rindex("\n\n")
    text, lines = note[: cut + 1], note[cut + 2 :].split("\n")[:-1]
    _check_text(text)
    if not lines:
        raise CheckpointError("malformed note: no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError("malformed note: too many signatures")
    for line in lines:
        _signature(line)
    return text, lines


def _signature(line: str) -> tuple[str, bytes, bytes]:
    """(key name, key hash, signature) of one signature line."""
    parts = line.removeprefix(SIG_PREFIX).split(" ")
    if not line.startswith(SIG_PREFIX) or len(parts) != 2:
        raise CheckpointError(f"malformed note: bad signature line {line!r}")
    name, encoded = parts
    _check_name(name)
    raw = _b64(encoded, "signature")
    if len(raw) < 5:
        raise CheckpointError(f"malformed note: signature too short in {line!r}")
    return name, raw[:4], raw[4:]


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise CheckpointError("malformed note: the text does not end in a newline")
    if any((c < " " and c != "\n") or c == "\x7f" for c in text):
        raise CheckpointError("malformed note: control character in the text")


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise CheckpointError(f"malformed key name {name!r}: non-empty, no spaces, no '+'")


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"malformed {what}: not base64") from None
    if base64.b64encode(raw).decode() != text:
        raise CheckpointError(f"malformed {what}: not canonical base64")
    return raw


def _as_verifier(key: Verifier | str) -> Verifier:
    return key if isinstance(key, Verifier) else parse_verifier_key(key)
