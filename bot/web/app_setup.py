"""`/setup`: register the GitHub App in one click (GitHub's App manifest flow).

Offered only in setup mode (no GitHub credentials, no webhook secret). At start the
bot logs one line with `/setup?token=…` (the one-time token from bot.github.setup_state).
`GET /setup?token=…` shows what will be created and a form that POSTs the manifest
(bot.github.manifest) to GitHub's web UI with a fresh `state`; GitHub sends the
browser to `GET /setup/callback?code=…&state=…`, which spends the state, converts the
code (`POST {api}/app-manifests/{code}/conversions`, no auth), stores the answer
(bot.github.stored_credentials) and switches the running bot to App mode
(bot.github.live_credentials). From then on `/setup` and its callback answer 404.

Who may start: a caller showing the token; without it, only a browser on this
machine when the bot listens on loopback only and has no PUBLIC_URL (then nothing
can be registered, the page only explains). A tunnel forwards from loopback, so
with PUBLIC_URL set the token is always required. Pages work without JavaScript.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
from aiohttp import web

from bot import keys
from bot.config import Settings, is_loopback
from bot.github.auth import USER_AGENT
from bot.github.live_credentials import LIVE, LiveCredentials
from bot.github.manifest import (
    EVENTS,
    PERMISSIONS,
    app_manifest,
    registration_url,
    web_url_from_api,
)
from bot.github.setup_state import SetupState
from bot.github.stored_credentials import StoredCredentials, path_in, save
from bot.http.errors import ApiError, add_html_errors
from bot.web import render
from bot.web.html import Markup, Template, escape, join, link
from bot.web.pages import STATIC

log = logging.getLogger(__name__)

_CODE = re.compile(r"[A-Za-z0-9_.-]{1,200}")


class _Setup:
    """The setup state of this process (None when setup is not offered)."""

    def __init__(self) -> None:
        self.state: SetupState | None = None
        self.lock = asyncio.Lock()


SETUP = web.AppKey("setup_flow", _Setup)


def setup(app: web.Application) -> None:
    app[LIVE] = LiveCredentials(app[keys.SETTINGS])
    app[SETUP] = _Setup()
    app.router.add_get("/setup", setup_page)
    app.router.add_get("/setup/callback", callback)
    app.router.add_get("/setup/installed", installed)
    add_html_errors(app, html_errors)
    app.cleanup_ctx.append(_offer)


async def _offer(app: web.Application) -> AsyncIterator[None]:
    """In setup mode: the token, and the one line with the setup URL (port bound by now)."""
    settings = app[keys.SETTINGS]
    if settings.setup_mode:
        try:
            app[SETUP].state = SetupState(settings.data_dir)
        except OSError as exc:
            log.warning(
                "setup is not offered: cannot write %s: %s", settings.data_dir, exc.strerror
            )
        else:
            log.info("SETUP: %s", setup_line(settings, app[SETUP].state.token))
    yield


def setup_line(settings: Settings, token: str) -> str:
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    query = urlencode({"token": token})
    line = (
        f"no GitHub credentials; register the GitHub App at "
        f"http://{host}:{settings.port}/setup?{query}"
    )
    if settings.public_url:
        line += f" (or {settings.public_url}/setup?{query})"
    return line


# --- pages -------------------------------------------------------------------------


def _csp(settings: Settings, web_url: str | None) -> str:
    """The run pages' policy, with forms allowed to post here and to GitHub's web UI."""
    targets = ["'self'"]
    for url in (web_url, settings.public_url):
        if url:
            parts = urlsplit(url)
            targets.append(f"{parts.scheme}://{parts.netloc}")
    return (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
        f"form-action {' '.join(dict.fromkeys(targets))}; frame-ancestors 'none'"
    )


def _page(
    request: web.Request,
    title: str,
    body: Markup,
    status: int = 200,
    web_url: str | None = None,
) -> web.Response:
    settings = request.app[keys.SETTINGS]
    markup = render.page(title, body, request.app[STATIC].assets)
    return web.Response(
        text=markup,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": _csp(settings, web_url),
            "Referrer-Policy": "no-referrer",  # the token is in this page's URL
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


CARD = Template('<section class="card$tone"><h1>$heading</h1>$body</section>')


def _refusal(status: int, heading: str, *paragraphs: str) -> ApiError:
    """A refusal of a setup page, shown as a page by `html_errors`."""
    return ApiError(status, " ".join(paragraphs), title=heading, paragraphs=list(paragraphs))


def html_errors(request: web.Request, exc: ApiError) -> web.Response | None:
    """The setup routes' refusals as pages in the setup style; None for other routes."""
    if request.match_info.handler not in (setup_page, callback, installed):
        return None
    paragraphs = exc.fields.get("paragraphs") or [exc.message]
    body = join(Template("<p>$p</p>").render(p=p) for p in paragraphs)
    heading = exc.title or "Refused"
    card = CARD.render(tone=" error", heading=heading, body=body)
    return _page(request, f"{exc.status} · {heading}", card, exc.status)


def _not_offered() -> ApiError:
    return _refusal(
        404,
        "No setup here",
        "This bot already has GitHub credentials (or a webhook secret), so there is "
        "nothing to register.",
    )


def _allowed(request: web.Request, state: SetupState) -> bool:
    if state.holds_token(request.query.get("token")):
        return True
    return _local_only(request)


def _local_only(request: web.Request) -> bool:
    """This machine's browser, a loopback-only listener, no PUBLIC_URL (no tunnel)."""
    settings = request.app[keys.SETTINGS]
    if settings.public_url or not is_loopback(settings.host):
        return False
    host = (request.url.host or "").strip("[]")
    return bool(request.remote) and is_loopback(request.remote or "") and is_loopback(host)


async def setup_page(request: web.Request) -> web.Response:
    state = request.app[SETUP].state
    if state is None or state.done:
        raise _not_offered()
    if not _allowed(request, state):
        raise _refusal(
            403,
            "Setup needs its one-time token",
            "Open the setup URL the bot logged when it started (the line beginning "
            "“SETUP:”); the token is also in the file setup-token in the bot's data "
            "directory. Nothing was changed.",
        )
    settings = request.app[keys.SETTINGS]
    if not settings.public_url:
        return _page(request, "Set up the audit bot", _needs_public_url(settings))
    try:
        web_url = settings.web_url or web_url_from_api(settings.api_url)
    except ValueError:
        raise _refusal(
            400,
            "Where is GitHub's web UI?",
            f"The web address cannot be derived from GITHUB_API_URL={settings.api_url}; "
            "set GITHUB_WEB_URL (for example https://github.example.com) and restart.",
        ) from None
    org = (request.query.get("org") or "").strip() or None
    try:
        action = registration_url(web_url, org, state=state.new_state())
    except ValueError:
        raise _refusal(
            400,
            "Not an organisation name",
            "An organisation name has letters, digits and single hyphens (at most 39).",
        ) from None
    body = _register_card(settings, action, org, request.query.get("token") or "")
    return _page(request, "Register the audit bot on GitHub", body, web_url=web_url)


NEEDS_PUBLIC_URL = Template(
    '<section class="card"><h1>Set PUBLIC_URL first</h1>'
    "<p>GitHub sends webhooks to <code>PUBLIC_URL/webhook</code> and the browser back to "
    "<code>PUBLIC_URL/setup/callback</code>, so the App can only be registered once the "
    "bot knows the address GitHub reaches it at. Registering now would create an App "
    "whose webhooks go nowhere.</p>"
    "<p>Set <code>PUBLIC_URL</code> (for example <code>https://audit.example.org</code>) "
    "and restart; the bot logs a fresh setup line.</p>"
    "<p>To try it from this machine, run a tunnel to port $port (for example "
    "<code>cloudflared tunnel --url http://127.0.0.1:$port</code> or "
    "<code>ngrok http $port</code>) and set <code>PUBLIC_URL</code> to the https address "
    "it prints. With a tunnel the setup page always asks for the token.</p></section>"
)


def _needs_public_url(settings: Settings) -> Markup:
    return NEEDS_PUBLIC_URL.render(port=settings.port)


REGISTER = Template(
    '<section class="card"><h1>Register the audit bot on GitHub</h1>'
    "<p>GitHub will create a private GitHub App named <strong>$name</strong> that sends "
    "its webhooks to <code>$hook</code>, and then send you back here; the bot keeps the "
    "App's credentials (mode 0600, in <code>$data_dir</code>) and starts using them at "
    "once.</p>"
    "<h2>Permissions it asks for</h2><ul>$permissions</ul>"
    "<h2>Events it receives</h2><p>$events, and the installation events.</p>"
    '<form method="post" action="$action">'
    '<input type="hidden" name="manifest" value="$manifest">'
    '<button type="submit">$button</button></form>'
    "<h2>On an organisation instead</h2>"
    '<form method="get" action="/setup">'
    '<input type="hidden" name="token" value="$token">'
    '<label>Organisation <input name="org" value="$org" autocomplete="off" '
    'pattern="[A-Za-z0-9\\-]{1,39}"></label> '
    '<button type="submit">Use this organisation</button></form></section>'
)


def _register_card(settings: Settings, action: str, org: str | None, token: str) -> Markup:
    assert settings.public_url is not None
    manifest = app_manifest(settings.public_url)
    permissions = join(
        Template("<li><code>$name</code>: $level</li>").render(name=name, level=level)
        for name, level in PERMISSIONS.items()
    )
    return REGISTER.render(
        name=manifest["name"],
        hook=manifest["hook_attributes"]["url"],
        data_dir=settings.data_dir,
        permissions=permissions,
        events=join((Markup(f"<code>{escape(e)}</code>") for e in EVENTS), ", "),
        action=action,
        manifest=json.dumps(manifest),
        button=f"Register on organisation {org}" if org else "Register on my account",
        token=token,
        org=org or "",
    )


# --- the callback ------------------------------------------------------------------


async def callback(request: web.Request) -> web.Response:
    flow = request.app[SETUP]
    state = flow.state
    if state is None or state.done:
        raise _not_offered()
    if not state.take_state(request.query.get("state")):
        raise _refusal(
            403,
            "This setup link is not valid",
            "Its state is wrong, expired or already used. Nothing was changed; start "
            "again from the setup URL the bot logged.",
        )
    code = request.query.get("code") or ""
    if not _CODE.fullmatch(code):
        raise _refusal(400, "No code from GitHub", "Nothing was changed.")
    async with flow.lock:
        if state.done:
            raise _not_offered()
        return await _convert_and_store(request, state, code)


async def _convert_and_store(request: web.Request, state: SetupState, code: str) -> web.Response:
    app = request.app
    settings = app[keys.SETTINGS]
    try:
        stored = await _convert(app[keys.SESSION], settings.api_url, code)
    except ApiError as exc:
        paragraphs = [*exc.fields["paragraphs"], "Nothing was stored."]
        raise _refusal(exc.status, exc.title or "", *paragraphs) from None
    try:
        path = save(settings.data_dir, stored)
    except OSError as exc:
        log.error("setup: cannot store the App's credentials in %s: %s", settings.data_dir, exc)
        raise _refusal(
            500,
            "Cannot store the credentials",
            f"The data directory {settings.data_dir} is not writable ({exc.strerror}). "
            "The App exists on GitHub; delete it there and start again.",
        ) from None
    app[LIVE].switch_to_app(app, stored)
    state.finish()
    log.info(
        "setup: registered GitHub App %s (id %s); stored in %s", stored.slug, stored.app_id, path
    )
    return _page(request, "The audit bot is registered", _done_card(settings, stored))


async def _convert(session: aiohttp.ClientSession, api_url: str, code: str) -> StoredCredentials:
    url = f"{api_url}/app-manifests/{quote(code, safe='')}/conversions"
    headers = {"Accept": "application/vnd.github+json", "User-Agent": USER_AGENT}
    try:
        async with session.post(url, headers=headers) as response:
            status = response.status
            reply = await response.json(content_type=None) if status == 201 else None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("setup: the manifest conversion failed: %s", type(exc).__name__)
        raise _refusal(502, "GitHub did not answer", "Try again in a minute.") from None
    if status != 201:
        log.warning("setup: GitHub answered %s to the manifest conversion", status)
        if 400 <= status < 500:
            raise _refusal(
                400,
                "GitHub refused the code",
                f"GitHub answered {status}: the code is wrong, used or expired (codes "
                "live an hour). Start again from the setup URL.",
            )
        raise _refusal(502, "GitHub did not answer", f"GitHub answered {status}.")
    try:
        return StoredCredentials.from_conversion(reply)
    except ValueError as exc:
        raise _refusal(502, "GitHub's answer is not usable", str(exc)) from None


DONE = Template(
    '<section class="card"><h1>Registered: $slug</h1>'
    "<p>The bot now acts as the GitHub App <strong>$slug</strong> (id $app_id) and checks "
    "its webhook signatures. Its credentials are in <code>$path</code> (mode 0600) and "
    "are read at every start; environment variables win over them. For a platform that "
    "wants environment variables, run <code>audit-bot setup --print-env</code>.</p>"
    "<p><strong>Last step:</strong> $install on the repositories the bot should watch.</p>"
    "</section>"
)


def _done_card(settings: Settings, stored: StoredCredentials) -> Markup:
    install = link(f"{stored.html_url}/installations/new", "install the App")
    return DONE.render(
        slug=stored.slug,
        app_id=stored.app_id,
        path=str(path_in(settings.data_dir)),
        install=install,
    )


INSTALLED = Template(
    '<section class="card"><h1>Installed</h1><p>GitHub says the App was $action. Open a '
    "pull request on one of its repositories: the bot records what runs against it and "
    "keeps one summary comment current.</p></section>"
)


async def installed(request: web.Request) -> web.Response:
    """Where GitHub sends the browser after an installation (the manifest's setup_url)."""
    action = "updated" if request.query.get("setup_action") == "update" else "installed"
    return _page(request, "The audit bot is installed", INSTALLED.render(action=action))
