"""Shared parts for the reporter tests: a local OIDC issuer and a bot that trusts it."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.support.bot import REPO, Bot
from tests.support.fake_github import FakeGitHub
from tests.support.oidc_issuer import LocalIssuer

AUDIENCE = "https://audit.example.test"
STATIC = "static-token-for-ci"
BASE_TX = "0x" + "ab" * 32


@pytest.fixture
async def issuer() -> AsyncIterator[LocalIssuer]:
    async with LocalIssuer(AUDIENCE) as running:
        yield running


@pytest.fixture
async def reporter_bot(make_bot: Callable[..., Any], issuer: LocalIssuer) -> Bot:
    """Token mode against the fake GitHub, trusting the local issuer and one static token."""
    return await make_bot(**oidc_env(issuer))


def oidc_env(issuer: LocalIssuer, **extra: str) -> dict[str, str]:
    return {
        "AUDIT_OIDC_ISSUER": issuer.url,
        "AUDIT_OIDC_JWKS_URL": issuer.jwks_url,
        "AUDIT_OIDC_AUDIENCE": AUDIENCE,
        "AUDIT_API_TOKENS": f"{STATIC}=codertocat/*",
        **extra,
    }


def token_for(issuer: LocalIssuer, repository: str = REPO, pr: int = 2, **claims: Any) -> str:
    return issuer.mint(repository, f"refs/pull/{pr}/merge", **claims)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post(bot: Bot, path: str, body: Any, token: str, **headers: str) -> tuple[int, Any]:
    return await bot.request(
        "POST",
        path,
        data=json.dumps(body),
        headers={**bearer(token), **headers, "Content-Type": "application/json"},
    )


async def the_comment(bot: Bot, github: FakeGitHub) -> str:
    """The PR's one summary comment, once the outbox has settled."""
    await bot.settle()
    [comment] = github.comments_on(REPO, 2)
    return comment["body"]


def x402_header(**fields: Any) -> str:
    """A settlement response header value, as an x402 server would send it."""
    response = {
        "success": True,
        "network": "eip155:8453",
        "transaction": BASE_TX,
        "payer": "0x" + "12" * 20,
        **fields,
    }
    return base64.b64encode(json.dumps(response).encode()).decode()
