"""Who may report: every refusal through the real HTTP API, with nothing written."""

from __future__ import annotations

import time

import pytest

from bot.store.base import RunFilter
from tests.support.bot import REPO, Bot
from tests.support.oidc_issuer import LocalIssuer, new_rsa_key
from tests.support.reporter_kit import STATIC, oidc_env, post, token_for

OPEN = {"kind": "review", "name": "AI review"}


async def nothing_written(bot: Bot) -> None:
    assert await bot.store.list_runs(RunFilter(repo=REPO)) == []
    counts = await bot.store.delivery_counts()
    assert sum(counts.values()) == 0, counts


def hostile_tokens(issuer: LocalIssuer) -> dict[str, str]:
    now = int(time.time())
    return {
        "alg none": token_for(issuer, alg="none"),
        "HS256 keyed with the public key": token_for(issuer, alg="HS256"),
        "unknown kid": token_for(issuer, key=new_rsa_key(), headers={"kid": "not-published"}),
        "forged signature": token_for(issuer, key=new_rsa_key()),
        "wrong audience": token_for(issuer, aud="https://someone-else.example"),
        "wrong issuer": token_for(issuer, iss="https://token.example.invalid"),
        "expired": token_for(issuer, exp=now - 600, iat=now - 900, nbf=now - 900),
        "not yet valid": token_for(issuer, nbf=now + 600, iat=now),
        "garbage": "not.a.jwt",
        "unknown static token": "definitely-not-configured",
    }


async def test_every_bad_credential_is_401_and_writes_nothing(
    reporter_bot: Bot, issuer: LocalIssuer
) -> None:
    for reason, token in hostile_tokens(issuer).items():
        status, body = await post(reporter_bot, "/api/runs", OPEN, token)
        assert status == 401, (reason, status, body)
        assert body["error"].startswith("unauthorized"), reason
        assert token not in body["error"]
    status, body = await reporter_bot.request("POST", "/api/runs", json=OPEN)
    assert status == 401 and "missing bearer token" in body["error"]
    status, _ = await reporter_bot.request(
        "POST", "/api/runs", json=OPEN, headers={"Authorization": "Basic dXNlcjpwYXNz"}
    )
    assert status == 401
    await nothing_written(reporter_bot)


async def test_a_token_for_another_repository_is_403(
    reporter_bot: Bot, issuer: LocalIssuer
) -> None:
    other = token_for(issuer, repository="mallory/tools")
    status, body = await post(reporter_bot, "/api/runs", {**OPEN, "repo": REPO}, other)
    assert status == 403 and REPO in body["error"]
    status, body = await post(reporter_bot, "/api/runs", {**OPEN, "repo": "other/repo"}, STATIC)
    assert status == 403
    await nothing_written(reporter_bot)


async def test_run_routes_refuse_callers_of_another_repository(
    reporter_bot: Bot, issuer: LocalIssuer
) -> None:
    status, opened = await post(reporter_bot, "/api/runs", OPEN, token_for(issuer))
    assert status == 201
    other = token_for(issuer, repository="mallory/tools")
    spend = {"events": [{"type": "spend", "amount": "1", "currency": "USD"}]}
    for path, body in (
        (f"/api/runs/{opened['id']}/events", spend),
        (f"/api/runs/{opened['id']}/close", {"status": "failed"}),
    ):
        status, answer = await post(reporter_bot, path, body, other)
        assert status == 403, answer
        status, answer = await post(reporter_bot, path, body, "wrong")
        assert status == 401
    run = await reporter_bot.store.get_run(opened["id"])
    assert run["seq"] == 1 and run["spend"] == {} and run["ended_at"] is None


async def test_issuer_down_is_503_not_401(make_bot, issuer: LocalIssuer) -> None:

    bot = await make_bot(**oidc_env(issuer))
    token = token_for(issuer)
    issuer.jwks_status = 500
    status, body = await post(bot, "/api/runs", OPEN, token)
    assert status == 503, body
    await nothing_written(bot)


async def test_oidc_repository_allow_list_and_workflow_policy(
    make_bot, issuer: LocalIssuer
) -> None:

    bot = await make_bot(
        **oidc_env(
            issuer,
            AUDIT_OIDC_REPOSITORIES="codertocat/*",
            AUDIT_OIDC_POLICIES=f"{REPO}=*/.github/workflows/audit.yml@refs/heads/main",
        )
    )
    status, _ = await post(bot, "/api/runs", OPEN, token_for(issuer))
    assert status == 401  # ci.yml at a PR ref is not the required workflow
    good = token_for(
        issuer, job_workflow_ref="codertocat/shared/.github/workflows/audit.yml@refs/heads/main"
    )
    status, _ = await post(bot, "/api/runs", OPEN, good)
    assert status == 201
    status, _ = await post(bot, "/api/runs", OPEN, token_for(issuer, repository="mallory/x"))
    assert status == 401


@pytest.mark.parametrize("env", [{"AUDIT_OIDC_ENABLED": "false", "AUDIT_API_TOKENS": ""}])
async def test_no_credentials_configured_refuses_everything(make_bot, env) -> None:
    bot = await make_bot(**env)
    status, body = await post(bot, "/api/runs", OPEN, "anything")
    assert status == 401 and "no credentials configured" in body["error"]
    await nothing_written(bot)
