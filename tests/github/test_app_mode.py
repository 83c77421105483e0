"""App mode against the fake GitHub: JWTs, cached installation tokens, bot login."""

from __future__ import annotations

import time

import jwt
import pytest

from bot.config import ConfigError, load_settings
from tests.support.bot import REPO, load_payload
from tests.support.fake_github import APP_SLUG, FakeGitHub


async def test_app_mode_posts_as_the_app_with_one_cached_token(
    make_bot, github: FakeGitHub, app_key
) -> None:
    pem, public = app_key
    bot = await make_bot(GITHUB_TOKEN="", GITHUB_APP_ID="12345", GITHUB_PRIVATE_KEY=pem)
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    await bot.settle()
    for pr in (3, 4, 5):
        await bot.deliver(
            "pull_request",
            load_payload("pull_request.opened", pull_request__number=pr),
        )
    await bot.settle()

    [comment] = github.comments_on(REPO, 2)
    assert comment["user"]["login"] == f"{APP_SLUG}[bot]"
    assert github.tokens_minted == 1  # one installation, one token for every write
    mint = next(r for r in github.requests if r.path.endswith("/access_tokens"))
    assert mint.path == "/app/installations/1/access_tokens"
    token = mint.headers["Authorization"].split(" ", 1)[1]
    claims = jwt.decode(token, public, algorithms=["RS256"])
    assert claims["iss"] == "12345"
    assert time.time() - 75 < claims["iat"] < time.time() - 45  # back-dated for drift
    assert claims["exp"] - claims["iat"] <= 600
    writes = github.writes(r"/issues/\d+/comments$")
    assert {w.headers["Authorization"] for w in writes} == {"token ghs_fake1x1"}


async def test_expired_token_is_dropped_and_reminted(make_bot, github: FakeGitHub, app_key) -> None:
    pem, _ = app_key
    bot = await make_bot(GITHUB_TOKEN="", GITHUB_APP_ID="12345", GITHUB_PRIVATE_KEY=pem)
    github.fail("POST", r"/issues/2/comments$", 401)
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    # The 401 is classified "retry with a fresh token" after a backoff; drain delivers
    # it now instead of waiting (rows leased to the loop are never stolen).
    await bot.drain_until(lambda: bool(github.comments_on(REPO, 2)))
    assert len(github.comments_on(REPO, 2)) == 1
    assert github.tokens_minted == 2


def test_private_key_forms(tmp_path, app_key) -> None:
    pem, _ = app_key
    import base64

    base = {"GITHUB_APP_ID": "7", "GITHUB_WEBHOOK_SECRET": "s"}
    as_text = load_settings({**base, "GITHUB_PRIVATE_KEY": pem})
    as_b64 = load_settings({**base, "GITHUB_PRIVATE_KEY": base64.b64encode(pem.encode()).decode()})
    escaped = load_settings({**base, "GITHUB_PRIVATE_KEY": pem.replace("\n", "\\n")})
    path = tmp_path / "key.pem"
    path.write_text(pem)
    as_path = load_settings({**base, "GITHUB_PRIVATE_KEY_PATH": str(path)})
    assert as_text.private_key == as_b64.private_key == escaped.private_key == as_path.private_key
    assert as_text.mode == "app"
    with pytest.raises(ConfigError, match="GITHUB_PRIVATE_KEY is not a PEM"):
        load_settings({**base, "GITHUB_PRIVATE_KEY": "not a key"})
    with pytest.raises(ConfigError, match="GITHUB_PRIVATE_KEY_PATH cannot be read"):
        load_settings({**base, "GITHUB_PRIVATE_KEY_PATH": str(tmp_path / "missing.pem")})
    assert "PRIVATE KEY" not in repr(as_text)


async def test_a_401_on_any_call_of_a_row_remints_the_token(
    make_bot, github: FakeGitHub, app_key
) -> None:
    """The repository config is read before the comment is posted; its 401 counts too."""
    pem, _ = app_key
    bot = await make_bot(GITHUB_TOKEN="", GITHUB_APP_ID="12345", GITHUB_PRIVATE_KEY=pem)
    github.fail("GET", r"/contents/", 401)
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    await bot.drain_until(lambda: bool(github.comments_on(REPO, 2)))
    assert len(github.comments_on(REPO, 2)) == 1
    assert github.tokens_minted == 2
