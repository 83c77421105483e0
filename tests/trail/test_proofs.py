"""Transaction proofs: networks, hashes, explorer links and x402 settlement headers."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from x402.http import decode_payment_response_header, encode_payment_response_header
from x402.schemas import SettleResponse

from bot.trail.proofs import (
    BASE58_ALPHABET,
    NETWORK_ALIASES,
    SOLANA_DEVNET,
    SOLANA_MAINNET,
    SOLANA_TESTNET,
    base58_decode,
    explorer_url,
    network_name,
    normalise_network,
    parse_explorer_template,
    parse_explorers,
    parse_proof,
    validate_tx_hash,
)
from bot.trail.validation import InvalidInput

BASE_TX = "0x9b1c3f7e2a4d5b6c8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f"
SEPOLIA_TX = "0x2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a"
PAYER = "0x857b06519E91e3A54538791bDbb0E22373e36b66"
SOLANA_PAYER = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"


def b58encode(data: bytes) -> str:
    """Test-side encoder, written independently of the decoder under test."""
    number = int.from_bytes(data, "big")
    text = ""
    while number:
        number, digit = divmod(number, 58)
        text = BASE58_ALPHABET[digit] + text
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + text


def signature(seed: str) -> str:
    """A realistic 64-byte Solana signature, derived from a seed."""
    return b58encode(hashlib.sha512(seed.encode()).digest())


SOL_SIG = signature("devnet transfer")


def header(payload: dict) -> str:
    """A hand-made header value: base64 of JSON, as the x402 spec shows it."""
    return base64.b64encode(json.dumps(payload).encode()).decode()


def reason_of(call, *args) -> tuple[str, str]:
    with pytest.raises(InvalidInput) as caught:
        call(*args)
    return caught.value.path, caught.value.reason


# --- networks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "caip2"),
    [
        ("base", "eip155:8453"),
        ("base-sepolia", "eip155:84532"),
        ("ethereum", "eip155:1"),
        ("polygon", "eip155:137"),
        ("polygon-amoy", "eip155:80002"),
        ("avalanche", "eip155:43114"),
        ("avalanche-fuji", "eip155:43113"),
        ("arbitrum", "eip155:42161"),
        ("optimism", "eip155:10"),
        ("solana", "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"),
        ("solana-devnet", "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"),
        ("solana-testnet", "solana:4uhcVJyU9pJkvQyS88uRDiswHXSCkY3z"),
        ("Base-Sepolia", "eip155:84532"),
    ],
)
def test_v1_names_become_caip2(name: str, caip2: str) -> None:
    assert normalise_network(name) == caip2
    assert normalise_network(caip2) == caip2


def test_every_alias_has_an_explorer() -> None:
    assert all(network_name(n) != n for n in NETWORK_ALIASES.values())


@pytest.mark.parametrize(
    "value", ["eip155:999999", "cosmos:cosmoshub-4", "bip122:000000000019d6689c"]
)
def test_unknown_but_valid_caip2_is_kept(value: str) -> None:
    assert normalise_network(value) == value
    assert network_name(value) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("eip155:", "must be a CAIP-2 id like eip155:8453"),
        ("EIP155:8453", "must be a CAIP-2 id like eip155:8453"),
        ("bitcoin", "must be a CAIP-2 id like eip155:8453"),
        ("", "must be a CAIP-2 id like eip155:8453"),
        ("eip155:8453 ", "must be a CAIP-2 id like eip155:8453"),
        ("eip155:0", "an eip155 chain id is a positive number"),
        ("eip155:08453", "an eip155 chain id is a positive number"),
        ("eip155:base", "an eip155 chain id is a positive number"),
        ("solana:devnet", "a solana network id is 32 base58 characters"),
        ("solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa0", "a solana network id is 32 base58 characters"),
        (8453, 'must be a network like "eip155:8453", not a number'),
        (None, 'must be a network like "eip155:8453", not null'),
    ],
)
def test_bad_networks_are_refused(value: object, reason: str) -> None:
    path, got = reason_of(normalise_network, value)
    assert path == ""
    assert got.startswith(reason)


# --- hashes ------------------------------------------------------------------------


def test_base58_decoder_matches_known_vectors() -> None:
    assert base58_decode("") == b""
    assert base58_decode("1") == b"\0"
    assert base58_decode("2NEpo7TZRRrLZSi2U") == b"Hello World!"
    assert base58_decode("11233QC4") == bytes.fromhex("0000287fb4cd")


def test_evm_hashes_are_lowercased() -> None:
    assert validate_tx_hash("base", BASE_TX.upper().replace("0X", "0x")) == BASE_TX
    assert validate_tx_hash("eip155:999999", BASE_TX) == BASE_TX


@pytest.mark.parametrize(
    ("tx", "reason"),
    [
        (BASE_TX[:-1], "an EVM transaction hash is 0x + 64 hex digits, got 63"),
        (BASE_TX + "a", "an EVM transaction hash is 0x + 64 hex digits, got 65"),
        ("0x" + "g" * 64, "an EVM transaction hash has only hex digits after 0x"),
        (BASE_TX[2:] + "00", "an EVM transaction hash starts with 0x"),
        ("0x" + "0" * 64, "all zeros is a placeholder, not a transaction"),
        ("", "an EVM transaction hash starts with 0x"),
        ("0x" + "٣" * 64, "an EVM transaction hash has only hex digits after 0x"),
    ],
)
def test_bad_evm_hashes(tx: str, reason: str) -> None:
    assert reason_of(validate_tx_hash, "eip155:8453", tx) == ("", reason)


def test_solana_signatures() -> None:
    assert len(SOL_SIG) in (87, 88)
    assert validate_tx_hash(SOLANA_DEVNET, SOL_SIG) == SOL_SIG
    leading_zero = b58encode(b"\0" + hashlib.sha512(b"x").digest()[1:])
    assert leading_zero.startswith("1")
    assert validate_tx_hash("solana", leading_zero) == leading_zero


@pytest.mark.parametrize(
    ("tx", "reason"),
    [
        (SOL_SIG[:-1] + "0", "not base58: '0' (base58 has no 0, O, I or l)"),
        (SOL_SIG[:-2] + "lO", "not base58: 'Ol' (base58 has no 0, O, I or l)"),
        ("I" + SOL_SIG[1:], "not base58: 'I' (base58 has no 0, O, I or l)"),
        (SOLANA_PAYER, "decodes to 32 bytes; a Solana signature has 64"),
        (b58encode(bytes(range(1, 66))), "decodes to 65 bytes; a Solana signature has 64"),
        (SOL_SIG.ljust(89, "z"), "a Solana signature is at most 88 base58 characters, got 89"),
        ("1" * 64, "all zeros is a placeholder, not a transaction"),
        ("", "a Solana signature is at most 88 base58 characters, got 0"),
    ],
)
def test_bad_solana_signatures(tx: str, reason: str) -> None:
    assert reason_of(validate_tx_hash, SOLANA_DEVNET, tx) == ("", reason)


def test_other_namespaces_accept_plain_identifiers() -> None:
    assert validate_tx_hash("cosmos:cosmoshub-4", "A1B2C3D4E5") == "A1B2C3D4E5"
    assert reason_of(validate_tx_hash, "cosmos:cosmoshub-4", "a/b")[1] == (
        "must be 1-128 letters, digits, ':', '_' or '-'"
    )


@given(st.binary(min_size=32, max_size=32).filter(any))
def test_any_nonzero_evm_hash_round_trips(raw: bytes) -> None:
    tx = "0x" + raw.hex().upper()
    assert validate_tx_hash("base", tx) == "0x" + raw.hex()


@given(st.binary(min_size=64, max_size=64).filter(any))
def test_any_nonzero_solana_signature_is_accepted(raw: bytes) -> None:
    sig = b58encode(raw)
    assert base58_decode(sig) == raw
    assert validate_tx_hash("solana", sig) == sig


# --- explorer links ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("network", "tx", "url"),
    [
        ("base", BASE_TX, f"https://basescan.org/tx/{BASE_TX}"),
        ("eip155:84532", SEPOLIA_TX, f"https://sepolia.basescan.org/tx/{SEPOLIA_TX}"),
        ("ethereum", BASE_TX, f"https://etherscan.io/tx/{BASE_TX}"),
        ("polygon", BASE_TX, f"https://polygonscan.com/tx/{BASE_TX}"),
        ("polygon-amoy", BASE_TX, f"https://amoy.polygonscan.com/tx/{BASE_TX}"),
        ("arbitrum", BASE_TX, f"https://arbiscan.io/tx/{BASE_TX}"),
        ("optimism", BASE_TX, f"https://optimistic.etherscan.io/tx/{BASE_TX}"),
        ("avalanche", BASE_TX, f"https://snowtrace.io/tx/{BASE_TX}"),
        ("avalanche-fuji", BASE_TX, f"https://testnet.snowtrace.io/tx/{BASE_TX}"),
        (SOLANA_MAINNET, SOL_SIG, f"https://explorer.solana.com/tx/{SOL_SIG}"),
        ("solana-devnet", SOL_SIG, f"https://explorer.solana.com/tx/{SOL_SIG}?cluster=devnet"),
        (SOLANA_TESTNET, SOL_SIG, f"https://explorer.solana.com/tx/{SOL_SIG}?cluster=testnet"),
    ],
)
def test_builtin_explorer_links(network: str, tx: str, url: str) -> None:
    assert explorer_url(network, tx) == url


def test_network_names() -> None:
    assert network_name("eip155:8453") == "Base"
    assert network_name("eip155:84532") == "Base Sepolia"
    assert network_name("eip155:42161") == "Arbitrum One"
    assert network_name("eip155:43114") == "Avalanche C-Chain"
    assert network_name(SOLANA_DEVNET) == "Solana Devnet"


@pytest.mark.parametrize(
    ("network", "tx"),
    [
        ("eip155:999999", BASE_TX),
        ("cosmos:cosmoshub-4", "ABC123"),
        ("base", None),
        ("base", ""),
        ("base", "0x1234"),
        ("not a network", BASE_TX),
    ],
)
def test_no_link_without_a_known_explorer_and_a_valid_hash(network: str, tx: str | None) -> None:
    assert explorer_url(network, tx) is None


def test_operator_explorers_extend_and_override_the_table() -> None:
    extra = parse_explorers(
        {
            "eip155:999999": "https://explorer.example.org/tx/{tx}",
            "base": "https://base.blockscout.com/tx/{tx}",
            "cosmos:cosmoshub-4": "https://www.mintscan.io/cosmos/tx/{tx}?height=latest",
        }
    )
    assert extra == {
        "eip155:999999": "https://explorer.example.org/tx/{tx}",
        "eip155:8453": "https://base.blockscout.com/tx/{tx}",
        "cosmos:cosmoshub-4": "https://www.mintscan.io/cosmos/tx/{tx}?height=latest",
    }
    assert explorer_url("eip155:999999", BASE_TX, extra) == (
        f"https://explorer.example.org/tx/{BASE_TX}"
    )
    assert explorer_url("base", BASE_TX, extra) == f"https://base.blockscout.com/tx/{BASE_TX}"
    assert explorer_url("eip155:84532", SEPOLIA_TX, extra) == (
        f"https://sepolia.basescan.org/tx/{SEPOLIA_TX}"
    )
    assert explorer_url("cosmos:cosmoshub-4", "A1:B2", extra) == (
        "https://www.mintscan.io/cosmos/tx/A1%3AB2?height=latest"
    )


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("http://basescan.org/tx/{tx}", "must be an https:// URL"),
        ("javascript:alert('{tx}')", "must be an https:// URL"),
        ("https://basescan.org/tx/", "must contain {tx} exactly once and no other braces"),
        ("https://x.org/{tx}/{tx}", "must contain {tx} exactly once and no other braces"),
        ("https://x.org/{hash}", "must contain {tx} exactly once and no other braces"),
        ("https://x.org/{tx}}", "must contain {tx} exactly once and no other braces"),
        ("https://{tx}.evil.example/", "must name a host, without user info, before {tx}"),
        ("https://basescan.org@evil.example/tx/{tx}", "must name a host, without user info"),
        ("https:///tx/{tx}", "must name a host, without user info, before {tx}"),
        ("https://x.org/tx/ {tx}", "must be at most 500 characters without spaces"),
        ("https://x.org/" + "a" * 500 + "{tx}", "must be at most 500 characters without spaces"),
        (None, "must be a URL template, not null"),
    ],
)
def test_bad_explorer_templates(template: object, reason: str) -> None:
    path, got = reason_of(parse_explorer_template, template)
    assert path == ""
    assert got.startswith(reason)


def test_bad_explorer_config_names_the_network() -> None:
    assert reason_of(parse_explorers, {"base": "http://x.org/{tx}"}) == (
        "base",
        "must be an https:// URL",
    )
    assert reason_of(parse_explorers, {"nope": "https://x.org/{tx}"})[0] == "nope"


# --- explicit proofs ---------------------------------------------------------------


def test_explicit_settled_proof() -> None:
    proof = parse_proof(
        {
            "network": "base",
            "tx": BASE_TX.upper().replace("0X", "0x"),
            "amount": "0.10",
            "currency": "usdc",
            "payer": PAYER,
            "description": "paid for /api/report",
        }
    )
    assert proof == {
        "source": "report",
        "network": "eip155:8453",
        "network_name": "Base",
        "tx": BASE_TX,
        "status": "settled",
        "amount": "0.1",
        "currency": "USDC",
        "payer": PAYER,
        "description": "paid for /api/report",
    }
    assert explorer_url(proof["network"], proof["tx"]) == f"https://basescan.org/tx/{BASE_TX}"


def test_explicit_pending_and_failed_proofs_may_lack_a_hash() -> None:
    pending = parse_proof({"network": "eip155:84532", "status": "pending"})
    assert (pending["status"], pending["tx"]) == ("pending", None)
    failed = parse_proof({"network": "solana-devnet", "tx": "", "status": "FAILED"})
    assert failed == {
        "source": "report",
        "network": SOLANA_DEVNET,
        "network_name": "Solana Devnet",
        "tx": None,
        "status": "failed",
    }


def test_explicit_proof_on_an_unknown_network_has_no_link() -> None:
    proof = parse_proof({"network": "eip155:999999", "tx": BASE_TX})
    assert proof["network_name"] == "eip155:999999"
    assert explorer_url(proof["network"], proof["tx"]) is None


@pytest.mark.parametrize(
    ("body", "path", "reason"),
    [
        ({"network": "base"}, "tx", "a settled payment needs a transaction hash"),
        ({"network": "base", "tx": "0x1234"}, "tx", "an EVM transaction hash is 0x + 64"),
        ({"network": "base", "tx": "0x" + "0" * 64}, "tx", "all zeros is a placeholder"),
        ({"network": "solana", "tx": SOL_SIG[:-1] + "l"}, "tx", "not base58: 'l'"),
        ({"tx": BASE_TX}, "network", "is required"),
        ({"network": "base", "tx": BASE_TX, "status": "done"}, "status", "must be one of"),
        ({"network": "base", "tx": BASE_TX, "amount": "1"}, "currency", "amount and currency"),
        ({"network": "base", "tx": BASE_TX, "currency": "USD"}, "amount", "amount and currency"),
        ({"network": "base", "tx": BASE_TX, "payer": "a b"}, "payer", "must be an address"),
        ({"network": "base", "tx": BASE_TX, "memo": "x"}, "memo", "unknown field"),
        (
            {"network": "base", "tx": BASE_TX, "explorer_url": "https://evil.example/tx/1"},
            "explorer_url",
            "explorer links are built by the bot; leave this out",
        ),
        ({"network": "base", "tx": BASE_TX, "link": "https://x"}, "link", "explorer links"),
        ("0xabc", "", "must be an object, not a string"),
    ],
)
def test_explicit_proof_errors(body: object, path: str, reason: str) -> None:
    got_path, got_reason = reason_of(parse_proof, body)
    assert got_path == path
    assert got_reason.startswith(reason)


# --- x402 settlement responses -----------------------------------------------------


def test_x402_settled_on_base_from_the_packages_own_encoder() -> None:
    value = encode_payment_response_header(
        SettleResponse(
            success=True, transaction=BASE_TX, network="eip155:8453", payer=PAYER, amount="10000"
        )
    )
    proof = parse_proof({"x402": value, "description": "weather API"})
    assert proof == {
        "source": "x402",
        "network": "eip155:8453",
        "network_name": "Base",
        "tx": BASE_TX,
        "status": "settled",
        "amount_atomic": "10000",
        "payer": PAYER,
        "description": "weather API",
    }
    assert explorer_url(proof["network"], proof["tx"]) == f"https://basescan.org/tx/{BASE_TX}"


def test_x402_settled_on_base_sepolia_with_a_v1_network_name() -> None:
    value = header(
        {"success": True, "transaction": SEPOLIA_TX, "network": "base-sepolia", "payer": PAYER}
    )
    proof = parse_proof({"x402": value})
    assert (proof["network"], proof["network_name"], proof["status"]) == (
        "eip155:84532",
        "Base Sepolia",
        "settled",
    )
    assert explorer_url(proof["network"], proof["tx"]) == (
        f"https://sepolia.basescan.org/tx/{SEPOLIA_TX}"
    )


def test_x402_settled_on_solana_devnet() -> None:
    value = encode_payment_response_header(
        SettleResponse(success=True, transaction=SOL_SIG, network=SOLANA_DEVNET, payer=SOLANA_PAYER)
    )
    proof = parse_proof({"x402": value})
    assert (proof["tx"], proof["status"], proof["payer"]) == (SOL_SIG, "settled", SOLANA_PAYER)
    assert explorer_url(proof["network"], proof["tx"]) == (
        f"https://explorer.solana.com/tx/{SOL_SIG}?cluster=devnet"
    )


def test_x402_settlement_pending_keeps_the_hash_but_is_not_paid() -> None:
    value = encode_payment_response_header(
        SettleResponse(
            success=False,
            error_reason="settlement_pending",
            transaction=BASE_TX,
            network="eip155:8453",
        )
    )
    proof = parse_proof({"x402": value})
    assert proof == {
        "source": "x402",
        "network": "eip155:8453",
        "network_name": "Base",
        "tx": BASE_TX,
        "status": "pending",
        "error_reason": "settlement_pending",
    }


def test_x402_failed_solana_settlement_with_an_empty_transaction() -> None:
    value = encode_payment_response_header(
        SettleResponse(
            success=False,
            error_reason="transaction_simulation_failed",
            error_message="Blockhash not found",
            transaction="",
            network=SOLANA_MAINNET,
            payer=SOLANA_PAYER,
        )
    )
    proof = parse_proof({"x402": value})
    assert proof == {
        "source": "x402",
        "network": SOLANA_MAINNET,
        "network_name": "Solana",
        "tx": None,
        "status": "failed",
        "payer": SOLANA_PAYER,
        "error_reason": "transaction_simulation_failed",
        "error_message": "Blockhash not found",
    }
    assert explorer_url(proof["network"], proof["tx"]) is None


def test_x402_spec_failure_example_without_transaction_uses_the_fallback() -> None:
    value = header(
        {
            "success": False,
            "errorReason": "insufficient_funds",
            "payer": PAYER,
            "network": "eip155:84532",
        }
    )
    with pytest.raises(ValueError):
        decode_payment_response_header(value)  # the package's decoder refuses it
    assert parse_proof({"x402": value}) == {
        "source": "x402",
        "network": "eip155:84532",
        "network_name": "Base Sepolia",
        "tx": None,
        "status": "failed",
        "payer": PAYER,
        "error_reason": "insufficient_funds",
    }


def test_x402_caller_supplied_explorer_is_ignored() -> None:
    value = header(
        {
            "success": True,
            "transaction": BASE_TX,
            "network": "eip155:8453",
            "explorerUrl": "https://evil.example/tx/" + BASE_TX,
            "extra": {"explorer": "https://evil.example/"},
        }
    )
    proof = parse_proof({"x402": value})
    assert "evil" not in json.dumps(proof)
    assert explorer_url(proof["network"], proof["tx"]) == f"https://basescan.org/tx/{BASE_TX}"


def test_x402_long_facilitator_messages_are_clipped() -> None:
    value = header(
        {"success": False, "network": "base", "transaction": "", "errorMessage": "e" * 900}
    )
    proof = parse_proof({"x402": value})
    assert proof["error_message"] == "e" * 499 + "…"


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        (
            header({"success": True, "transaction": "", "network": "eip155:8453"}),
            "x402.transaction",
            "a settled payment needs a transaction hash",
        ),
        (
            header({"success": True, "transaction": "0x" + "0" * 64, "network": "base"}),
            "x402.transaction",
            "all zeros is a placeholder",
        ),
        (
            header({"success": "maybe", "transaction": BASE_TX, "network": "base"}),
            "x402.success",
            "must be true or false",
        ),
        (
            header({"success": True, "transaction": BASE_TX, "network": "eip155"}),
            "x402.network",
            "must be a CAIP-2 id",
        ),
        (
            header({"success": True, "transaction": BASE_TX}),
            "x402.network",
            "is required",
        ),
        (
            header({"success": True, "transaction": BASE_TX, "network": "base", "amount": "1.5"}),
            "x402.amount",
            "must be a whole number of atomic units",
        ),
        ("not base64 at all!", "x402", "not a base64-encoded JSON settlement response"),
        (header([1, 2]), "x402", "the settlement response must be a JSON object"),
        ("", "x402", "must be 1-16384 characters"),
        (42, "x402", "must be the header value (a base64 string), not a number"),
    ],
)
def test_x402_errors(value: object, path: str, reason: str) -> None:
    got_path, got_reason = reason_of(parse_proof, {"x402": value})
    assert got_path == path
    assert got_reason.startswith(reason)


def test_x402_form_refuses_extra_fields() -> None:
    value = header({"success": True, "transaction": BASE_TX, "network": "base"})
    assert reason_of(parse_proof, {"x402": value, "tx": BASE_TX})[0] == "tx"


def test_proofs_are_canonical_json_ready() -> None:
    value = header({"success": True, "transaction": BASE_TX, "network": "base", "amount": 250})
    proof = parse_proof({"x402": value})
    assert proof["amount_atomic"] == "250"
    encoded = json.dumps(proof, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert json.loads(encoded) == proof


# --- properties --------------------------------------------------------------------

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["base", "eip155:8453", "solana-devnet", BASE_TX, SOL_SIG, "", "pending"])
)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
settlement_keys = st.sampled_from(
    ["success", "transaction", "network", "payer", "errorReason", "errorMessage", "amount"]
)
proof_keys = st.sampled_from(["network", "tx", "status", "amount", "currency", "payer"])


@given(st.dictionaries(proof_keys | st.text(max_size=6), json_values, max_size=6) | json_values)
def test_parse_proof_only_ever_raises_invalid_input(value: object) -> None:
    try:
        parse_proof(value)
    except InvalidInput as error:
        assert error.reason


@given(st.dictionaries(settlement_keys, json_values, max_size=7))
def test_any_settlement_json_only_ever_raises_invalid_input(payload: dict) -> None:
    try:
        proof = parse_proof({"x402": header(payload)})
    except InvalidInput as error:
        assert error.path.startswith("x402")
    else:
        assert proof["status"] in ("settled", "pending", "failed")
        json.dumps(proof, ensure_ascii=False).encode()


@given(st.text(max_size=200) | st.binary(max_size=120).map(lambda b: base64.b64encode(b).decode()))
def test_any_header_text_only_ever_raises_invalid_input(value: str) -> None:
    try:
        parse_proof({"x402": value})
    except InvalidInput as error:
        assert error.path.startswith("x402")
