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


MINIMIZE = (
    "mutation($id: ID!) { minimizeComment(input: {subjectId: $id, classifier: OUTDATED}) "
    "{ minimizedComment { isMinimized } } }"
)


async def replace_summary_comment(
    gh: GitHubAPI, repo: str, pr: int, body: str, old_id: int, mode: str
) -> int:
    """A new summary comment at the bottom of the PR; the old one is deleted (`recreate`)
    or minimised as outdated (`hide-and-new`) first, so the PR never shows two.

    Safe to repeat after a failure: an old comment already gone is skipped, minimising
    twice changes nothing, and the new comment is posted only after the old is dealt with.
    """
    if mode == "recreate":
        try:
            await gh.delete(f"/repos/{repo}/issues/comments/{old_id}")
        except BadRequest as exc:
            if exc.status_code != http.HTTPStatus.NOT_FOUND:
                raise
    else:
        await minimize_comment(gh, repo, old_id)
    created = await gh.post(f"/repos/{repo}/issues/{pr}/comments", data={"body": body})
    return int(created["id"])


async def minimize_comment(gh: GitHubAPI, repo: str, comment_id: int) -> None:
    """Hide a comment as OUTDATED (GraphQL `minimizeComment`); a deleted one is skipped.

    Sent with `gh.post` rather than `gh.graphql`, so the call goes through the same
    client, base URL and write pacing as every REST write.
    """
    try:
        comment = await gh.getitem(f"/repos/{repo}/issues/comments/{comment_id}")
    except BadRequest as exc:
        if exc.status_code == http.HTTPStatus.NOT_FOUND:
            return
        raise
    answer = await gh.post(
        graphql_url(gh), data={"query": MINIMIZE, "variables": {"id": comment["node_id"]}}
    )
    if not isinstance(answer, dict) or answer.get("errors"):
        errors = answer.get("errors") if isinstance(answer, dict) else answer
        raise GraphQLFailed(f"minimizeComment failed: {str(errors)[:200]}")


class GraphQLFailed(LookupError):
    """GitHub refused the mutation (the outbox records why and stops retrying)."""


def graphql_url(gh: GitHubAPI) -> str:
    """`/graphql` on api.github.com; GitHub Enterprise Server serves it at `/api/graphql`."""
    base = str(getattr(gh, "base_url", "") or "").rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/v3")] + "/graphql"
    return "/graphql"
