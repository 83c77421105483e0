"""App mode: how many installation tokens a burst of summary refreshes costs.

Each refresh reads the repository's config, upserts the comment and may post the
spend check, all as the installation. A burst across installations mints one token
per installation, and later bursts reuse it while it is valid.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

from tests.support.bot import REPO, Bot, load_payload
from tests.support.fake_github import FakeGitHub

SECOND = "octo-org/second-repo"  # installed through installation 2
PRS = {1: (REPO, (2, 3, 4)), 2: (SECOND, (5, 6, 7))}


def event(name: str, installation: int, repo: str, pr: int) -> dict[str, Any]:
    payload = load_payload(name, number=pr, pull_request__number=pr, installation__id=installation)
    payload["repository"]["full_name"] = repo
    return payload


async def burst(bot: Bot, name: str) -> None:
    """Every PR of both installations changes at once."""
    answers = await asyncio.gather(
        *(
            bot.deliver("pull_request", event(name, installation, repo, pr))
            for installation, (repo, prs) in PRS.items()
            for pr in prs
        )
    )
    assert all(status == 200 for status, _ in answers), answers
    await bot.settle()


def installation_calls(github: FakeGitHub) -> Counter[str]:
    """Calls made as an installation, by token (every one but the App's own)."""
    return Counter(
        r.headers["Authorization"]
        for r in github.requests
        if r.headers.get("Authorization", "").startswith("token ")
    )


async def test_a_burst_of_refreshes_mints_one_token_per_installation(
    make_bot: Any, github: FakeGitHub, app_pem: str
) -> None:
    bot = await make_bot(GITHUB_TOKEN="", GITHUB_APP_ID="4242", GITHUB_PRIVATE_KEY=app_pem)
    await burst(bot, "pull_request.opened")
    for repo, prs in PRS.values():
        assert all(len(github.comments_on(repo, pr)) == 1 for pr in prs), repo
    mints = sorted(r.path for r in github.requests if r.path.endswith("/access_tokens"))
    assert mints == [f"/app/installations/{i}/access_tokens" for i in (1, 2)]
    # The App's own login (whose comments are the bot's) is asked for once, not per PR.
    assert [r.path for r in github.requests if r.path == "/app"] == ["/app"]
    # Each installation's calls (config reads, the owner's `.github` file, comment
    # upserts) all carry its one token.
    first = installation_calls(github)
    assert len(first) == 2
    owner = REPO.split("/")[0]
    for request in github.requests:
        if request.path.startswith("/repos/"):
            installation = 1 if request.path.startswith(f"/repos/{owner}/") else 2
            token = request.headers["Authorization"]
            assert re.fullmatch(rf"token ghs_fake{installation}x[12]", token), request.path

    await burst(bot, "pull_request.review_requested")  # the tokens are still valid
    for repo, prs in PRS.values():
        assert all("octocat" in github.comments_on(repo, pr)[0]["body"] for pr in prs), repo
    assert github.tokens_minted == 2
    assert set(installation_calls(github)) == set(first)


async def test_a_401_on_the_last_call_of_a_refresh_remints_once_and_redoes_only_that(
    make_bot: Any, github: FakeGitHub, app_pem: str
) -> None:
    """The spend check, posted after the comment with the same client, is refused."""
    bot = await make_bot(GITHUB_TOKEN="", GITHUB_APP_ID="4242", GITHUB_PRIVATE_KEY=app_pem)
    github.fail("POST", r"/check-runs$", 401)
    await bot.deliver("pull_request", event("pull_request.opened", 1, REPO, 2))
    await bot.drain_until(lambda: bool(github.check_runs))
    assert github.tokens_minted == 2  # the refused token was dropped, one fresh one minted
    [refused, done] = github.writes(r"/check-runs$")
    assert refused.headers["Authorization"] == "token ghs_fake1x1"
    assert done.headers["Authorization"] == "token ghs_fake1x2"
    assert len(github.writes(r"/issues/2/comments$")) == 1  # the comment was not posted again
    assert len(github.comments_on(REPO, 2)) == 1
