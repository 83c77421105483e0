"""OIDC verification against a real local issuer: every way a token must be refused."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.auth import Authenticator, AuthError, AuthUnavailable, OIDCVerifier
from bot.auth import oidc as oidc_module
from tests.support.oidc_issuer import LocalIssuer, local_issuer, new_rsa_key

pytestmark = pytest.mark.asyncio

WORKFLOW = "acme/shared/.github/workflows/audit.yml@refs/heads/main"


class FakeClock:
    """A monotonic clock the test moves by hand, for TTLs and rate limits."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture
async def issuer() -> AsyncIterator[LocalIssuer]:
    async for running in local_issuer():
        yield running


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_verifier(
    issuer: LocalIssuer, session: aiohttp.ClientSession, clock: FakeClock
) -> Callable[..., OIDCVerifier]:
    def make(**kwargs: Any) -> OIDCVerifier:
        options: dict[str, Any] = {
            "issuer": issuer.url,
            "audience": issuer.audience,
            "jwks_url": issuer.jwks_url,
            "clock": clock,
            **kwargs,
        }
        return OIDCVerifier(session, **options)

    return make


@pytest.fixture
def verifier(make_verifier: Callable[..., OIDCVerifier]) -> OIDCVerifier:
    return make_verifier()


async def refused(verifier: OIDCVerifier, token: str) -> str:
    """The reason a token is refused (a plain 401, not AuthUnavailable)."""
    with pytest.raises(AuthError) as caught:
        await verifier.verify(token)
    assert not isinstance(caught.value, AuthUnavailable)
    assert token not in str(caught.value)
    return str(caught.value)


# -- accepted ------------------------------------------------------------------


async def test_valid_token_gives_claims(verifier: OIDCVerifier, issuer: LocalIssuer) -> None:
    claims = await verifier.verify(issuer.mint("acme/widgets", "refs/pull/7/merge", jti="j-1"))
    assert claims.repository == "acme/widgets"
    assert claims.repository_owner == "acme"
    assert claims.repository_id == "2002"
    assert claims.ref == "refs/pull/7/merge"
    assert claims.sha == "0123456789abcdef0123456789abcdef01234567"
    assert (claims.run_id, claims.run_attempt) == ("3003", "1")
    assert claims.workflow == "CI"
    assert claims.job_workflow_ref == "acme/widgets/.github/workflows/ci.yml@refs/pull/7/merge"
    assert (claims.event_name, claims.actor, claims.jti) == ("pull_request", "octocat", "j-1")
    assert claims.sub == "repo:acme/widgets:pull_request"
    assert claims.pr_number == 7
    assert dataclasses.asdict(claims)["pr_number"] == 7
    assert claims.subject == "acme/widgets (CI)"


@pytest.mark.parametrize(
    ("ref", "number"),
    [
        ("refs/pull/42/head", 42),
        ("refs/heads/main", None),
        ("refs/pull/x/merge", None),
        ("refs/pull/7/merge/extra", None),
    ],
)
async def test_pr_number_comes_only_from_pull_refs(
    verifier: OIDCVerifier, issuer: LocalIssuer, ref: str, number: int | None
) -> None:
    assert (await verifier.verify(issuer.mint(ref=ref))).pr_number == number


async def test_audience_may_be_a_list(verifier: OIDCVerifier, issuer: LocalIssuer) -> None:
    token = issuer.mint(aud=["someone-else", issuer.audience])
    assert (await verifier.verify(token)).repository == "acme/widgets"


async def test_numeric_ids_are_read_as_text(verifier: OIDCVerifier, issuer: LocalIssuer) -> None:
    claims = await verifier.verify(issuer.mint(run_id=3003, repository_id=2002))
    assert (claims.run_id, claims.repository_id) == ("3003", "2002")


async def test_expiry_within_leeway_is_accepted(
    verifier: OIDCVerifier, issuer: LocalIssuer
) -> None:
    assert await verifier.verify(issuer.mint(exp_in=-30))


async def test_workflow_name_is_made_safe_to_log(
    verifier: OIDCVerifier, issuer: LocalIssuer
) -> None:
    claims = await verifier.verify(issuer.mint(workflow="CI\nFAKE LOG LINE"))
    assert "\n" not in claims.subject


# -- algorithm attacks ------------------------------------------------------------


async def test_alg_none_is_refused(verifier: OIDCVerifier, issuer: LocalIssuer) -> None:
    assert "algorithm" in await refused(verifier, issuer.mint(alg="none"))
    assert issuer.jwks_fetches == 0


async def test_hs256_keyed_with_public_key_is_refused(
    verifier: OIDCVerifier, issuer: LocalIssuer
) -> None:
    await verifier.verify(issuer.mint())  # the key set is cached, so the key is known
    assert "algorithm" in await refused(verifier, issuer.mint(alg="HS256"))


async def test_hs256_refused_even_when_decoding_directly(
    verifier: OIDCVerifier, issuer: LocalIssuer
) -> None:
    """Below the header check, the key itself is bound to RS256."""
    await verifier.verify(issuer.mint())
    key = await verifier._signing_key(issuer.kid)
    with pytest.raises(AuthError, match="algorithm"):
        verifier._decode(issuer.mint(alg="HS256"), key)


@pytest.mark.parametrize("alg", ["RS512", "PS256"])
async def test_other_rsa_algorithms_are_refused(
    verifier: OIDCVerifier, issuer: LocalIssuer, alg: str
) -> None:
    assert "algorithm" in await refused(verifier, issuer.mint(alg=alg))


async def test_forged_signature_is_refused(verifier: OIDCVerifier, issuer: LocalIssuer) -> None:
    assert "signature" in await refused(verifier, issuer.mint(key=new_rsa_key()))


@pytest.mark.parametrize("token", ["a.b.c", "not-a-jwt", "e30.e30.", ""])
async def test_garbage_is_refused(verifier: OIDCVerifier, token: str) -> None:
    with pytest.raises(AuthError):
        await verifier.verify(token)


async def test_token_without_kid_is_refused(verifier: OIDCVerifier, issuer: LocalIssuer) -> None:
    assert "key id" in await refused(verifier, issuer.mint(headers={"kid": None}))


# -- key set: caching, unknown kid, rotation, outages ----------------------------------


async def test_key_set_is_cached_for_its_ttl(
    verifier: OIDCVerifier, issuer: LocalIssuer, clock: FakeClock
) -> None:
    await verifier.verify(issuer.mint())
    await verifier.verify(issuer.mint())
    assert issuer.jwks_fetches == 1
    clock.now += 601
    await verifier.verify(issuer.mint())
    assert issuer.jwks_fetches == 2


async def test_concurrent_first_requests_share_one_fetch(
    verifier: OIDCVerifier, issuer: LocalIssuer
) -> None:
    results = await asyncio.gather(*(verifier.verify(issuer.mint()) for _ in range(5)))
    assert len(results) == 5
    assert issuer.jwks_fetches == 1


async def test_unknown_kid_refetches_once_then_is_rate_limited(
    verifier: OIDCVerifier, issuer: LocalIssuer, clock: FakeClock
) -> None:
    await verifier.verify(issuer.mint())
    assert issuer.jwks_fetches == 1

    assert "unknown key" in await refused(verifier, issuer.mint(kid="made-up-1", key=new_rsa_key()))
    assert issuer.jwks_fetches == 2  # one refetch, then refused

    assert "unknown key" in await refused(verifier, issuer.mint(kid="made-up-2", key=new_rsa_key()))
    assert issuer.jwks_fetches == 2  # within the interval: no refetch at all

    clock.now += 61
    await refused(verifier, issuer.mint(kid="made-up-3", key=new_rsa_key()))
    assert issuer.jwks_fetches == 3  # the interval has passed: one more refetch


async def test_rotated_key_is_picked_up_by_a_refetch(
    verifier: OIDCVerifier, issuer: LocalIssuer
) -> None:
    await verifier.verify(issuer.mint())
    old_kid = issuer.kid
    new_kid = issuer.rotate()
    assert new_kid != old_kid
    claims = await verifier.verify(issuer.mint())
    assert claims.repository == "acme/widgets"
    assert issuer.jwks_fetches == 2


async def test_issuer_down_is_unavailable_not_unauthorised(
    session: aiohttp.ClientSession, issuer: LocalIssuer
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    verifier = OIDCVerifier(
        session,
        issuer=issuer.url,
        audience=issuer.audience,
        jwks_url=f"http://127.0.0.1:{port}/.well-known/jwks",
    )
    with pytest.raises(AuthUnavailable, match="cannot fetch the issuer's signing keys"):
        await verifier.verify(issuer.mint())


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, None),
        (404, None),
        (200, "{not json"),
        (200, '{"keys": []}'),
        (200, '{"keys": [{"kty": "oct", "kid": "x", "k": "c2VjcmV0"}]}'),
        (200, "[1, 2]"),
    ],
)
async def test_bad_key_set_is_unavailable(
    verifier: OIDCVerifier, issuer: LocalIssuer, status: int, body: str | None
) -> None:
    issuer.jwks_status, issuer.jwks_body = status, body
    with pytest.raises(AuthUnavailable):
        await verifier.verify(issuer.mint())


async def test_failed_fetch_is_not_retried_at_once(
    verifier: OIDCVerifier, issuer: LocalIssuer, clock: FakeClock
) -> None:
    issuer.jwks_status = 503
    for _ in range(3):
        with pytest.raises(AuthUnavailable):
            await verifier.verify(issuer.mint())
    assert issuer.jwks_fetches == 1
    issuer.jwks_status = 200
    clock.now += oidc_module.RETRY_AFTER_FAILURE
    assert await verifier.verify(issuer.mint())
    assert issuer.jwks_fetches == 2


async def test_last_good_keys_survive_a_failed_refresh(
    verifier: OIDCVerifier, issuer: LocalIssuer, clock: FakeClock
) -> None:
    await verifier.verify(issuer.mint())
    issuer.jwks_status = 502
    clock.now += 601
    assert (await verifier.verify(issuer.mint())).repository == "acme/widgets"
    assert issuer.jwks_fetches == 2


# -- registered claims --------------------------------------------------------------


async def test_wrong_audience_is_refused(verifier: OIDCVerifier, issuer: LocalIssuer) -> None:
    assert "audience" in await refused(verifier, issuer.mint(aud="some-other-app"))
    assert "audience" in await refused(verifier, issuer.mint(aud=["a", "b"]))


async def test_wrong_issuer_is_refused(verifier: OIDCVerifier, issuer: LocalIssuer) -> None:
    lookalike = issuer.url + "/"
    assert "issuer" in await refused(verifier, issuer.mint(iss=lookalike))
    assert "issuer" in await refused(
        verifier, issuer.mint(iss="https://token.actions.githubusercontent.com")
    )


async def test_expired_beyond_leeway_is_refused(
    verifier: OIDCVerifier, issuer: LocalIssuer
) -> None:
    assert "expired" in await refused(verifier, issuer.mint(exp_in=-120))


async def test_not_before_in_the_future_is_refused(
    verifier: OIDCVerifier, issuer: LocalIssuer
) -> None:
    later = int(time.time()) + 300
    assert "not valid yet" in await refused(verifier, issuer.mint(nbf=later))
    assert "not valid yet" in await refused(verifier, issuer.mint(iat=later))


@pytest.mark.parametrize("claim", ["repository", "exp", "iat", "iss", "aud"])
async def test_required_claims(verifier: OIDCVerifier, issuer: LocalIssuer, claim: str) -> None:
    assert claim in await refused(verifier, issuer.mint(**{claim: None}))


@pytest.mark.parametrize("repository", ["widgets", "acme/widgets/extra", "acme/*", 12])
async def test_repository_must_be_owner_slash_name(
    verifier: OIDCVerifier, issuer: LocalIssuer, repository: object
) -> None:
    assert "repository" in await refused(verifier, issuer.mint(repository=repository))


async def test_claim_of_wrong_type_is_refused(verifier: OIDCVerifier, issuer: LocalIssuer) -> None:
    assert "wrong type" in await refused(verifier, issuer.mint(ref={"nested": True}))


# -- policies ------------------------------------------------------------------


async def test_workflow_policy_accepts_the_required_workflow(
    make_verifier: Callable[..., OIDCVerifier], issuer: LocalIssuer
) -> None:
    verifier = make_verifier(policies={"acme/*": WORKFLOW})
    claims = await verifier.verify(issuer.mint("Acme/Widgets", job_workflow_ref=WORKFLOW))
    assert claims.job_workflow_ref == WORKFLOW


async def test_workflow_policy_path_ignores_case_but_ref_does_not(
    make_verifier: Callable[..., OIDCVerifier], issuer: LocalIssuer
) -> None:
    verifier = make_verifier(policies={"acme/*": WORKFLOW})
    assert await verifier.verify(issuer.mint(job_workflow_ref=WORKFLOW.replace("acme", "ACME")))
    other_branch = WORKFLOW.replace("refs/heads/main", "refs/heads/MAIN")
    assert "job_workflow_ref" in await refused(verifier, issuer.mint(job_workflow_ref=other_branch))


@pytest.mark.parametrize(
    "job_workflow_ref",
    [
        "acme/widgets/.github/workflows/ci.yml@refs/pull/7/merge",
        "acme/shared/.github/workflows/audit.yml@refs/heads/evil",
        "acme/shared/.github/workflows/audit.yml",
        None,
    ],
)
async def test_workflow_policy_refuses_other_workflows(
    make_verifier: Callable[..., OIDCVerifier],
    issuer: LocalIssuer,
    job_workflow_ref: str | None,
) -> None:
    verifier = make_verifier(policies={"acme/*": WORKFLOW})
    reason = await refused(verifier, issuer.mint(job_workflow_ref=job_workflow_ref))
    assert "job_workflow_ref" in reason


async def test_workflow_policy_leaves_other_repositories_alone(
    make_verifier: Callable[..., OIDCVerifier], issuer: LocalIssuer
) -> None:
    verifier = make_verifier(policies={"acme/*": WORKFLOW})
    assert await verifier.verify(issuer.mint("other/repo"))


async def test_workflow_policy_allows_globs(
    make_verifier: Callable[..., OIDCVerifier], issuer: LocalIssuer
) -> None:
    verifier = make_verifier(policies={"acme/widgets": "acme/*/.github/workflows/*.yml@refs/*"})
    assert await verifier.verify(issuer.mint())


@pytest.mark.parametrize(
    "policies",
    [
        {"acme": WORKFLOW},
        {"acme/widgets/x": WORKFLOW},
        {"acme/*": "acme/shared/.github/workflows/audit.yml"},
        {"acme/*": "a@b@c"},
    ],
)
async def test_malformed_policies_fail_at_start(
    make_verifier: Callable[..., OIDCVerifier], policies: dict[str, str]
) -> None:
    with pytest.raises(ValueError):
        make_verifier(policies=policies)


async def test_allowed_repositories_limit_who_may_authenticate(
    make_verifier: Callable[..., OIDCVerifier], issuer: LocalIssuer
) -> None:
    verifier = make_verifier(allowed_repositories=["acme/*"])
    assert await verifier.verify(issuer.mint("ACME/widgets"))
    assert "not allowed" in await refused(verifier, issuer.mint("mallory/widgets"))


# -- through the Authenticator --------------------------------------------------------


async def test_authenticator_routes_jwts_to_oidc(
    verifier: OIDCVerifier, issuer: LocalIssuer
) -> None:
    auth = Authenticator(oidc=verifier)
    principal = await auth.authenticate("Bearer " + issuer.mint("Acme/Widgets"))
    assert principal.kind == "oidc"
    assert principal.subject == "Acme/Widgets (CI)"
    assert principal.claims is not None and principal.claims.pr_number == 7
    assert principal.may_write("acme/widgets")
    assert principal.may_write("ACME/WIDGETS")
    assert not principal.may_write("acme/gadgets")
    assert not principal.may_write("acme/*")


async def test_authenticator_refuses_jwts_when_oidc_is_off(issuer: LocalIssuer) -> None:
    auth = Authenticator(admin_token="admin-secret")
    with pytest.raises(AuthError, match="OIDC"):
        await auth.authenticate("Bearer " + issuer.mint())


async def test_authenticator_passes_on_unavailable(
    verifier: OIDCVerifier, issuer: LocalIssuer
) -> None:
    issuer.jwks_status = 500
    with pytest.raises(AuthUnavailable):
        await Authenticator(oidc=verifier).authenticate("Bearer " + issuer.mint())


async def test_authenticator_refuses_alg_none(verifier: OIDCVerifier, issuer: LocalIssuer) -> None:
    token = issuer.mint(alg="none")
    with pytest.raises(AuthError) as caught:
        await Authenticator(oidc=verifier).authenticate(f"Bearer {token}")
    assert token not in str(caught.value)


async def test_openid_configuration_points_at_the_key_set(
    issuer: LocalIssuer, session: aiohttp.ClientSession
) -> None:
    async with session.get(issuer.url + "/.well-known/openid-configuration") as resp:
        document = await resp.json()
    assert document["issuer"] == issuer.url
    assert document["jwks_uri"] == issuer.jwks_url
    assert issuer.jwks_fetches == 0
