"""A fake GitHub REST API served by aiohttp on loopback, for end-to-end tests.

It keeps just enough state (issue comments, check runs, files, hook deliveries) to
behave like GitHub for the calls the bot makes, and records every request as
`(method, path, body)` so tests assert on what the bot actually sent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

APP_SLUG = "audit-bot"
TOKEN_USER = "audit-bot-user"


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    times: int
    body: dict[str, Any] = field(default_factory=lambda: {"message": "injected failure"})


class FakeGitHub:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.comments: dict[int, dict[str, Any]] = {}  # id -> comment
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.files: dict[tuple[str, str], str] = {}  # (repo, path) -> text
        self.hook_deliveries: list[dict[str, Any]] = []
        self.redelivered: list[int] = []
        self.failures: list[Failure] = []
        self.ids = itertools.count(1000)
        self.tokens_minted = 0
        self.rate_limit_remaining: int | None = None  # set: answers carry x-ratelimit-*
        self.delays: list[tuple[str, re.Pattern[str], float]] = []  # see slow()
        self.in_flight = 0  # requests being answered right now
        self.url = ""
        self.app = web.Application(middlewares=[self._record])
        r = self.app.router
        r.add_post("/app/installations/{iid}/access_tokens", self.access_token)
        r.add_get("/app", self.get_app)
        r.add_get("/user", self.get_user)
        r.add_get("/repos/{owner}/{repo}", self.get_repo)
        r.add_get("/repos/{owner}/{repo}/issues/{n}/comments", self.list_comments)
        r.add_post("/repos/{owner}/{repo}/issues/{n}/comments", self.create_comment)
        r.add_patch("/repos/{owner}/{repo}/issues/comments/{cid}", self.edit_comment)
        r.add_get("/repos/{owner}/{repo}/issues/comments/{cid}", self.get_comment)
        r.add_delete("/repos/{owner}/{repo}/issues/comments/{cid}", self.remove_comment)
        r.add_post("/graphql", self.graphql)
        self.minimized: list[tuple[int, str]] = []  # (comment id, classifier), in order
        r.add_post("/repos/{owner}/{repo}/check-runs", self.create_check_run)
        r.add_patch("/repos/{owner}/{repo}/check-runs/{cid}", self.edit_check_run)
        r.add_get("/repos/{owner}/{repo}/commits/{ref}/check-runs", self.list_check_runs)
        r.add_get("/repos/{owner}/{repo}/contents/{path:.+}", self.get_contents)
        r.add_get("/app/hook/deliveries", self.list_deliveries)
        r.add_post("/app/hook/deliveries/{did}/attempts", self.redeliver)
        # The manifest flow: GitHub's web UI (the registration form) and its conversion.
        self.manifests: dict[str, dict[str, Any]] = {}  # code -> manifest, until converted
        self.registered: list[dict[str, Any]] = []  # what each conversion answered
        self.app_public_keys: dict[int, Any] = {}  # app id -> public key of its pem
        r.add_post("/settings/apps/new", self.register_app)
        r.add_post("/organizations/{org}/settings/apps/new", self.register_app)
        r.add_post("/app-manifests/{code}/conversions", self.convert_manifest)
        # "Sign in with GitHub": the App's user authorization (web flow, PKCE) and what a
        # user token may ask. `oauth_client` is the App's (client id, secret); whoever
        # reaches the authorize page signs in as `signing_in`; `user_installations`
        # maps a login to {installation id: [repository full names]}.
        self.oauth_client = ("Iv1.signin", "signin-client-secret")
        self.signing_in = {"login": "octo-maintainer", "id": 4242}
        self.user_installations: dict[str, dict[int, list[str]]] = {}
        self.user_token_seconds = 8 * 3600  # expires_in of user tokens (0: no expiry)
        self.codes: dict[str, dict[str, Any]] = {}  # code -> challenge, redirect_uri, user
        self.user_tokens: dict[str, dict[str, Any]] = {}  # access token -> user
        self.refresh_tokens: dict[str, dict[str, Any]] = {}  # refresh token -> user
        self.issued_user_tokens: list[str] = []  # every access and refresh token, in order
        r.add_get("/login/oauth/authorize", self.authorize)
        r.add_post("/login/oauth/access_token", self.oauth_token)
        r.add_get("/user/installations", self.list_user_installations)
        r.add_get("/user/installations/{iid}/repositories", self.list_user_repositories)

    # -- helpers for tests ---------------------------------------------------------

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` matching requests with `status`."""
        self.failures.append(Failure(method, re.compile(path_regex), status, headers or {}, times))

    def slow(self, method: str, path_regex: str, seconds: float) -> None:
        """Answer matching requests only after `seconds` (a slow GitHub)."""
        self.delays.append((method, re.compile(path_regex), seconds))

    def comments_on(self, repo: str, pr: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["_repo"] == repo.lower() and c["_pr"] == pr]

    def writes(self, path_regex: str = ".*") -> list[Recorded]:
        pattern = re.compile(path_regex)
        return [
            r
            for r in self.requests
            if r.method in ("POST", "PATCH", "DELETE")
            and pattern.search(r.path)
            and "access_tokens" not in r.path
        ]

    def visible_comments(self, repo: str, pr: int) -> list[dict[str, Any]]:
        """The PR's comments that are neither deleted nor minimised."""
        return [c for c in self.comments_on(repo, pr) if not c.get("_minimized")]

    def delete_comment(self, comment_id: int) -> None:
        """What a human deleting the bot's comment looks like to the bot."""
        del self.comments[comment_id]

    # -- middleware ----------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.requests.append(Recorded(request.method, request.path, body, dict(request.headers)))
        for failure in self.failures:
            if (
                failure.times > 0
                and failure.method == request.method
                and failure.pattern.search(request.path)
            ):
                failure.times -= 1
                return web.json_response(
                    failure.body, status=failure.status, headers=failure.headers
                )
        self.in_flight += 1
        try:
            for method, pattern, seconds in self.delays:
                if method == request.method and pattern.search(request.path):
                    await asyncio.sleep(seconds)
            response = await handler(request)
        finally:
            self.in_flight -= 1
        if self.rate_limit_remaining is not None:
            self.rate_limit_remaining -= 1
            response.headers["x-ratelimit-limit"] = "5000"
            response.headers["x-ratelimit-remaining"] = str(self.rate_limit_remaining)
            response.headers["x-ratelimit-reset"] = "4102444800"
        return response

    # -- endpoints -----------------------------------------------------------------

    async def access_token(self, request: web.Request) -> web.Response:
        if not request.headers.get("Authorization", "").lower().startswith("bearer "):
            return web.json_response(
                {"message": "A JSON web token could not be decoded"}, status=401
            )
        self.tokens_minted += 1
        expires = datetime.now(UTC) + timedelta(hours=1)
        return web.json_response(
            {
                "token": f"ghs_fake{request.match_info['iid']}x{self.tokens_minted}",
                "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            status=201,
        )

    async def get_app(self, request: web.Request) -> web.Response:
        return web.json_response({"id": 1, "slug": APP_SLUG, "name": "Audit Bot"})

    async def get_user(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").partition(" ")[2]
        if token.startswith("ghu_"):
            user = self.user_tokens.get(token)
            if user is None:
                return web.json_response({"message": "Bad credentials"}, status=401)
            return web.json_response({**user, "type": "User"})
        return web.json_response({"login": TOKEN_USER, "id": 7, "type": "User"})

    async def get_repo(self, request: web.Request) -> web.Response:
        full = f"{request.match_info['owner']}/{request.match_info['repo']}"
        return web.json_response({"full_name": full, "default_branch": "main", "private": False})

    def _author(self, request: web.Request) -> str:
        token = request.headers.get("Authorization", "")
        return f"{APP_SLUG}[bot]" if "ghs_fake" in token else TOKEN_USER

    async def list_comments(self, request: web.Request) -> web.Response:
        repo = f"{request.match_info['owner']}/{request.match_info['repo']}".lower()
        pr = int(request.match_info["n"])
        found = [
            {k: v for k, v in c.items() if not k.startswith("_")}
            for c in sorted(self.comments.values(), key=lambda c: c["id"])
            if c["_repo"] == repo and c["_pr"] == pr
        ]
        per_page = int(request.query.get("per_page", 30))
        page = int(request.query.get("page", 1))
        chunk = found[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(found):
            nxt = request.url.update_query(page=page + 1)
            headers["Link"] = f'<{self.url}{nxt.path_qs}>; rel="next"'
        return web.json_response(chunk, headers=headers)

    async def create_comment(self, request: web.Request) -> web.Response:
        data = await request.json()
        comment_id = next(self.ids)
        comment = {
            "id": comment_id,
            "node_id": f"IC_fake{comment_id}",
            "body": data["body"],
            "user": {"login": self._author(request), "type": "Bot"},
            "_repo": f"{request.match_info['owner']}/{request.match_info['repo']}".lower(),
            "_pr": int(request.match_info["n"]),
        }
        self.comments[comment_id] = comment
        return web.json_response(
            {k: v for k, v in comment.items() if not k.startswith("_")}, status=201
        )

    async def edit_comment(self, request: web.Request) -> web.Response:
        comment = self.comments.get(int(request.match_info["cid"]))
        if comment is None:
            return web.json_response({"message": "Not Found"}, status=404)
        comment["body"] = (await request.json())["body"]
        return web.json_response({k: v for k, v in comment.items() if not k.startswith("_")})

    async def get_comment(self, request: web.Request) -> web.Response:
        comment = self.comments.get(int(request.match_info["cid"]))
        if comment is None:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response({k: v for k, v in comment.items() if not k.startswith("_")})

    async def remove_comment(self, request: web.Request) -> web.Response:
        if self.comments.pop(int(request.match_info["cid"]), None) is None:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.Response(status=204)

    async def graphql(self, request: web.Request) -> web.Response:
        """Only the `minimizeComment` mutation, as GitHub answers it."""
        data = await request.json()
        query = str(data.get("query", ""))
        match = re.search(r"classifier:\s*(\w+)", query)
        node = (data.get("variables") or {}).get("id")
        if "minimizeComment" not in query or match is None:
            return web.json_response({"errors": [{"message": "unsupported query"}]})
        found = [c for c in self.comments.values() if c.get("node_id") == node]
        if not found:
            return web.json_response(
                {"data": {"minimizeComment": None}, "errors": [{"type": "NOT_FOUND"}]}
            )
        found[0]["_minimized"] = match.group(1)
        self.minimized.append((found[0]["id"], match.group(1)))
        return web.json_response(
            {"data": {"minimizeComment": {"minimizedComment": {"isMinimized": True}}}}
        )

    async def create_check_run(self, request: web.Request) -> web.Response:
        data = await request.json()
        run_id = next(self.ids)
        self.check_runs[run_id] = {"id": run_id, **data}
        return web.json_response(self.check_runs[run_id], status=201)

    async def edit_check_run(self, request: web.Request) -> web.Response:
        run = self.check_runs.get(int(request.match_info["cid"]))
        if run is None:
            return web.json_response({"message": "Not Found"}, status=404)
        run.update(await request.json())
        return web.json_response(run)

    async def list_check_runs(self, request: web.Request) -> web.Response:
        name = request.query.get("check_name")
        found = [
            run
            for run in sorted(self.check_runs.values(), key=lambda r: r["id"], reverse=True)
            if run.get("head_sha") == request.match_info["ref"]
            and (name is None or run.get("name") == name)
        ]
        return web.json_response({"total_count": len(found), "check_runs": found})

    async def get_contents(self, request: web.Request) -> web.Response:
        repo = f"{request.match_info['owner']}/{request.match_info['repo']}".lower()
        text = self.files.get((repo, request.match_info["path"]))
        if text is None:
            return web.json_response({"message": "Not Found"}, status=404)
        content = base64.b64encode(text.encode()).decode()
        etag = f'"{hash(text) & 0xFFFFFFFF:x}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.json_response(
            {
                "type": "file",
                "encoding": "base64",
                "content": content,
                "path": request.match_info["path"],
            },
            headers={"ETag": etag},
        )

    async def list_deliveries(self, request: web.Request) -> web.Response:
        per_page = int(request.query.get("per_page", 30))
        cursor = request.query.get("cursor")
        items = sorted(self.hook_deliveries, key=lambda d: d["id"], reverse=True)
        start = int(cursor) if cursor else 0
        chunk = items[start : start + per_page]
        headers = {}
        if start + per_page < len(items):
            nxt = request.url.update_query(cursor=str(start + per_page))
            headers["Link"] = f'<{self.url}{nxt.path_qs}>; rel="next"'
        return web.json_response(chunk, headers=headers)

    async def redeliver(self, request: web.Request) -> web.Response:
        self.redelivered.append(int(request.match_info["did"]))
        return web.json_response({}, status=202)

    # -- the manifest flow ---------------------------------------------------------

    async def register_app(self, request: web.Request) -> web.Response:
        """GitHub's web UI: check the posted manifest, send the browser back with a code."""
        form = await request.post()
        try:
            manifest = json.loads(str(form.get("manifest", "")))
        except ValueError:
            return web.Response(status=422, text="manifest is not JSON")
        problem = manifest_problem(manifest)
        if problem:
            return web.Response(status=422, text=f"invalid manifest: {problem}")
        code = f"code{next(self.ids)}"
        self.manifests[code] = {**manifest, "_org": request.match_info.get("org")}
        query = {"code": code}
        if "state" in request.query:
            query["state"] = request.query["state"]
        target = f"{manifest['redirect_url']}?{urlencode(query)}"
        raise web.HTTPFound(target)

    async def convert_manifest(self, request: web.Request) -> web.Response:
        if "Authorization" in request.headers:  # GitHub wants none on this call
            return web.json_response({"message": "unexpected credentials"}, status=400)
        manifest = self.manifests.pop(request.match_info["code"], None)
        if manifest is None:
            return web.json_response({"message": "Validation Failed"}, status=422)
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,  # GitHub's pem is PKCS#1
            serialization.NoEncryption(),
        ).decode()
        app_id = next(self.ids)
        self.app_public_keys[app_id] = key.public_key()
        slug = manifest["name"]
        answer = {
            "id": app_id,
            "slug": slug,
            "node_id": f"A_{app_id}",
            "owner": {"login": manifest["_org"] or TOKEN_USER},
            "name": manifest["name"],
            "client_id": f"Iv1.fake{app_id}",
            "client_secret": secrets.token_hex(20),
            "webhook_secret": secrets.token_hex(20),
            "pem": pem,
            "html_url": f"{self.url}/apps/{slug}",
            "permissions": manifest["default_permissions"],
            "events": manifest["default_events"],
        }
        self.registered.append(answer)
        return web.json_response(answer, status=201)

    # -- "Sign in with GitHub" ---------------------------------------------------------

    def revoke_user(self, login: str) -> None:
        """What a user revoking the App's authorization looks like: every access and
        refresh token of theirs stops working."""
        for tokens in (self.user_tokens, self.refresh_tokens):
            for token in [t for t, user in tokens.items() if user["login"] == login]:
                del tokens[token]

    async def authorize(self, request: web.Request) -> web.Response:
        """GitHub's authorize page, already approved: back to the App with a code."""
        q = request.query
        if q.get("client_id") != self.oauth_client[0]:
            return web.Response(status=404, text="no such application")
        if q.get("code_challenge_method") != "S256" or len(q.get("code_challenge", "")) < 43:
            return web.Response(status=400, text="PKCE S256 challenge required")
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri.startswith(("http://", "https://")):
            return web.Response(status=400, text="redirect_uri missing")
        code = secrets.token_hex(10)
        self.codes[code] = {
            "challenge": q["code_challenge"],
            "redirect_uri": redirect_uri,
            "user": dict(self.signing_in),
        }
        query = {"code": code, "state": q.get("state", "")}
        raise web.HTTPFound(f"{redirect_uri}?{urlencode(query)}")

    async def oauth_token(self, request: web.Request) -> web.Response:
        """The token exchange: a code (PKCE verifier, client secret, redirect URI), or a
        refresh token. Errors are 200s with an `error` field, as GitHub answers them."""
        form = await request.post()
        if (form.get("client_id"), form.get("client_secret")) != self.oauth_client:
            return web.json_response({"error": "incorrect_client_credentials"})
        if form.get("grant_type") == "refresh_token":
            user = self.refresh_tokens.pop(str(form.get("refresh_token")), None)
            if user is None:
                return web.json_response({"error": "bad_refresh_token"})
            for token in [t for t, u in self.user_tokens.items() if u is user]:
                del self.user_tokens[token]  # the old pair stops working
            return web.json_response(self._user_grant(user))
        grant = self.codes.pop(str(form.get("code")), None)
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return web.json_response({"error": "bad_verification_code"})
        verifier = str(form.get("code_verifier") or "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if challenge.decode() != grant["challenge"]:
            return web.json_response({"error": "bad_verification_code"})
        return web.json_response(self._user_grant(grant["user"]))

    def _user_grant(self, user: dict[str, Any]) -> dict[str, Any]:
        access, refresh = f"ghu_{secrets.token_hex(18)}", f"ghr_{secrets.token_hex(30)}"
        self.user_tokens[access] = user
        self.refresh_tokens[refresh] = user
        self.issued_user_tokens += [access, refresh]
        answer: dict[str, Any] = {"access_token": access, "token_type": "bearer", "scope": ""}
        if self.user_token_seconds:
            answer |= {
                "expires_in": self.user_token_seconds,
                "refresh_token": refresh,
                "refresh_token_expires_in": 15897600,
            }
        return answer

    def _token_user(self, request: web.Request) -> dict[str, Any] | None:
        token = request.headers.get("Authorization", "").partition(" ")[2]
        return self.user_tokens.get(token)

    async def list_user_installations(self, request: web.Request) -> web.Response:
        user = self._token_user(request)
        if user is None:
            return web.json_response({"message": "Bad credentials"}, status=401)
        mine = self.user_installations.get(user["login"], {})
        items = [{"id": iid, "app_slug": APP_SLUG} for iid in mine]
        return web.json_response({"total_count": len(items), "installations": items})

    async def list_user_repositories(self, request: web.Request) -> web.Response:
        user = self._token_user(request)
        if user is None:
            return web.json_response({"message": "Bad credentials"}, status=401)
        repos = self.user_installations.get(user["login"], {}).get(int(request.match_info["iid"]))
        if repos is None:
            return web.json_response({"message": "Not Found"}, status=404)
        page = int(request.query.get("page", "1"))
        per_page = int(request.query.get("per_page", "30"))
        chunk = repos[(page - 1) * per_page : page * per_page]
        items = [{"full_name": name, "private": True} for name in chunk]
        return web.json_response({"total_count": len(repos), "repositories": items})


REQUIRED_PERMISSIONS = {
    "pull_requests": "write",
    "checks": "write",
    "contents": "read",
    "actions": "read",
    "metadata": "read",
}
REQUIRED_EVENTS = {"pull_request", "pull_request_review", "workflow_run", "workflow_job"}


def manifest_problem(manifest: Any) -> str | None:
    """What GitHub (and the bot's needs) would object to in a manifest, or None."""
    if not isinstance(manifest, dict):
        return "not an object"
    for key in ("name", "url", "hook_attributes", "redirect_url"):
        if not manifest.get(key):
            return f"{key} is missing"
    urls = [manifest["url"], manifest["hook_attributes"].get("url", ""), manifest["redirect_url"]]
    urls += [*manifest.get("callback_urls", []), manifest.get("setup_url", "https://x")]
    if not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls):
        return "a URL is not http(s)"
    if not manifest["hook_attributes"]["url"].endswith("/webhook"):
        return "the hook does not go to /webhook"
    if not manifest["redirect_url"].endswith("/setup/callback"):
        return "the redirect is not /setup/callback"
    if manifest.get("public") is not False:
        return "the App must be private"
    permissions = manifest.get("default_permissions") or {}
    if any(permissions.get(k) != v for k, v in REQUIRED_PERMISSIONS.items()):
        return f"permissions {permissions} lack one of {REQUIRED_PERMISSIONS}"
    events = set(manifest.get("default_events") or ())
    if not events >= REQUIRED_EVENTS or "installation" in events:
        return f"events {sorted(events)} are not what the bot needs"
    return None
