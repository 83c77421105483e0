"""`GET /api/summary` follows the same read rule as the PR's runs."""

from __future__ import annotations

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
    ):
        status, body = await bot.request("GET", f"/api/summary?{query}")
        assert status == 400 and body["parameter"] == parameter, (query, body)
        assert body["error"].startswith(parameter)
