"""The one summary comment per PR: found by marker and author, edited in place."""

from __future__ import annotations

import http

from gidgethub import BadRequest
from gidgethub.aiohttp import GitHubAPI

from bot.render.summary import MARKER


async def find_summary_comment(gh: GitHubAPI, repo: str, pr: int, login: str) -> int | None:
    """The id of the bot's own summary comment on a PR, if it has one."""
    async for comment in gh.getiter(f"/repos/{repo}/issues/{pr}/comments?per_page=100"):
        user = (comment.get("user") or {}).get("login", "")
        if user.lower() == login.lower() and MARKER in (comment.get("body") or ""):
            return int(comment["id"])
    return None


async def upsert_summary_comment(
    gh: GitHubAPI, repo: str, pr: int, body: str, known_id: int | None, login: str
) -> int:
    """Edit the summary comment, or create it if the PR has none; returns its id.

    A remembered id that GitHub no longer knows (a human deleted the comment) falls
    back to searching and then to creating one — once per change, never in a loop.
    """
    comment_id = known_id
    if comment_id is None:
        comment_id = await find_summary_comment(gh, repo, pr, login)
    if comment_id is not None:
        try:
            await gh.patch(f"/repos/{repo}/issues/comments/{comment_id}", data={"body": body})
            return comment_id
        except BadRequest as exc:
            if exc.status_code != http.HTTPStatus.NOT_FOUND:
                raise
            found = await find_summary_comment(gh, repo, pr, login)
            if found is not None and found != comment_id:
                await gh.patch(f"/repos/{repo}/issues/comments/{found}", data={"body": body})
                return found
    created = await gh.post(f"/repos/{repo}/issues/{pr}/comments", data={"body": body})
    return int(created["id"])
