"""A local stand-in for GitHub's Actions OIDC issuer, for tests that need real JWTs.

It serves ``/.well-known/jwks`` and ``/.well-known/openid-configuration`` over HTTP
on 127.0.0.1 (ephemeral port), counts key-set downloads, can rotate its key or
fail on purpose, and mints tokens carrying GitHub's claim set, including the
hostile ones (``alg: none``, HS256 keyed with the public key) a verifier must refuse.

Use it as ``async with LocalIssuer() as issuer: ...`` or through :func:`local_issuer`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_AUDIENCE = "audit-bot-test"


def new_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit key: the smallest size a strict verifier accepts."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE wants it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segment(obj: dict[str, Any]) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode("utf-8"))


class LocalIssuer:
    """An OIDC issuer on loopback whose behaviour a test can steer.

    ``jwks_status`` (an HTTP status other than 200) or ``jwks_body`` (raw text)
    make the key-set endpoint misbehave; ``jwks_fetches`` counts requests to it.
    """

    def __init__(self, audience: str = DEFAULT_AUDIENCE) -> None:
        self.audience = audience
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.kid = self.add_key()
        self.jwks_fetches = 0
        self.jwks_status = 200
        self.jwks_body: str | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- server -------------------------------------------------------------

    async def start(self) -> LocalIssuer:
        """Serve on 127.0.0.1 at a port the OS picks; ``url`` is the issuer (``iss``)."""
        app = web.Application()
        app.router.add_get("/.well-known/jwks", self._jwks)
        app.router.add_get("/.well-known/openid-configuration", self._configuration)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        """Stop serving; later key-set fetches fail as if the issuer were down."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalIssuer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def jwks_url(self) -> str:
        return self.url + "/.well-known/jwks"

    def jwks(self) -> dict[str, Any]:
        """The public half of every current key, as GitHub publishes them."""
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        if self.jwks_status != 200:
            return web.Response(status=self.jwks_status, text="unavailable")
        if self.jwks_body is not None:
            return web.Response(text=self.jwks_body, content_type="application/json")
        return web.json_response(self.jwks())

    async def _configuration(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.url,
                "jwks_uri": self.jwks_url,
                "subject_types_supported": ["public", "pairwise"],
                "response_types_supported": ["id_token"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "claims_supported": sorted(self.claims()),
            }
        )

    # -- keys -------------------------------------------------------------

    def add_key(self, key: rsa.RSAPrivateKey | None = None) -> str:
        """Publish another signing key and return its kid."""
        kid = uuid.uuid4().hex
        self.keys[kid] = key or new_rsa_key()
        return kid

    def rotate(self, *, keep_old: bool = False) -> str:
        """Sign with a new key from now on; drop the old ones unless ``keep_old``."""
        old = dict(self.keys) if keep_old else {}
        self.keys = old
        self.kid = self.add_key()
        return self.kid

    def public_pem(self, kid: str | None = None) -> bytes:
        """The PEM of a published public key: what a key-confusion attacker knows."""
        key = self.keys[kid or self.kid].public_key()
        return key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    # -- tokens -------------------------------------------------------------

    def claims(
        self,
        repository: str = "acme/widgets",
        ref: str = "refs/pull/7/merge",
        *,
        exp_in: int = 300,
    ) -> dict[str, Any]:
        """GitHub's claim set for a job in ``repository`` at ``ref``."""
        now = int(time.time())
        owner = repository.partition("/")[0]
        pull = ref.startswith("refs/pull/")
        workflow_ref = f"{repository}/.github/workflows/ci.yml@{ref}"
        return {
            "jti": str(uuid.uuid4()),
            "sub": f"repo:{repository}:pull_request" if pull else f"repo:{repository}:ref:{ref}",
            "aud": self.audience,
            "ref": ref,
            "sha": "0123456789abcdef0123456789abcdef01234567",
            "repository": repository,
            "repository_owner": owner,
            "repository_owner_id": "1001",
            "repository_visibility": "private",
            "repository_id": "2002",
            "run_id": "3003",
            "run_number": "12",
            "run_attempt": "1",
            "runner_environment": "github-hosted",
            "actor": "octocat",
            "actor_id": "4004",
            "workflow": "CI",
            "workflow_ref": workflow_ref,
            "workflow_sha": "0123456789abcdef0123456789abcdef01234567",
            "job_workflow_ref": workflow_ref,
            "job_workflow_sha": "0123456789abcdef0123456789abcdef01234567",
            "head_ref": "feature" if pull else "",
            "base_ref": "main" if pull else "",
            "event_name": "pull_request" if pull else "push",
            "ref_type": "branch",
            "ref_protected": "false",
            "iss": self.url,
            "nbf": now,
            "iat": now,
            "exp": now + exp_in,
        }

    def mint(
        self,
        repository: Any = "acme/widgets",
        ref: Any = "refs/pull/7/merge",
        *,
        exp_in: int = 300,
        alg: str = "RS256",
        kid: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        headers: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        """A token for a job in ``repository``; a claim or header set to None is left out.

        Any claim can be overridden by keyword (``aud=[...]``, ``iss=...``, ``nbf=...``);
        ``repository`` and ``ref`` may even be of the wrong type, to test refusals.

        ``alg`` may be any RSA algorithm PyJWT signs with, or ``none`` / ``HS256``
        for the hostile forms. ``key`` signs with a key other than the published
        one (while still naming ``kid``), for a forged signature.
        """
        base = self.claims(
            repository if isinstance(repository, str) else "acme/widgets",
            ref if isinstance(ref, str) else "refs/heads/main",
            exp_in=exp_in,
        )
        payload = {**base, "repository": repository, "ref": ref, **overrides}
        payload = {name: value for name, value in payload.items() if value is not None}
        header = {"kid": kid or self.kid, **(headers or {})}
        header = {name: value for name, value in header.items() if value is not None}
        if alg == "none":
            return self.mint_unsigned(payload, header)
        if alg == "HS256":
            return self.mint_hs256_with_public_key(payload, header)
        signer = key or self.keys[kid or self.kid]
        return jwt.encode(payload, signer, algorithm=alg, headers=header)

    def mint_unsigned(self, payload: dict[str, Any], header: dict[str, Any]) -> str:
        """An ``alg: none`` token with an empty signature, built by hand."""
        head = _segment({"typ": "JWT", **header, "alg": "none"})
        return f"{head}.{_segment(payload)}."

    def mint_hs256_with_public_key(self, payload: dict[str, Any], header: dict[str, Any]) -> str:
        """HS256 keyed with the public key's PEM: the classic algorithm-confusion forgery.

        Built by hand because PyJWT refuses to use a PEM public key as an HMAC secret.
        """
        head = _segment({"typ": "JWT", **header, "alg": "HS256"})
        signing_input = f"{head}.{_segment(payload)}".encode("ascii")
        secret = self.public_pem(header.get("kid"))
        signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
        return f"{signing_input.decode('ascii')}.{b64url(signature)}"


async def local_issuer(audience: str = DEFAULT_AUDIENCE) -> AsyncIterator[LocalIssuer]:
    """Body for a pytest fixture: a running issuer, stopped after the test."""
    async with LocalIssuer(audience) as issuer:
        yield issuer
