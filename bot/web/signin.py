"""The "Sign in with GitHub" routes, and the account corner of every page.

- `GET /auth/login?next=…`: a fresh `state` (kept in a short-lived cookie, so the
  callback only completes in the browser that began) and PKCE verifier (kept in the
  store, never sent to the browser), then off to GitHub's authorize page;
- `GET /auth/callback`: the state checked against the cookie and taken from the store
  (once), the code traded for the user's tokens with the verifier and client secret,
  a session started, the browser sent to `next`;
- `POST /auth/logout`: ends the session; the form carries a CSRF token derived from the
  session, so another site cannot sign a user out;
- `GET /auth`: who is signed in.

`next` is only ever a path on this bot (`PUBLIC_URL`'s origin): anything else goes to
`/auth`. Cookies are set only by these routes, which browsers reach; the API never
sets one. Sign-in needs a store it can write, so a read-only process (`AUDIT_ROLE=read`)
does not offer it.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web

from bot import keys
from bot.auth.sessions import LOGIN_WINDOW, Sessions, cookie_name, is_https
from bot.auth.user_access import SignedIn, SignIn, grant_tokens
from bot.config import Settings
from bot.github import user_oauth
from bot.github.manifest import web_url_from_api
from bot.github.user_oauth import GitHubUnavailable, UserTokenRefused
from bot.http.access import LINK_PARAM, expired_link, reader_for
from bot.http.errors import ApiError, add_html_errors
from bot.http.stream_limits import client_address
from bot.store.base import StoreUnavailable
from bot.web import render
from bot.web.html import Markup, Template
from bot.web.pages import STATIC, html

log = logging.getLogger(__name__)

SESSION_COOKIE = "audit_session"
STATE_COOKIE = "audit_signin"
ACCOUNT_MARK = "<!--account-->"  # where `render.PAGE` leaves room for the account corner
HOME = "/auth"
MAX_NEXT = 2000


def safe_next(settings: Settings, raw: str | None) -> str:
    """A path on this bot to go to after signing in or out; `/auth` for anything else
    (another origin, a scheme-relative `//host`, a backslash trick, control characters)."""
    if not raw or len(raw) > MAX_NEXT or any(ord(c) < 0x20 or c == "\\" for c in raw):
        return HOME
    base = settings.link_base or ""
    if base and raw.lower().startswith(base.lower() + "/"):
        raw = raw[len(base) :]
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not raw.startswith("/") or raw.startswith("//"):
        return HOME
    return raw


def _cookie_args(settings: Settings, max_age: int | None) -> dict[str, Any]:
    secure = is_https(settings.public_url)
    args: dict[str, Any] = {"path": "/", "httponly": True, "samesite": "Lax", "secure": secure}
    if max_age is not None:
        args["max_age"] = max_age
    return args


def _redirect(location: str, status: int = 302) -> web.Response:
    return web.Response(status=status, headers={"Location": location, "Cache-Control": "no-store"})


def _page(request: web.Request, status: int, heading: str, detail: str) -> web.Response:
    page = render.error_page(status, heading, detail, request.app[STATIC].assets)
    return html(page, status)


def _signin(request: web.Request) -> SignIn:
    found = request.app.get(keys.SIGNIN)
    if found is None:
        raise ApiError(404, "sign-in is not configured")
    return found


def _client(settings: Settings) -> tuple[str, str] | None:
    if settings.client_id and settings.client_secret:
        return settings.client_id, settings.client_secret
    return None


def _redirect_uri(settings: Settings) -> str:
    return f"{settings.link_base}/auth/callback"


async def login(request: web.Request) -> web.Response:
    signin = _signin(request)
    settings = request.app[keys.SETTINGS]
    client = _client(settings)
    assert client is not None
    next_path = safe_next(settings, request.query.get("next"))
    if not signin.sessions.login_room(client_address(request)):
        raise ApiError(
            429,
            "Too many sign-ins begun from here; try again in a few minutes.",
            headers={"Retry-After": "60"},
        )
    state = secrets.token_urlsafe(32)
    verifier, challenge = user_oauth.pkce_pair()
    await signin.sessions.prune()
    await signin.sessions.begin_login(state, verifier, next_path)
    target = user_oauth.authorize_url(
        signin.web_url, client[0], _redirect_uri(settings), state, challenge
    )
    response = _redirect(target)
    response.set_cookie(
        cookie_name(settings.public_url, STATE_COOKIE),
        state,
        **_cookie_args(settings, LOGIN_WINDOW),
    )
    return response


async def callback(request: web.Request) -> web.Response:
    signin = _signin(request)
    settings = request.app[keys.SETTINGS]
    state_cookie = cookie_name(settings.public_url, STATE_COOKIE)
    state = request.query.get("state") or ""
    code = request.query.get("code") or ""
    held = request.cookies.get(state_cookie) or ""
    if request.query.get("error"):
        return _page(request, 400, "Not signed in", "GitHub did not authorize the sign-in.")
    if not state or not code or not held or not hmac.compare_digest(state.encode(), held.encode()):
        return _refused(request, state_cookie)
    begun = await signin.sessions.finish_login(state)
    if begun is None:  # replayed, forged or too old
        return _refused(request, state_cookie)
    verifier, next_path = begun
    client = _client(settings)
    assert client is not None
    try:
        grant = await user_oauth.exchange_code(
            signin.http, signin.web_url, client, code, _redirect_uri(settings), verifier
        )
        user, user_id = await user_oauth.get_user(signin.http, signin.api_url, grant.access_token)
    except UserTokenRefused:
        log.info("sign-in refused by GitHub (code, verifier or client)")
        return _page(request, 400, "Not signed in", "GitHub refused this sign-in; try again.")
    except GitHubUnavailable as exc:
        log.warning("sign-in could not reach GitHub: %s", exc)
        return _page(request, 503, "Not signed in", "GitHub could not be reached; try again.")
    secret = await signin.sessions.start(user, user_id, grant_tokens(grant))
    log.info("signed in: %s", user)
    response = _redirect(next_path)
    response.del_cookie(state_cookie, path="/")
    response.set_cookie(
        signin.cookie,
        signin.sessions.cookie_value(secret),
        **_cookie_args(settings, settings.session_max),
    )
    return response


def _refused(request: web.Request, state_cookie: str) -> web.Response:
    response = _page(
        request,
        400,
        "Not signed in",
        "This sign-in was not started in this browser, was used already, or took too "
        "long. Start again from “Sign in with GitHub”.",
    )
    response.del_cookie(state_cookie, path="/")
    return response


async def logout(request: web.Request) -> web.Response:
    signin = _signin(request)
    settings = request.app[keys.SETTINGS]
    form = await request.post()
    user = (await reader_for(request)).user
    if user is None:
        return _redirect(HOME, 303)
    if not signin.sessions.csrf_ok(user.secret, str(form.get("csrf") or "")):
        return _page(request, 403, "Not signed out", "The sign-out form was not this page's.")
    await signin.forget(user.key)
    log.info("signed out: %s", user.login)
    response = _redirect(safe_next(settings, str(form.get("next") or "")), 303)
    response.del_cookie(signin.cookie, path="/")
    return response


async def account(request: web.Request) -> web.Response:
    _signin(request)
    user = (await reader_for(request)).user
    if user is None:
        body = Markup(
            '<section class="card"><h1>Not signed in</h1>'
            "<p>Sign in with GitHub to read the runs of the private repositories "
            "GitHub lets you see.</p></section>"
        )
    else:
        body = Template(
            '<section class="card"><h1>Signed in as $login</h1>'
            "<p>You can read the runs of $count private or public repositories "
            "through this bot's GitHub App.</p></section>"
        ).render(login=user.login, count=len(user.repositories))
    return html(render.page("Account", body, request.app[STATIC].assets))


SIGN_IN = Template('<a class="account" href="/auth/login?next=$next">Sign in with GitHub</a>')
SIGNED_IN = Template(
    '<form class="account" method="post" action="/auth/logout">'
    '<span class="login">$login</span>'
    '<input type="hidden" name="csrf" value="$csrf">'
    '<input type="hidden" name="next" value="$next">'
    '<button type="submit">Sign out</button></form>'
)


def account_corner(request: web.Request, user: SignedIn | None, signin: SignIn) -> Markup:
    if user is None:
        here = request.path_qs if request.method == "GET" else HOME
        return SIGN_IN.render(next=Markup(quote(here, safe="/")))
    csrf = signin.sessions.csrf_token(user.secret)
    return SIGNED_IN.render(login=user.login, csrf=csrf, next=request.path)


@web.middleware
async def account_header(request: web.Request, handler: Any) -> web.StreamResponse:
    """Fill the account corner of an HTML page: "Sign in with GitHub", or who is signed
    in and a "Sign out" button (without sign-in configured: nothing)."""
    response = await handler(request)
    signin = request.app.get(keys.SIGNIN)
    if (
        signin is None
        or not isinstance(response, web.Response)
        or response.content_type != "text/html"
        or response.body is None
    ):
        return response
    text = response.text or ""
    if ACCOUNT_MARK not in text:
        return response
    try:
        user = (await reader_for(request)).user
    except StoreUnavailable:  # the page itself was answered; only the corner stays empty
        return response
    response.text = text.replace(ACCOUNT_MARK, account_corner(request, user, signin), 1)
    return response


def expired_to_signin(request: web.Request, exc: ApiError) -> web.Response | None:
    """A page refused because its link expired: to the sign-in page, coming back here."""
    if (
        exc.status != 404
        or request.method != "GET"
        or request.app.get(keys.SIGNIN) is None
        or request.path.startswith(("/api/", "/auth"))
        or request.path.endswith("/live")
        or "text/html" not in request.headers.get("Accept", "")
        or not expired_link(request)
    ):
        return None
    query = [(k, v) for k, v in request.query.items() if k != LINK_PARAM]
    here = request.path + (
        "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query) if query else ""
    )
    return _redirect(f"/auth/login?next={quote(here, safe='/')}")


def setup(app: web.Application) -> None:
    """Sign-in routes when configured, on a process whose store can be written."""
    settings = app[keys.SETTINGS]
    if not settings.signin:
        return
    if settings.role != "all":
        log.warning(
            "Sign in with GitHub is off in this process: it needs a store it can write "
            "(AUDIT_ROLE=all)"
        )
        return
    add_html_errors(app, expired_to_signin)
    app.router.add_get("/auth", account)
    app.router.add_get("/auth/login", login)
    app.router.add_get("/auth/callback", callback)
    app.router.add_post("/auth/logout", logout)
    app.cleanup_ctx.append(_signin_ctx)


async def _signin_ctx(app: web.Application) -> AsyncIterator[None]:
    """After the core resources: the sessions live in the store, GitHub is asked with
    the process's HTTP session."""
    settings = app[keys.SETTINGS]
    assert settings.session_key is not None
    sessions = Sessions(
        app[keys.STORE],
        settings.session_key,
        idle=settings.session_idle,
        max_age=settings.session_max,
    )
    app[keys.SIGNIN] = SignIn(
        sessions,
        app[keys.SESSION],
        api_url=settings.api_url,
        web_url=settings.web_url or web_url_from_api(settings.api_url),
        client=lambda: _client(settings),
        cookie=cookie_name(settings.public_url, SESSION_COOKIE),
        cache_seconds=settings.access_cache_seconds,
    )
    yield
