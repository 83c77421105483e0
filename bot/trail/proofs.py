"""Transaction proofs: which payment settled where, checked well enough to link to.

A proof arrives either as explicit fields from a CI step or as the raw value of an
x402 ``PAYMENT-RESPONSE`` / ``X-PAYMENT-RESPONSE`` header. Networks are stored as
CAIP-2 ids (``eip155:8453``), hashes in one spelling, and explorer links are built
at render time from the bot's own table plus operator configuration, never from a
URL in the proof, so a reporter cannot make the summary point somewhere else.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import quote, urlsplit

from x402.http import decode_payment_response_header

from bot.trail.money import canonical_amount, parse_amount, parse_currency
from bot.trail.validation import (
    InvalidInput,
    at,
    kind_of,
    optional,
    parse_text,
    reject_unknown,
    require_mapping,
    required,
)

PROOF_STATUSES = ("settled", "pending", "failed")
PROOF_FIELDS = ("network", "tx", "status", "amount", "currency", "payer", "description")
X402_FIELDS = ("x402", "description")
MAX_HEADER_CHARS = 16_384

SOLANA_MAINNET = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"
SOLANA_DEVNET = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"
SOLANA_TESTNET = "solana:4uhcVJyU9pJkvQyS88uRDiswHXSCkY3z"

# x402 v1 network names (plus two common ones) → CAIP-2.
NETWORK_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "base": "eip155:8453",
        "base-sepolia": "eip155:84532",
        "ethereum": "eip155:1",
        "polygon": "eip155:137",
        "polygon-amoy": "eip155:80002",
        "avalanche": "eip155:43114",
        "avalanche-fuji": "eip155:43113",
        "arbitrum": "eip155:42161",
        "optimism": "eip155:10",
        "solana": SOLANA_MAINNET,
        "solana-devnet": SOLANA_DEVNET,
        "solana-testnet": SOLANA_TESTNET,
    }
)

# CAIP-2 network → (display name, explorer transaction URL with {tx}).
EXPLORERS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "eip155:8453": ("Base", "https://basescan.org/tx/{tx}"),
        "eip155:84532": ("Base Sepolia", "https://sepolia.basescan.org/tx/{tx}"),
        "eip155:1": ("Ethereum", "https://etherscan.io/tx/{tx}"),
        "eip155:137": ("Polygon", "https://polygonscan.com/tx/{tx}"),
        "eip155:80002": ("Polygon Amoy", "https://amoy.polygonscan.com/tx/{tx}"),
        "eip155:42161": ("Arbitrum One", "https://arbiscan.io/tx/{tx}"),
        "eip155:10": ("Optimism", "https://optimistic.etherscan.io/tx/{tx}"),
        "eip155:43114": ("Avalanche C-Chain", "https://snowtrace.io/tx/{tx}"),
        "eip155:43113": ("Avalanche Fuji", "https://testnet.snowtrace.io/tx/{tx}"),
        SOLANA_MAINNET: ("Solana", "https://explorer.solana.com/tx/{tx}"),
        SOLANA_DEVNET: ("Solana Devnet", "https://explorer.solana.com/tx/{tx}?cluster=devnet"),
        SOLANA_TESTNET: (
            "Solana Testnet",
            "https://explorer.solana.com/tx/{tx}?cluster=testnet",
        ),
    }
)

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {char: index for index, char in enumerate(BASE58_ALPHABET)}
_CAIP2 = re.compile(r"([-a-z0-9]{3,8}):([-_a-zA-Z0-9]{1,32})")
_EVM_TX = re.compile(r"0x[0-9a-f]{64}")
_OTHER_TX = re.compile(r"[A-Za-z0-9:_-]{1,128}")
_IDENTIFIER = re.compile(r"[A-Za-z0-9:._-]{1,128}")
_ATOMIC = re.compile(r"[0-9]{1,78}")  # fits a uint256


# --- networks ----------------------------------------------------------------------


def normalise_network(value: object) -> str:
    """The CAIP-2 id for a network given as CAIP-2 or as an x402 v1 name.

    Names are matched case-insensitively. A syntactically valid CAIP-2 id the bot has
    never heard of (``eip155:999999``) is accepted as is: it just gets no link.
    """
    if not isinstance(value, str):
        raise InvalidInput("", f'must be a network like "eip155:8453", not {kind_of(value)}')
    alias = NETWORK_ALIASES.get(value.lower()) if value.isascii() else None
    if alias:
        return alias
    match = _CAIP2.fullmatch(value)
    if not match:
        raise InvalidInput(
            "",
            "must be a CAIP-2 id like eip155:8453 or one of: " + ", ".join(NETWORK_ALIASES),
        )
    namespace, reference = match.groups()
    if namespace == "eip155" and not re.fullmatch(r"[1-9][0-9]*", reference):
        raise InvalidInput("", "an eip155 chain id is a positive number without leading zeros")
    if namespace == "solana" and not _is_base58(reference, 32, 32):
        raise InvalidInput("", "a solana network id is 32 base58 characters of the genesis hash")
    return value


def network_name(network: str) -> str:
    """A readable name for a canonical network, or the CAIP-2 id itself."""
    entry = EXPLORERS.get(network)
    return entry[0] if entry else network


# --- transaction hashes ------------------------------------------------------------


def base58_decode(text: str) -> bytes:
    """Bitcoin-alphabet base58 to bytes; each leading ``1`` is a zero byte."""
    number = 0
    for char in text:
        if char not in _BASE58_INDEX:
            raise ValueError(f"not a base58 character: {char!r}")
        number = number * 58 + _BASE58_INDEX[char]
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return bytes(len(text) - len(text.lstrip("1"))) + body


def _is_base58(text: str, shortest: int, longest: int) -> bool:
    """Length within bounds and only base58 characters."""
    return shortest <= len(text) <= longest and all(c in _BASE58_INDEX for c in text)


def validate_tx_hash(network: str, tx: object) -> str:
    """A transaction id in its one spelling, checked against the network's format.

    EVM (``eip155:*``): ``0x`` + 64 hex digits, lowercased; all zeros is refused.
    Solana: a base58 signature decoding to exactly 64 bytes (at most 88 characters;
    the decoded length, not the text length, is what decides), not all zeros.
    Other namespaces: 1-128 characters of letters, digits, ``:``, ``_`` and ``-``.
    The network is normalised first; errors are about the hash (path ``""``).
    """
    namespace = normalise_network(network).partition(":")[0]
    if not isinstance(tx, str):
        raise InvalidInput("", f"must be a transaction hash, not {kind_of(tx)}")
    if namespace == "eip155":
        return _evm_tx(tx)
    if namespace == "solana":
        return _solana_signature(tx)
    if not _OTHER_TX.fullmatch(tx):
        raise InvalidInput("", "must be 1-128 letters, digits, ':', '_' or '-'")
    return tx


def _evm_tx(tx: str) -> str:
    """``0x`` + 64 hex digits, lowercased, not the all-zero placeholder."""
    lowered = tx.lower() if tx.isascii() else tx
    if not _EVM_TX.fullmatch(lowered):
        if not lowered.startswith("0x"):
            raise InvalidInput("", "an EVM transaction hash starts with 0x")
        if len(lowered) != 66:
            raise InvalidInput(
                "", f"an EVM transaction hash is 0x + 64 hex digits, got {len(tx) - 2}"
            )
        raise InvalidInput("", "an EVM transaction hash has only hex digits after 0x")
    if int(lowered, 16) == 0:
        raise InvalidInput("", "all zeros is a placeholder, not a transaction")
    return lowered


def _solana_signature(tx: str) -> str:
    """A base58 string that decodes to a non-zero 64-byte signature."""
    if not 0 < len(tx) <= 88:
        raise InvalidInput("", f"a Solana signature is at most 88 base58 characters, got {len(tx)}")
    wrong = sorted({c for c in tx if c not in _BASE58_INDEX})
    if wrong:
        raise InvalidInput(
            "",
            f"not base58: {''.join(wrong)!r} (base58 has no 0, O, I or l)",
        )
    decoded = base58_decode(tx)
    if len(decoded) != 64:
        raise InvalidInput("", f"decodes to {len(decoded)} bytes; a Solana signature has 64")
    if not any(decoded):
        raise InvalidInput("", "all zeros is a placeholder, not a transaction")
    return tx


# --- explorer links ----------------------------------------------------------------


def parse_explorer_template(value: object) -> str:
    """An operator's explorer URL template: https, one ``{tx}``, not in the host.

    The host is fixed by configuration, so a hash can only ever fill in a path or
    query; user info (``user@host``) is refused because it disguises the real host.
    """
    if not isinstance(value, str):
        raise InvalidInput("", f"must be a URL template, not {kind_of(value)}")
    if len(value) > 500 or any(c.isspace() or ord(c) < 32 for c in value):
        raise InvalidInput("", "must be at most 500 characters without spaces")
    rest = value.replace("{tx}", "", 1)
    if "{tx}" not in value or "{" in rest or "}" in rest:
        raise InvalidInput("", "must contain {tx} exactly once and no other braces")
    parts = urlsplit(value.replace("{tx}", "TX"))
    if parts.scheme != "https" or not value.lower().startswith("https://"):
        raise InvalidInput("", "must be an https:// URL")
    if not parts.hostname or "@" in parts.netloc or "{tx}" in urlsplit(value).netloc:
        raise InvalidInput("", "must name a host, without user info, before {tx}")
    return value


def parse_explorers(value: object) -> dict[str, str]:
    """Operator configuration: network (any accepted spelling) → URL template."""
    explorers: dict[str, str] = {}
    for key, template in require_mapping(value).items():
        network = at(str(key), normalise_network, key)
        explorers[network] = at(str(key), parse_explorer_template, template)
    return explorers


def explorer_url(
    network: str, tx: str | None, extra: Mapping[str, str] | None = None
) -> str | None:
    """A link to the transaction, or None when there is no hash or no explorer.

    ``extra`` is the operator's ``parse_explorers`` result and wins over the
    built-in table. Called at render time, so it never raises on stored data.
    """
    if not tx:
        return None
    try:
        canonical = normalise_network(network)
        clean = validate_tx_hash(canonical, tx)
    except InvalidInput:
        return None
    builtin = EXPLORERS.get(canonical)
    template = (extra or {}).get(canonical) or (builtin[1] if builtin else None)
    if template is None:
        return None
    return template.replace("{tx}", quote(clean, safe=""))


# --- proofs ------------------------------------------------------------------------


def parse_status(value: object) -> str:
    """One of ``PROOF_STATUSES``, in any case, stored lowercase."""
    if isinstance(value, str) and value.isascii() and value.lower() in PROOF_STATUSES:
        return value.lower()
    raise InvalidInput("", f"must be one of {', '.join(PROOF_STATUSES)}")


def parse_identifier(value: object) -> str:
    """An address-like string (a payer): 1-128 letters, digits, ``:._-``."""
    if isinstance(value, str) and _IDENTIFIER.fullmatch(value):
        return value
    raise InvalidInput("", "must be an address: 1-128 letters, digits, ':', '.', '_' or '-'")


def parse_proof(data: object) -> dict[str, str | None]:
    """Validate a reported proof into a dict ready for canonical JSON.

    Two shapes: explicit ``{network, tx, status?, amount?, currency?, payer?,
    description?}`` (amount in whole units with its currency), or
    ``{"x402": "<header value>", "description"?}``. Always present: ``source``
    (``"report"`` or ``"x402"``), ``network`` (CAIP-2), ``network_name``, ``tx``
    (None when a pending or failed payment has none) and ``status``. Present only
    when known: ``amount`` + ``currency``, ``amount_atomic`` (x402: atomic units of
    the asset, as a string), ``payer``, ``error_reason``, ``error_message``,
    ``description``. No explorer URL is stored: links come from ``explorer_url``.
    """
    record = require_mapping(data)
    if "x402" in record:
        reject_unknown(record, X402_FIELDS)
        proof = at("x402", _x402_proof, record["x402"])
    else:
        _reject_caller_links(record)
        reject_unknown(record, PROOF_FIELDS)
        proof = _explicit_proof(record)
    description = optional(record, "description", lambda v: parse_text(v, 500, multiline=True))
    if description is not None:
        proof["description"] = description
    return proof


def _reject_caller_links(record: Mapping[str, object]) -> None:
    """Say plainly why a link field is refused instead of calling it a typo."""
    for key in record:
        if isinstance(key, str) and any(w in key.lower() for w in ("url", "link", "explorer")):
            raise InvalidInput(key, "explorer links are built by the bot; leave this out")


def _explicit_proof(record: Mapping[str, object]) -> dict[str, str | None]:
    """The explicit shape: a settled proof needs a hash, the others may lack one."""
    network = required(record, "network", normalise_network)
    status = optional(record, "status", parse_status) or "settled"
    tx = _proof_tx(record.get("tx"), network, status, "tx")
    proof = _base(network, tx, status, "report")
    amount = optional(record, "amount", parse_amount)
    currency = optional(record, "currency", parse_currency)
    if (amount is None) != (currency is None):
        missing = "currency" if currency is None else "amount"
        raise InvalidInput(missing, "amount and currency go together")
    if amount is not None and currency is not None:
        proof.update(amount=canonical_amount(amount), currency=currency)
    payer = optional(record, "payer", parse_identifier)
    if payer is not None:
        proof["payer"] = payer
    return proof


def _proof_tx(tx: object, network: str, status: str, path: str) -> str | None:
    """The validated hash; only a settled payment must have one."""
    if tx is None or tx == "":
        if status == "settled":
            raise InvalidInput(path, "a settled payment needs a transaction hash")
        return None
    return at(path, lambda v: validate_tx_hash(network, v), tx)


def _base(network: str, tx: str | None, status: str, source: str) -> dict[str, str | None]:
    """The fields every proof has."""
    return {
        "source": source,
        "network": network,
        "network_name": network_name(network),
        "tx": tx,
        "status": status,
    }


def _x402_proof(header: object) -> dict[str, str | None]:
    """Decode a settlement response header value and map it onto a proof."""
    if not isinstance(header, str):
        raise InvalidInput("", f"must be the header value (a base64 string), not {kind_of(header)}")
    if not header or len(header) > MAX_HEADER_CHARS:
        raise InvalidInput("", f"must be 1-{MAX_HEADER_CHARS} characters")
    return _settlement_proof(decode_settlement(header.strip()))


def decode_settlement(header: str) -> Mapping[str, object]:
    """The settlement response as a camelCase dict.

    The x402 package's decoder is tried first. Responses it rejects, like the
    spec's own failure example without ``transaction``, fall back to plain
    base64 → JSON; the fields are validated afterwards either way.
    """
    try:
        settled = decode_payment_response_header(header)
        return settled.model_dump(by_alias=True, exclude_none=True)
    except Exception:
        pass  # the third-party decoder may raise anything: try the plain way
    try:
        text = base64.b64decode(header, validate=True).decode("utf-8")
        decoded = json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidInput("", "not a base64-encoded JSON settlement response") from None
    if not isinstance(decoded, dict):
        raise InvalidInput("", "the settlement response must be a JSON object")
    return decoded


def _settlement_proof(response: Mapping[str, object]) -> dict[str, str | None]:
    """success → settled; settlement_pending → pending (even with a hash); else failed."""
    success = response.get("success")
    if not isinstance(success, bool):
        raise InvalidInput("success", "must be true or false")
    network = required(response, "network", normalise_network)
    reason = optional(response, "errorReason", lambda v: parse_text(_clip(v, 200), 200))
    status = _settlement_status(success, reason)
    tx = _proof_tx(response.get("transaction"), network, status, "transaction")
    proof = _base(network, tx, status, "x402")
    fields = {
        "amount_atomic": optional(response, "amount", _atomic_amount),
        "payer": optional(response, "payer", parse_identifier),
        "error_reason": reason,
        "error_message": optional(
            response, "errorMessage", lambda v: parse_text(_clip(v, 500), 500, multiline=True)
        ),
    }
    proof.update({key: value for key, value in fields.items() if value is not None})
    return proof


def _settlement_status(success: bool, reason: str | None) -> str:
    """x402's ``settlement_pending`` can carry a real hash, but nothing is paid yet."""
    if success:
        return "settled"
    return "pending" if reason == "settlement_pending" else "failed"


def _clip(value: object, limit: int) -> object:
    """Shorten a facilitator's text instead of refusing the whole proof over it."""
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 1] + "…"
    return value


def _atomic_amount(value: object) -> str:
    """An amount in the asset's smallest unit, kept as digits (no decimals known)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if isinstance(value, str) and _ATOMIC.fullmatch(value):
        return str(int(value))
    raise InvalidInput("", "must be a whole number of atomic units, as a string of digits")
