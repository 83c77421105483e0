"""Addresses of the bot's own pages, as answers hand them back to a caller."""

from __future__ import annotations

from aiohttp import web


def page_base(request: web.Request, preferred: str | None) -> str:
    """`preferred` (PUBLIC_URL, or local mode's listening address), else the origin of
    the `Host` the caller used; "" when that `Host` cannot form a URL.

    Called after a commit, so it must not raise: a `Host` no URL can hold (no host, a
    port past 65535, bytes that are not UTF-8) gets "" and the links are paths alone.
    """
    if preferred:
        return preferred
    try:
        return str(request.url.origin())
    except ValueError:  # UnicodeError (IDNA) is a ValueError too
        return ""


def run_urls(base: str, run_ids: list[str]) -> list[str]:
    """The run pages of `run_ids`, in their order."""
    return [f"{base}/runs/{run_id}" for run_id in run_ids]
