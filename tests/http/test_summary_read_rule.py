"""`GET /api/summary` follows the same read rule as the PR's runs."""

from __future__ import annotations

import asyncio

from bot.http.access import pr_link_token
from tests.support.bot import REPO, SECRET, Bot, load_payload


async def test_private_pr_summary_needs_the_pr_capability(make_bot) -> None:
    bot: Bot = await make_bot(AUDIT_ADMIN_TOKEN="admin-s3cret")
    private = load_payload("pull_request.opened", repository__private=True)
    await bot.deliver("pull_request", private)
    await bot.settle()
    path = f"/api/summary?repo={REPO}&pr=2"

    status, body = await bot.request("GET", path)
    assert status == 404 and "no summary" in body["error"]
    status, _ = await bot.request("GET", path + "&t=forged")
    assert status == 404

    token = pr_link_token(SECRET, REPO, 2)  # the link key defaults to the webhook secret
    status, body = await bot.request("GET", f"{path}&t={token}")
    assert status == 200 and body["body"].startswith("<!-- audit-bot:summary -->")
    status, _ = await bot.request("GET", path, headers={"Authorization": "Bearer admin-s3cret"})
    assert status == 200


async def test_public_pr_summary_is_open(bot: Bot) -> None:
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    await bot.settle()
    status, body = await bot.request("GET", f"/api/summary?repo={REPO}&pr=2")
    assert status == 200 and body["pr"] == 2


async def test_bad_summary_parameters_answer_400_naming_them(bot: Bot) -> None:
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    for query, parameter in (
        ("pr=2", "repo"),
        (f"repo={REPO}", "pr"),
        (f"repo={REPO}&pr=two", "pr"),
        (f"repo={REPO}&pr=0", "pr"),
        ("repo=not-a-repo&pr=2", "repo"),
        (f"repo={REPO}&pr=2&pr=3", "pr"),
        (f"repo={REPO}&pr=2&number=2", "number"),
        (f"repo={REPO}&pr=2&wait=11", "wait"),
        (f"repo={REPO}&pr=2&wait=-1", "wait"),
        (f"repo={REPO}&pr=2&format=html", "format"),
    ):
        status, body = await bot.request("GET", f"/api/summary?{query}")
        assert status == 400 and body["parameter"] == parameter, (query, body)
        assert body["error"].startswith(parameter)


async def test_wait_covers_the_comment_debounce_and_markdown_is_the_body_alone(make_bot) -> None:
    """The quick start's second curl: right after the PR's first webhook, the comment is
    still in its debounce; `wait` answers with it instead of a 404."""
    bot: Bot = await make_bot(AUDIT_COMMENT_DEBOUNCE_SECONDS="1")
    await bot.deliver("pull_request", load_payload("pull_request.opened"))
    path = f"/api/summary?repo={REPO}&pr=2"
    assert (await bot.request("GET", path))[0] == 404  # in the debounce
    status, body = await bot.request("GET", path + "&wait=5&format=markdown")
    assert status == 200
    assert isinstance(body, str) and body.startswith("<!-- audit-bot:summary -->\n")
    assert body.endswith("\n") and "{" not in body.splitlines()[0]
    status, record = await bot.request("GET", path)
    assert status == 200 and record["body"].rstrip("\n") == body.rstrip("\n")


async def test_wait_gives_up_with_the_404_and_never_waits_for_an_unreadable_pr(
    make_bot,
) -> None:
    bot: Bot = await make_bot(AUDIT_COMMENT_DEBOUNCE_SECONDS="30")
    await bot.deliver("pull_request", load_payload("pull_request.opened", repository__private=True))
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, body = await bot.request("GET", f"/api/summary?repo={REPO}&pr=2&wait=1")
    assert status == 404 and "no summary" in body["error"]
    assert loop.time() - started < 0.5  # private, no capability: answered at once
    token = pr_link_token(SECRET, REPO, 2)
    started = loop.time()
    status, _ = await bot.request("GET", f"/api/summary?repo={REPO}&pr=2&wait=1&t={token}")
    assert status == 404 and loop.time() - started >= 1.0  # readable: it waited, then 404
