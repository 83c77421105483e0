"""The reporter API for CI steps: who may report (bot.auth) and what they report.

`setup(app)` adds the routes and builds the `Authenticator` from the settings once
the shared HTTP session exists (the OIDC verifier fetches the issuer's keys with it);
`DOC` is its part of the OpenAPI document, composed by `create_app`.

Lives here: the routes and the open-run decision (`routes`), the body parsers
(`bodies`), the OpenAPI description (`spec`). May import the root helpers, `trail`,
`store`, `auth`, `workers` (the commit pipeline) and `http` (`ApiError`, OpenAPI
helpers); never `web`, `cli` or `app`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bot import keys
from bot.auth import Authenticator, OIDCVerifier, parse_api_tokens
from bot.config import Settings
from bot.reporter.routes import add_routes
from bot.reporter.spec import DOC

log = logging.getLogger(__name__)

__all__ = ["DOC", "build_authenticator", "setup"]


def build_authenticator(settings: Settings, session: aiohttp.ClientSession) -> Authenticator:
    """Static tokens, the admin token and (when an audience is known) Actions OIDC."""
    oidc = None
    if settings.oidc_enabled and settings.audience:
        oidc = OIDCVerifier(
            session,
            issuer=settings.oidc_issuer,
            audience=settings.audience,
            jwks_url=settings.jwks_url,
            policies=settings.oidc_policies,
            allowed_repositories=settings.oidc_repositories,
        )
    elif settings.oidc_enabled:
        log.warning(
            "reporter API: GitHub Actions OIDC tokens are refused until "
            "AUDIT_OIDC_AUDIENCE or PUBLIC_URL names the audience they must carry"
        )
    authenticator = Authenticator(
        static_tokens=parse_api_tokens(settings.api_tokens),
        oidc=oidc,
        admin_token=settings.admin_token,
    )
    if not authenticator.configured:
        log.warning("reporter API: no credentials configured; every report gets 401")
    return authenticator


async def _authenticator(app: web.Application) -> AsyncIterator[None]:
    app[keys.AUTHENTICATOR] = build_authenticator(app[keys.SETTINGS], app[keys.SESSION])
    yield


def setup(app: web.Application) -> None:
    add_routes(app)
    app.cleanup_ctx.append(_authenticator)


def setup_credentials(app: web.Application) -> None:
    """Only the credential checks, for a read process: API tokens and OIDC tokens also
    read private runs (`bot.http.access`), and a read process takes no reports."""
    app.cleanup_ctx.append(_authenticator)
