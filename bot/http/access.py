"""Who may read a run: the rule the API and the pages share.

Runs of public repositories are readable by anyone. A run of a private repository
(or one whose visibility is unknown) needs one of:

- a link token: an HMAC over the run ID with the server's link key, carried as the
  ``t`` query parameter on the links the bot posts on the PR, so whoever can read the
  PR can open its runs (a PR token, over the repository and PR number, opens every
  run of that PR and is carried by the "all runs" link);
- a reporter credential for that repository (``Authorization: Bearer …``, checked by
  the app's ``Authenticator`` when one is configured);
- the admin token (``AUDIT_ADMIN_TOKEN``);
- a "Sign in with GitHub" session whose user GitHub lets read the repository
  (`bot.auth.user_access`: the App's installations the user reaches, asked with the
  user's token and cached per session for ``AUDIT_SIGNIN_CACHE_SECONDS``).

With ``AUDIT_LINK_TTL`` a link token carries when it stops working (``<mac>.<epoch>``,
the time under the MAC); a token without one opens nothing then. A page shown to a
reader whose link expired leads to the sign-in page when sign-in is configured (the
API answers the same 404 as for a missing run).

A caller who may not read a run is told it does not exist (404), never 403, so run
IDs of private repositories cannot be probed; a run retention removed answers 410
(when and why, never where) to a caller who could have read it, and the same 404 as
a missing run to anyone else (a run pruned before its visibility was kept counts as
private). `readable_run` is that rule for one run, `visible_runs` for a listing and
`may_read_pr` for a PR's summary: the read API, its streams, the summary and the
pages all ask here. A listing applies the rule inside the store's query
(`Reader.scope`), so its items and its cursor are made of readable runs only and its
cost does not depend on how many runs the caller may not read. In a listing a link
token opens only what it names: a PR token the listing filtered to that PR (the "all
runs" link); a run token opens its run's own pages and API. Without a link key
(neither ``AUDIT_LINK_KEY`` nor a webhook secret) no link tokens exist at all.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot import keys
from bot.auth.tokens import credentials, token_digest
from bot.config import Settings
from bot.http.errors import ApiError
from bot.ids import is_run_id
from bot.store.base import RunFilter

log = logging.getLogger(__name__)

LINK_PARAM = "t"
_TOKEN_HEX = 32  # 128 bits: unguessable, short enough for a URL


def _mac(key: str, message: str) -> str:
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
    return digest[:_TOKEN_HEX]


def _timed(key: str, message: str, expires: int | None) -> str:
    if expires is None:
        return _mac(key, message)
    stamp = str(int(expires))
    return _mac(key, message + "\0" + stamp) + "." + stamp


def run_link_token(key: str, run_id: str, expires: int | None = None) -> str:
    """The capability token that opens one run (until `expires`, epoch s, if given)."""
    return _timed(key, f"audit-bot/run\0{run_id}", expires)


def pr_link_token(key: str, repo: str, pr: int, expires: int | None = None) -> str:
    """The capability token that opens every run of one pull request."""
    return _timed(key, f"audit-bot/pr\0{repo.lower()}#{int(pr)}", expires)


def token_expiry(token: str | None) -> int | None:
    """The expiry a timed link token states (not yet checked against its MAC)."""
    if not token or "." not in token:
        return None
    tail = token.rsplit(".", 1)[1]
    return int(tail) if tail.isdigit() and len(tail) <= 12 else None


def _query(token: str) -> str:
    """The query string that carries a link token."""
    return "?" + urlencode({LINK_PARAM: token})


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def has_admin_token(settings: Settings) -> bool:
    """Whether ``AUDIT_ADMIN_TOKEN`` is set; a blank one counts as unset."""
    return bool((settings.admin_token or "").strip())


def is_admin(settings: Settings, header: str | None) -> bool:
    """Whether `header` is ``Bearer <AUDIT_ADMIN_TOKEN>``: the one admin-token check.

    Digests are compared in constant time, so timing reveals neither the token nor
    its length. An unset or blank admin token matches nothing.
    """
    scheme, value = credentials(header)
    admin = (settings.admin_token or "").strip()
    if scheme != "bearer" or not value or not admin:
        return False
    return hmac.compare_digest(token_digest(value), token_digest(admin))


def is_public(run: Mapping[str, Any]) -> bool:
    """Only a run known to belong to a public repository is open to everyone."""
    return run.get("private") is False


@dataclass(frozen=True)
class Reader:
    """What one request proved about its caller, resolved once per request."""

    link_key: str | None = None
    token: str | None = None  # the `t` query parameter, if any
    admin: bool = False
    principal: Any = None  # bot.auth.Principal, when a reporter credential was given
    user: Any = None  # bot.auth.user_access.SignedIn, when a signed-in browser asks
    link_ttl: int | None = None  # AUDIT_LINK_TTL: link tokens must carry an expiry
    now: int = 0  # epoch seconds the request's link token is checked at

    @property
    def link_expired(self) -> bool:
        """Whether the link token states an expiry that has passed."""
        expires = token_expiry(self.token)
        return expires is not None and expires <= self.now

    def _opens(self, message: str) -> bool:
        """Whether the link token is this message's, and still valid."""
        if not self.token or not self.link_key:
            return False
        expires = token_expiry(self.token)
        if expires is None:
            return self.link_ttl is None and _same(self.token, _mac(self.link_key, message))
        if expires <= self.now:
            return False
        return _same(self.token, _timed(self.link_key, message, expires))

    def may_read_repo(self, repo: str) -> bool:
        """Whether every run of `repo` is open to this caller (a credential or sign-in)."""
        if self.admin:
            return True
        if self.principal is not None and self.principal.may_write(repo):
            return True
        return self.user is not None and self.user.may_read(repo)

    def may_read(self, run: Mapping[str, Any]) -> bool:
        if is_public(run) or self.admin:
            return True
        repo = run.get("repo")
        if repo and self.may_read_repo(str(repo)):
            return True
        if self._opens(f"audit-bot/run\0{run.get('id')}"):
            return True
        pr = run.get("pr")
        return bool(repo) and pr is not None and self.may_read_pr(str(repo), int(pr))

    def may_read_pr(self, repo: str, pr: int) -> bool:
        """Whether this caller holds the PR-wide capability (or more)."""
        if self.may_read_repo(repo):
            return True
        return self._opens(f"audit-bot/pr\0{repo.lower()}#{int(pr)}")

    def _hand_on(self) -> int | None:
        """The expiry of links this reader hands on: the one its own link states, so a
        page does not extend a link's life; a fresh one for a credential or sign-in."""
        if self.link_ttl is None:
            return None
        expires = token_expiry(self.token)
        if expires is not None and not self.admin and self.principal is None and not self.user:
            return expires
        return self.now + self.link_ttl

    def scope(self, where: RunFilter) -> tuple[str, ...] | None:
        """The read rule for a listing, as `RunFilter.readable`: None when every run the
        filter matches is readable, else the LIKE patterns of the repositories whose
        non-public runs this caller may read besides public ones."""
        if self.admin:
            return None
        if where.repo is not None:
            if self.may_read_repo(where.repo):
                return None
            if where.pr is not None and self.may_read_pr(where.repo, where.pr):
                return None
        patterns = _credential_patterns(self.principal)
        if patterns is None or self.user is None:
            return patterns
        return patterns + tuple(_like_literal(name) for name in sorted(self.user.repositories))

    def may_read_pruned(self, gone: Any) -> bool:
        """Whether this caller could have read a run retention removed (`PrunedRun`)."""
        private = None if gone.private is None else bool(gone.private)
        return self.may_read(
            {"id": gone.run_id, "repo": gone.repo, "pr": gone.pr, "private": private}
        )

    def run_query(self, run: Mapping[str, Any]) -> str:
        """The query string for a link to `run` that this reader may hand on.

        A non-public run gets its own link token (only ever given to a reader who
        may read the run), so links on a page keep working when shared.
        """
        if is_public(run) or not self.link_key or not self.may_read(run):
            return ""
        return _query(run_link_token(self.link_key, str(run["id"]), self._hand_on()))

    def pr_query(self, repo: str, pr: int, private: bool) -> str:
        if not private or not self.link_key or not self.may_read_pr(repo, pr):
            return ""
        return _query(pr_link_token(self.link_key, repo, pr, self._hand_on()))


def _like_literal(name: str) -> str:
    """A repository name as a LIKE pattern matching only itself."""
    return name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _credential_patterns(principal: Any) -> tuple[str, ...] | None:
    """The repositories a reporter credential covers, as SQL LIKE patterns on the
    lower-case name (None: all of them). A glob with a character class (`[...]`) has no
    LIKE spelling and opens nothing in a listing (its repository's runs still open
    one at a time, and in a listing filtered to that repository)."""
    if principal is None:
        return ()
    if principal.kind == "admin":
        return None
    patterns = []
    for name in principal.repositories:
        text = str(name).strip().lower()
        literal = principal.kind == "oidc"
        if not literal and "[" in text:
            continue
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        if not literal:
            escaped = escaped.replace("*", "%").replace("?", "_")
        patterns.append(escaped)
    return tuple(patterns)


# Per-request cache key (aiohttp ≥ 3.13 has typed request keys).
_READER: Any = web.RequestKey("audit_reader", Reader) if hasattr(web, "RequestKey") else "reader"


async def reader_for(request: web.Request) -> Reader:
    """Resolve the caller's credentials once per request (cached on the request)."""
    reader = request.get(_READER)
    if reader is None:
        reader = request[_READER] = await _resolve(request)
    return reader


async def _resolve(request: web.Request) -> Reader:
    """Link token, admin token, reporter credential, signed-in session.

    A request with an `Authorization` header is an API client: its cookies are not
    looked at (and it is never given one)."""
    settings = request.app[keys.SETTINGS]
    token = request.query.get(LINK_PARAM) or None
    header = request.headers.get("Authorization")
    admin = is_admin(settings, header)
    principal = None
    user = None
    if header and not admin:
        principal = await _reporter(request, header)
    signin = request.app.get(keys.SIGNIN)
    if header is None and signin is not None:
        user = await signin.user(request.cookies.get(signin.cookie))
    return Reader(
        link_key=settings.link_key,
        token=token,
        admin=admin,
        principal=principal,
        user=user,
        link_ttl=settings.link_ttl,
        now=int(time.time()),
    )


def expired_link(request: web.Request) -> bool:
    """Whether this request's reader (if resolved) came with a link that expired."""
    reader = request.get(_READER)
    return reader is not None and reader.link_expired


async def _reporter(request: web.Request, header: str) -> Any:
    """The reporter credential's principal, or None when absent, bad or unavailable."""
    authenticator = request.app.get(keys.AUTHENTICATOR)
    if authenticator is None:
        return None
    from bot.auth import AuthError, AuthUnavailable

    try:
        return await authenticator.authenticate(header)
    except AuthUnavailable:
        log.warning("reader credential could not be checked now (OIDC keys unavailable)")
        return None
    except AuthError:
        return None


def _expiry(ttl: int | None) -> int | None:
    return None if ttl is None else int(time.time()) + ttl


def link_token_for(link_key: str | None, ttl: int | None = None) -> Any:
    """The summary's `link_token` option: run ID → query string, or None without a key.
    With `ttl` (AUDIT_LINK_TTL) each link works for that long after it is written."""
    if not link_key:
        return None

    def query(run_id: str) -> str:
        return _query(run_link_token(link_key, run_id, _expiry(ttl)))

    return query


def pr_link_token_for(link_key: str | None, ttl: int | None = None) -> Any:
    """The summary's `pr_link_token` option: (repo, pr) → query string, or None."""
    if not link_key:
        return None

    def query(repo: str, pr: int) -> str:
        return _query(pr_link_token(link_key, repo, pr, _expiry(ttl)))

    return query


async def readable_run(request: web.Request, run_id: str) -> dict[str, Any]:
    """The run if this caller may read it; else an `ApiError` 404 (or 410 if pruned)."""
    store = request.app[keys.STORE]
    if not is_run_id(run_id):
        raise ApiError(404, "no such run")
    run = await store.get_run(run_id)
    reader = await reader_for(request)
    if run is None:  # 410 when retention removed it and this caller could have read it
        raise await missing_run(store, run_id, reader)
    if not reader.may_read(run):
        raise ApiError(404, "no such run")
    return run


async def missing_run(store: Any, run_id: str, reader: Reader) -> ApiError:
    """The refusal for a run the store does not hold: 410 if retention removed it.

    Only to a caller who could have read the run: anyone else gets the 404 of a run
    that never existed, so a pruned private run's ID, head hash and length stay
    hidden. The body says when and why but not which repository.
    """
    pruned_info = getattr(store, "pruned_info", None)  # a bare test store may lack it
    gone = await pruned_info(run_id) if pruned_info is not None else None
    if gone is None or not reader.may_read_pruned(gone):
        return ApiError(404, "no such run")
    return ApiError(
        410,
        f"run {run_id} was removed by retention at {gone.pruned_at}: {gone.reason}",
        pruned_at=gone.pruned_at,
        reason=gone.reason,
        last_seq=gone.last_seq,
        head_hash=gone.head_hash,
    )


async def may_read_pr(request: web.Request, repo: str, pr: int) -> bool:
    """Whether a PR-wide view (its summary) is open to this caller.

    A PR with no runs has nothing to show; a private PR's is as closed as its runs.
    """
    reader = await reader_for(request)
    where = RunFilter(repo=repo, pr=pr, limit=1)
    readable = await request.app[keys.STORE].list_runs(replace(where, readable=reader.scope(where)))
    return bool(readable)


async def visible_runs(
    store: Any, where: RunFilter, reader: Reader
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `where.limit` readable runs, and the cursor for the next page.

    The store applies the read rule (`Reader.scope`) in its query, so private runs
    are never read for a caller who may not read them: the page, whether it has a
    cursor, and what it costs are the same as if those runs did not exist. One run
    past the page is asked for, so a page that ends the list says so (no cursor).
    """
    wanted = where.limit + 1
    batch = await store.list_runs(replace(where, limit=wanted, readable=reader.scope(where)))
    found = [run for run in batch if reader.may_read(run)]  # the query's rule, checked again
    if len(found) != len(batch):
        log.error("a listing's query returned runs its reader may not read; dropped")
        return found[: where.limit], None
    if len(found) == wanted:
        return found[:-1], found[-2]["id"]
    return found, None
