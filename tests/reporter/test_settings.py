"""The reporter's settings: parsed at start, a bad value names its variable."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.config import ConfigError, load_settings


def test_values_are_parsed() -> None:
    settings = load_settings(
        {
            "AUDIT_CI_RATES": "gpu-box=0.25, Big-Linux=linux_16_core",
            "AUDIT_EXPLORERS": "eip155:2741=https://abscan.org/tx/{tx},solana-devnet="
            "https://solscan.io/tx/{tx}?cluster=devnet",
            "AUDIT_OIDC_POLICIES": "acme/*=acme/shared/.github/workflows/audit.yml@refs/heads/*",
            "AUDIT_OIDC_REPOSITORIES": "acme/*|other/one",
            "AUDIT_API_TOKENS": "s3cr3t=acme/*",
            "AUDIT_API_MAX_BODY_BYTES": "65536",
        }
    )
    assert settings.ci_rates == {"gpu-box": Decimal("0.25"), "big-linux": "linux_16_core"}
    assert settings.explorers == {
        "eip155:2741": "https://abscan.org/tx/{tx}",
        "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1": "https://solscan.io/tx/{tx}?cluster=devnet",
    }
    assert settings.oidc_policies == {
        "acme/*": "acme/shared/.github/workflows/audit.yml@refs/heads/*"
    }
    assert settings.oidc_repositories == ("acme/*", "other/one")
    assert settings.api_max_body_bytes == 65536
    assert "s3cr3t" not in repr(settings)
    defaults = load_settings({})
    assert (defaults.ci_rates, defaults.explorers, defaults.oidc_repositories) == ({}, {}, None)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUDIT_CI_RATES", "gpu-box=cheap"),
        ("AUDIT_CI_RATES", "no-equals-sign"),
        ("AUDIT_EXPLORERS", "eip155:2741=http://abscan.org/tx/{tx}"),
        ("AUDIT_EXPLORERS", "not-a-network=https://x.example/tx/{tx}"),
        ("AUDIT_OIDC_POLICIES", "acme/*=no-ref-here"),
        ("AUDIT_OIDC_POLICIES", "acme=acme/x/.github/workflows/a.yml@main"),
        ("AUDIT_OIDC_REPOSITORIES", "acme"),
        ("AUDIT_API_TOKENS", "token-without-glob"),
        ("AUDIT_API_MAX_BODY_BYTES", "10"),
    ],
)
def test_bad_values_stop_the_bot_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({name: value})
    assert name in str(caught.value)
    if name == "AUDIT_API_TOKENS":
        assert "token-without-glob" not in str(caught.value)
