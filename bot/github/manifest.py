"""The GitHub App manifest: what the bot asks GitHub for when it is registered.

Pure (no I/O), so the `/setup` pages, `app.yml` and the tests share one definition.
The manifest flow: the user's browser POSTs a form field `manifest` (this dict as
JSON) to `registration_url(...)`; GitHub redirects to `redirect_url?code=…&state=…`,
and `POST {api}/app-manifests/{code}/conversions` turns the code into credentials.

Permissions cover every call the bot makes with an installation token, each named
with its calls in `PERMISSIONS` (the comment's under both `pull_requests` and
`issues`); the App-JWT calls (`/app/...`: installation tokens in `bot.github.auth`,
hook deliveries in `bot.github.redelivery`) need none.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode, urlsplit

DEFAULT_NAME = "audit-bot"
DEFAULT_DESCRIPTION = (
    "Records what runs against a pull request (CI, reviews, agents, paid API calls) "
    "as audited, hash-chained runs and keeps one summary comment current."
)

# Paths on PUBLIC_URL that GitHub is told about.
WEBHOOK_PATH = "/webhook"  # bot.app: POST /webhook
REDIRECT_PATH = "/setup/callback"  # manifest flow: GitHub sends the code here
SETUP_PATH = "/setup/installed"  # after an installation: installation_id, setup_action
AUTH_CALLBACK_PATH = "/auth/callback"  # user authorization (OAuth) callback

# Repository permissions, each with the calls (or events) that need it.
PERMISSIONS: dict[str, str] = {
    # The summary comment (bot.github.comments: GET/POST /repos/{r}/issues/{pr}/comments,
    # PATCH /repos/{r}/issues/comments/{id}) and the `pull_request` and
    # `pull_request_review` events.
    "pull_requests": "write",
    # The same comment calls live under the Issues API (`/issues/{pr}/comments`), and
    # hiding an outdated summary (GraphQL `minimizeComment`) takes either permission.
    # Issue 11 asks for both ("pull requests and issues (comments)"): with `issues: write`
    # the comment keeps working on a GitHub whose check of these calls is the Issues one.
    "issues": "write",
    # The audit-bot/spend check (bot.github.checks: POST/PATCH /repos/{r}/check-runs,
    # GET /repos/{r}/commits/{sha}/check-runs) and the `check_suite` event.
    "checks": "write",
    # The repository config (bot.github.repo_config: GET /repos/{r}/contents/.github/audit-bot.yml).
    "contents": "read",
    # The `workflow_run` and `workflow_job` events (CI runs and their minutes).
    "actions": "read",
    # Mandatory for every App that asks for repository permissions.
    "metadata": "read",
}

# The events bot.handlers registers for. `installation`, `installation_repositories`
# (and `installation_target`, `ping`) are handled too but not listed: GitHub's webhook
# reference says every GitHub App receives the installation events by default and
# cannot subscribe to them manually, so they are not valid `default_events`.
EVENTS: tuple[str, ...] = (
    "pull_request",
    "pull_request_review",
    "workflow_run",
    "workflow_job",
    "check_suite",
)

_ORG = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")


def app_manifest(
    public_url: str,
    *,
    name: str = DEFAULT_NAME,
    description: str = DEFAULT_DESCRIPTION,
    homepage: str | None = None,
) -> dict[str, Any]:
    """The manifest for a bot reachable at `public_url` (GitHub must reach its /webhook)."""
    base = _base_url(public_url, "public_url")
    if not name.strip() or len(name) > 34:  # GitHub caps App names at 34 characters
        raise ValueError("the App name must be 1-34 characters")
    return {
        "name": name,
        "url": _base_url(homepage, "homepage") if homepage else base,
        "hook_attributes": {"url": base + WEBHOOK_PATH, "active": True},
        "redirect_url": base + REDIRECT_PATH,
        "callback_urls": [base + AUTH_CALLBACK_PATH],
        "setup_url": base + SETUP_PATH,
        "description": description,
        "public": False,
        "default_permissions": dict(PERMISSIONS),
        "default_events": list(EVENTS),
        "request_oauth_on_install": False,
        "setup_on_update": False,
    }


def web_url_from_api(api_url: str) -> str:
    """The web UI's base URL for a REST base URL (registration pages live there).

    `https://api.github.com` → `https://github.com`; GitHub Enterprise Server
    `https://HOST/api/v3` → `https://HOST`; `https://api.SUB.ghe.com` → `https://SUB.ghe.com`.
    Anything else raises ValueError: the caller asks for `GITHUB_WEB_URL` instead.
    """
    parts = urlsplit(api_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {api_url!r}")
    path = parts.path.rstrip("/")
    if path == "/api/v3":
        return f"{parts.scheme}://{parts.netloc}"
    if not path and parts.netloc.lower().startswith("api.") and parts.netloc.count(".") >= 2:
        return f"{parts.scheme}://{parts.netloc[len('api.') :]}"
    raise ValueError(f"cannot derive the web URL from {api_url!r}; set GITHUB_WEB_URL")


def registration_url(web_url: str, org: str | None = None, *, state: str | None = None) -> str:
    """Where the manifest form is POSTed: the user's account, or organisation `org`."""
    base = _base_url(web_url, "web_url")
    if org is None:
        url = f"{base}/settings/apps/new"
    elif _ORG.fullmatch(org):
        url = f"{base}/organizations/{org}/settings/apps/new"
    else:
        raise ValueError(f"not a GitHub organisation name: {org!r}")
    return f"{url}?{urlencode({'state': state})}" if state is not None else url


def _base_url(url: str, what: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{what} must be an http(s) URL, not {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} must not carry a query or fragment: {url!r}")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
