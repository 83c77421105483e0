"""Sign in with GitHub over HTTP: the flow, the read rule's signed-in branch, and the
refusals (forged or replayed state, a wrong PKCE verifier, a revoked token, an expired
session, a cookie under another key, CSRF, open redirects), against the fake GitHub."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from bot.auth.sessions import MAX_LOGINS_PER_ADDRESS, Sessions, record_key
from bot.github.user_oauth import pkce_pair
from bot.http.access import run_link_token
from bot.ids import new_run_id
from tests.support.bot import SECRET, Bot
from tests.support.fake_github import FakeGitHub
from tests.support.readside import append, open_pr, spend
from tests.support.signin import (
    OTHER_PRIVATE_REPO,
    PRIVATE_REPO,
    SESSION_KEY,
    Jar,
    authorize,
    begin,
    get,
    local,
    sign_in,
    signin_env,
)

COOKIE = "__Host-audit_session"  # PUBLIC_URL is https in these tests
USER = "octo-maintainer"


@dataclasses.dataclass
class World:
    bot: Bot
    github: FakeGitHub
    mine: str  # a private run the user may read on GitHub
    theirs: str  # a private run of a repository the user cannot read


@pytest.fixture
async def world(make_bot: Callable[..., Any], github: FakeGitHub) -> World:
    return await _world(make_bot, github)


async def _world(make_bot: Callable[..., Any], github: FakeGitHub, **env: str) -> World:
    github.user_installations[USER] = {77: [PRIVATE_REPO]}
    bot = await make_bot(**signin_env(github, **env))
    mine = await open_pr(bot, 2, repo=PRIVATE_REPO, private=True)
    theirs = await open_pr(bot, 3, repo=OTHER_PRIVATE_REPO, private=True)
    await append(bot, mine, spend("1.50"))
    await append(bot, theirs, spend("2.25"))
    await bot.settle()
    return World(bot, github, mine, theirs)


HTML = {"Accept": "text/html"}


async def _reads(w: World, jar: Jar, run_id: str, repo: str, pr: int) -> dict[str, int]:
    """The status of every read surface for one run."""
    paths = {
        "page": f"/runs/{run_id}",
        "json": f"/api/runs/{run_id}",
        "ndjson": f"/api/runs/{run_id}/events?format=ndjson",
        "summary": "/api/summary?" + urlencode({"repo": repo, "pr": pr}),
        "pr page": f"/repos/{repo}/pull/{pr}",
    }
    found = {}
    for name, path in paths.items():
        found[name] = (await get(w.bot, jar, path, headers=HTML))[0]
    assert w.bot.session is not None  # the live tail: its status, then hang up
    sse = f"{w.bot.url}/api/runs/{run_id}/events?format=sse"
    async with w.bot.session.get(sse, headers=jar.header()) as reply:
        found["sse"] = reply.status
    return found


def _csv_rows(body: str) -> list[str]:
    return [line for line in body.splitlines()[1:] if line.strip()]


async def test_sign_in_opens_exactly_what_github_allows_and_sign_out_closes_it(
    world: World,
) -> None:
    w = world
    nobody = Jar()
    assert set((await _reads(w, nobody, w.mine, PRIVATE_REPO, 2)).values()) == {404}
    status, page, _ = await get(w.bot, nobody, f"/runs/{w.mine}", headers=HTML)
    assert "Sign in with GitHub" in page
    assert f'href="/auth/login?next=/runs/{w.mine}"' in page

    jar, landed = await sign_in(w.bot, f"/runs/{w.mine}")
    assert landed == f"/runs/{w.mine}"
    morsel = jar.cookies[COOKIE]
    assert morsel["httponly"] and morsel["secure"] and morsel["path"] == "/"
    assert morsel["samesite"] == "Lax" and "domain" not in {k for k, v in morsel.items() if v}
    assert "__Host-audit_signin" not in jar.cookies  # the state cookie is gone

    assert set((await _reads(w, jar, w.mine, PRIVATE_REPO, 2)).values()) == {200}
    status, page, _ = await get(w.bot, jar, f"/runs/{w.mine}", headers=HTML)
    assert USER in page and "Sign out" in page and "Sign in with GitHub" not in page
    status, body, _ = await get(
        w.bot,
        jar,
        "/api/spend?" + urlencode({"repo": PRIVATE_REPO, "format": "csv"}),
    )
    assert status == 200 and any("1.5" in row for row in _csv_rows(body)), body
    status, body, _ = await get(w.bot, jar, "/api/runs?" + urlencode({"repo": PRIVATE_REPO}))
    assert [r["id"] for r in _json(body)["runs"]] == [w.mine]
    status, body, _ = await get(w.bot, jar, "/api/runs")
    assert w.mine in body and w.theirs not in body

    # the repository GitHub does not let this user read: the 404 of a missing run
    assert set((await _reads(w, jar, w.theirs, OTHER_PRIVATE_REPO, 3)).values()) == {404}
    _, refused, _ = await get(w.bot, jar, f"/api/runs/{w.theirs}")
    _, missing, _ = await get(w.bot, jar, f"/api/runs/{new_run_id()}")
    assert refused == missing
    _, body, _ = await get(
        w.bot,
        jar,
        "/api/spend?" + urlencode({"repo": OTHER_PRIVATE_REPO, "format": "csv"}),
    )
    assert _csv_rows(body) == []

    # sign out with the page's CSRF token; the old cookie opens nothing afterwards
    old = Jar(dict(jar.cookies))
    await _sign_out(w, jar)
    assert COOKIE not in jar.cookies
    assert set((await _reads(w, old, w.mine, PRIVATE_REPO, 2)).values()) == {404}


def _json(body: str) -> Any:
    import json

    return json.loads(body)


async def _csrf(w: World, jar: Jar) -> str:
    _, page, _ = await get(w.bot, jar, f"/runs/{w.mine}", headers=HTML)
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def _post_logout(w: World, jar: Jar, form: dict[str, str]) -> tuple[int, Any]:
    assert w.bot.session is not None
    async with w.bot.session.post(
        w.bot.url + "/auth/logout", data=form, headers=jar.header(), allow_redirects=False
    ) as reply:
        jar.take(reply)
        return reply.status, reply.headers


async def _sign_out(w: World, jar: Jar) -> None:
    status, _ = await _post_logout(w, jar, {"csrf": await _csrf(w, jar)})
    assert status == 303


async def test_sign_out_without_the_csrf_token_is_refused(world: World) -> None:
    w = world
    jar, _ = await sign_in(w.bot)
    other, _ = await sign_in(w.bot)
    for form in ({}, {"csrf": "forged"}, {"csrf": await _csrf(w, other)}):
        status, _ = await _post_logout(w, jar, form)
        assert status == 403, form
        assert COOKIE in jar.cookies
        assert (await get(w.bot, jar, f"/api/runs/{w.mine}"))[0] == 200
    status, _, _ = await get(w.bot, jar, "/auth/logout")
    assert status == 405  # sign-out is never a GET a link or image could trigger
    await _sign_out(w, jar)
    assert (await get(w.bot, other, f"/api/runs/{w.mine}"))[0] == 200  # only that one


async def test_a_forged_or_replayed_state_is_refused(world: World) -> None:
    w = world
    # forged: the state in the callback is not the one this browser was given
    jar = Jar()
    back = await authorize(w.bot, await begin(w.bot, jar))
    forged = back.replace("state=", "state=x")
    status, page, _ = await get(w.bot, jar, forged)
    assert status == 400 and "Not signed in" in page and COOKIE not in jar.cookies

    # another browser's callback (login CSRF): no state cookie here
    attacker = Jar()
    back = await authorize(w.bot, await begin(w.bot, attacker))
    victim = Jar()
    status, _, _ = await get(w.bot, victim, back)
    assert status == 400 and COOKIE not in victim.cookies

    # replayed: the same callback, state cookie and all, a second time
    jar = Jar()
    back = await authorize(w.bot, await begin(w.bot, jar))
    replay = Jar(dict(jar.cookies))
    assert (await get(w.bot, jar, back))[0] == 302
    status, _, _ = await get(w.bot, replay, back)
    assert status == 400 and COOKIE not in replay.cookies


async def test_a_code_issued_for_another_pkce_challenge_is_refused(world: World) -> None:
    """An intercepted code (issued for the attacker's challenge) does not complete this
    browser's sign-in: GitHub refuses the verifier the bot holds."""
    w = world
    jar = Jar()
    ours = await begin(w.bot, jar)
    query = {k: v[0] for k, v in parse_qs(urlsplit(ours).query).items()}
    _, their_challenge = pkce_pair()
    theirs = ours.split("?")[0] + "?" + urlencode({**query, "code_challenge": their_challenge})
    back = await authorize(w.bot, theirs)
    status, page, _ = await get(w.bot, jar, back)
    assert status == 400 and "GitHub refused" in page and COOKIE not in jar.cookies
    refused = [r for r in w.github.requests if r.path == "/login/oauth/access_token"]
    assert refused and "code_verifier" in str(refused[-1].body)
    assert not w.github.user_tokens


async def test_a_revoked_token_ends_the_session_once_the_cache_expires(
    make_bot: Callable[..., Any], github: FakeGitHub
) -> None:
    w = await _world(make_bot, github, AUDIT_SIGNIN_CACHE_SECONDS="1")
    jar, _ = await sign_in(w.bot)
    assert (await get(w.bot, jar, f"/api/runs/{w.mine}"))[0] == 200
    github.revoke_user(USER)
    # within the cache time GitHub is not asked again (the documented window)
    assert (await get(w.bot, jar, f"/api/runs/{w.mine}"))[0] == 200
    await asyncio.sleep(1.2)
    assert (await get(w.bot, jar, f"/api/runs/{w.mine}"))[0] == 404
    secret = jar.cookies[COOKIE].value.split(".")[0]
    assert await w.bot.store.get_session(record_key(secret)) is None  # dropped
    _, page, _ = await get(w.bot, jar, "/auth")
    assert "Not signed in" in page


async def test_an_expiring_user_token_is_refreshed(
    make_bot: Callable[..., Any], github: FakeGitHub
) -> None:
    github.user_token_seconds = 60  # inside the refresh margin: refreshed at first use
    w = await _world(make_bot, github)
    jar, _ = await sign_in(w.bot)
    first = github.issued_user_tokens[0]
    assert (await get(w.bot, jar, f"/api/runs/{w.mine}"))[0] == 200
    refreshes = [
        r
        for r in github.requests
        if r.path == "/login/oauth/access_token" and "refresh_token" in str(r.body)
    ]
    assert refreshes and first not in github.user_tokens  # the new pair replaced it
    asked = [r for r in github.requests if r.path == "/user/installations"]
    assert asked[-1].headers["Authorization"] == f"Bearer {github.issued_user_tokens[-2]}"


async def test_an_expired_session_is_refused_and_dropped(world: World) -> None:
    w = world
    store = w.bot.store
    for change in ("idle", "max"):
        jar, _ = await sign_in(w.bot)
        key = record_key(jar.cookies[COOKIE].value.split(".")[0])
        record = await store.get_session(key)
        now = int(time.time())
        await store.take_session(key)
        if change == "idle":  # 8 hours and a minute without a request
            old = dataclasses.replace(record, seen_at=now - 8 * 3600 - 60)
        else:  # used a minute ago, but signed in over 7 days ago
            old = dataclasses.replace(record, created_at=now - 7 * 86400 - 60, seen_at=now - 60)
        await store.put_session(old)
        assert (await get(w.bot, jar, f"/api/runs/{w.mine}"))[0] == 404, change
        assert await store.get_session(key) is None


async def test_a_cookie_made_under_another_key_is_refused(world: World) -> None:
    w = world
    jar, _ = await sign_in(w.bot)
    secret = jar.cookies[COOKIE].value.split(".")[0]
    elsewhere = Sessions(w.bot.store, "another-instance-key-0123456789", idle=60, max_age=60)
    forged = Jar()
    status, _, headers = await get(
        w.bot,
        forged,
        f"/api/runs/{w.mine}",
        headers={"Cookie": f"{COOKIE}={elsewhere.cookie_value(secret)}"},
    )
    assert status == 404 and "Set-Cookie" not in headers
    for made_up in ("", "x", "a.b.c", f"{secret}.{'0' * 32}"):
        status, _, _ = await get(
            w.bot, Jar(), f"/api/runs/{w.mine}", headers={"Cookie": f"{COOKIE}={made_up}"}
        )
        assert status == 404, made_up
    assert (await get(w.bot, jar, f"/api/runs/{w.mine}"))[0] == 200


@pytest.mark.parametrize(
    ("asked", "landed"),
    [
        ("https://evil.example", "/auth"),
        ("https://evil.example/runs/x", "/auth"),
        ("//evil.example/x", "/auth"),
        ("/\\evil.example", "/auth"),
        ("javascript:alert(1)", "/auth"),
        ("https://audit.example.test/repos/a/b?x=1", "/repos/a/b?x=1"),
        ("/runs/abc?t=1", "/runs/abc?t=1"),
    ],
)
async def test_next_only_goes_to_this_bot(world: World, asked: str, landed: str) -> None:
    _, location = await sign_in(world.bot, asked)
    assert location == landed


async def test_api_clients_with_bearer_tokens_never_get_a_cookie(
    make_bot: Callable[..., Any], github: FakeGitHub
) -> None:
    w = await _world(make_bot, github, AUDIT_ADMIN_TOKEN="an-admin-token-for-tests")
    jar, _ = await sign_in(w.bot)
    for path in (f"/api/runs/{w.mine}", "/api/runs", f"/runs/{w.mine}", "/auth"):
        for auth in ("Bearer an-admin-token-for-tests", "Bearer wrong"):
            status, _, headers = await get(w.bot, Jar(), path, headers={"Authorization": auth})
            assert "Set-Cookie" not in headers, (path, auth)
    # with a bearer header the session cookie is not looked at
    status, _, headers = await get(
        w.bot, jar, f"/api/runs/{w.mine}", headers={"Authorization": "Bearer wrong"}
    )
    assert status == 404 and "Set-Cookie" not in headers
    status, _, headers = await get(w.bot, jar, f"/api/runs/{w.mine}")
    assert status == 200 and "Set-Cookie" not in headers  # a signed-in read sets nothing


async def test_the_user_token_never_appears_in_clear(
    make_bot: Callable[..., Any], github: FakeGitHub, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    github.user_token_seconds = 60  # a refresh too: two pairs of tokens to look for
    w = await _world(make_bot, github)
    jar, _ = await sign_in(w.bot, f"/runs/{w.mine}")
    bodies = []
    for path in (f"/runs/{w.mine}", "/auth", f"/api/runs/{w.mine}", f"/runs/{new_run_id()}"):
        bodies.append((await get(w.bot, jar, path, headers=HTML))[1])
    await _sign_out(w, jar)
    assert len(github.issued_user_tokens) == 4
    secret = jar.cookies.get(COOKIE)
    files = b"".join(p.read_bytes() for p in tmp_path.glob("audit.db*"))
    assert files  # the store's database, WAL and all
    logs = caplog.text
    for token in github.issued_user_tokens:
        assert token not in logs
        assert all(token not in body for body in bodies)
        assert token.encode() not in files
    assert secret is None
    # the store keeps digests of session cookies, never the cookie's secret
    jar, _ = await sign_in(w.bot)
    cookie_secret = jar.cookies[COOKIE].value.split(".")[0]
    files = b"".join(p.read_bytes() for p in tmp_path.glob("audit.db*"))
    assert cookie_secret.encode() not in files
    assert SESSION_KEY not in logs


async def test_link_tokens_expire_and_lead_to_sign_in(
    make_bot: Callable[..., Any], github: FakeGitHub
) -> None:
    w = await _world(make_bot, github, AUDIT_LINK_TTL="1h")
    key = SECRET  # the link key: the webhook secret, as no AUDIT_LINK_KEY is set
    comment = next(iter(github.comments.values()))["body"]
    timed = re.search(r"[?&]t=([0-9a-f]{32}\.(\d+))", comment)
    assert timed, comment
    assert abs(int(timed.group(2)) - (time.time() + 3600)) < 120
    now = int(time.time())
    fresh = run_link_token(key, w.mine, now + 600)
    stale = run_link_token(key, w.mine, now - 1)
    forever = run_link_token(key, w.mine)
    assert (await get(w.bot, Jar(), f"/api/runs/{w.mine}?t={fresh}"))[0] == 200
    assert (await get(w.bot, Jar(), f"/api/runs/{w.mine}?t={forever}"))[0] == 404
    status, body, _ = await get(w.bot, Jar(), f"/api/runs/{w.mine}?t={stale}")
    assert status == 404 and body == (await get(w.bot, Jar(), f"/api/runs/{new_run_id()}"))[1]
    status, _, headers = await get(w.bot, Jar(), f"/runs/{w.mine}?t={stale}", headers=HTML)
    assert status == 302 and headers["Location"] == f"/auth/login?next=/runs/{w.mine}"
    # a page read with a timed link hands on links that expire no later
    _, page, _ = await get(w.bot, Jar(), f"/runs/{w.mine}?t={fresh}", headers=HTML)
    handed = set(re.findall(r"t=[0-9a-f]{32}\.(\d+)", page))
    assert handed == {str(now + 600)}


async def test_without_sign_in_configured_nothing_changes(bot: Bot) -> None:
    run_id = await open_pr(bot, 2, private=True)
    status, page, _ = await get(bot, Jar(), f"/runs/{run_id}", headers=HTML)
    assert status == 404 and "Sign in" not in page
    for path in ("/auth", "/auth/login", "/auth/callback"):
        assert (await get(bot, Jar(), path))[0] == 404
    assert local(bot, "https://x.example/a?b=1") == bot.url + "/a?b=1"


async def test_requests_arriving_together_refresh_the_token_once(
    make_bot: Callable[..., Any], github: FakeGitHub
) -> None:
    """A page and its live updates at once: one refresh (a refresh token works once),
    and every request reads."""
    github.user_token_seconds = 60  # due for a refresh at first use
    w = await _world(make_bot, github)
    jar, _ = await sign_in(w.bot)
    answers = await asyncio.gather(*(get(w.bot, jar, f"/api/runs/{w.mine}") for _ in range(6)))
    assert [a[0] for a in answers] == [200] * 6
    refreshes = [
        r
        for r in github.requests
        if r.path == "/login/oauth/access_token" and "refresh_token" in str(r.body)
    ]
    assert len(refreshes) == 1


async def test_hostile_callbacks_and_logins_are_clean_refusals(world: World) -> None:
    w = world
    jar = Jar()
    await begin(w.bot, jar)
    for query in (
        {"state": "é", "code": "x"},
        {"state": "x" * 5000, "code": "y"},
        {"state": "", "code": ""},
        {"code": "x"},
        {"error": "access_denied", "state": "x"},
    ):
        status, page, _ = await get(w.bot, jar, "/auth/callback?" + urlencode(query))
        assert status == 400 and "Not signed in" in page, query
    for next_path in ("\u2028/x", "/x\r\nSet-Cookie: a=b", "é" * 300):
        status, _, headers = await get(
            w.bot, Jar(), "/auth/login?" + urlencode({"next": next_path})
        )
        assert status == 302 and "Set-Cookie: a" not in str(headers)


async def test_instances_on_one_store_share_sessions_and_only_their_key_opens_them(
    make_bot: Callable[..., Any], github: FakeGitHub
) -> None:
    w = await _world(make_bot, github)
    twin = await make_bot(**signin_env(github))  # another instance: same store, same key
    stranger = await make_bot(**signin_env(github, AUDIT_SESSION_KEY="x" * 32))
    jar, _ = await sign_in(w.bot)
    assert (await get(twin, jar, f"/api/runs/{w.mine}"))[0] == 200
    assert (await get(stranger, jar, f"/api/runs/{w.mine}"))[0] == 404
    old = Jar(dict(jar.cookies))
    csrf = await _csrf(w, jar)
    status, _ = await _post_logout(World(twin, github, w.mine, w.theirs), jar, {"csrf": csrf})
    assert status == 303  # signed out on the twin: over on the first instance too
    assert (await get(w.bot, old, f"/api/runs/{w.mine}"))[0] == 404


async def test_a_user_who_reaches_thousands_of_repositories_can_still_list(
    make_bot: Callable[..., Any], github: FakeGitHub
) -> None:
    """Their names go into the listing's query: as one IN list, not a tree of ORs
    (SQLite refuses an expression deeper than 1000)."""
    w = await _world(make_bot, github)
    many = [f"many-owner/repo-{i}" for i in range(1800)]
    github.user_installations[USER] = {77: [PRIVATE_REPO, *many[:900]], 78: many[900:]}
    jar, _ = await sign_in(w.bot)
    status, body, _ = await get(w.bot, jar, "/api/runs")
    assert status == 200 and w.mine in body and w.theirs not in body
    _, page, _ = await get(w.bot, jar, "/auth")
    assert "1801" in page
    status, body, _ = await get(w.bot, jar, "/api/spend?owner=Codertocat&format=csv")
    assert status == 200 and any("1.5" in row for row in _csv_rows(body))


async def test_a_flood_of_sign_ins_from_one_address_is_refused_before_the_store_fills(
    make_bot: Callable[..., Any], github: FakeGitHub, tmp_path: Path
) -> None:
    w = await _world(make_bot, github)
    for _ in range(MAX_LOGINS_PER_ADDRESS):
        await begin(w.bot, Jar())
    status, page, headers = await get(w.bot, Jar(), "/auth/login", headers=HTML)
    assert status == 429 and headers["Retry-After"] == "60"
    assert "Too many sign-ins" in page
    with sqlite3.connect(tmp_path / "audit.db") as conn:
        (begun,) = conn.execute("SELECT count(*) FROM sessions WHERE kind = 'login'").fetchone()
    assert begun == MAX_LOGINS_PER_ADDRESS  # the refused one wrote nothing
