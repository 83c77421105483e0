"""Posting the `audit-bot/spend` check run (its text is `bot.render.spend_check`).

`SpendChecks` posts a check and remembers what it last posted per head SHA, so an
unchanged check is not written again.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from cachetools import LRUCache
from gidgethub import BadRequest

from bot.render.spend_check import CHECK_NAME, SpendCheck


class SpendChecks:
    """Posts the check and skips it when what it would say has not changed."""

    def __init__(self) -> None:
        self._posted: LRUCache[tuple[str, str], tuple[int, str]] = LRUCache(maxsize=4096)
        self.writes = 0

    async def publish(self, gh: Any, repo: str, check: SpendCheck) -> bool:
        """Create or update the check on its head SHA; True when GitHub was written."""
        key = (repo.lower(), check.head_sha)
        known = self._posted.get(key)
        digest = check.digest()
        if known is not None and known[1] == digest:
            return False
        check_id = known[0] if known else await _find(gh, repo, check.head_sha)
        payload = check.payload()
        if check_id is not None:
            try:
                await gh.patch(
                    f"/repos/{repo}/check-runs/{check_id}",
                    data={k: v for k, v in payload.items() if k != "head_sha"},
                )
            except BadRequest as exc:
                if int(exc.status_code) != 404:
                    raise
                check_id = None
        if check_id is None:
            created = await gh.post(f"/repos/{repo}/check-runs", data=payload)
            check_id = int(created["id"])
        self._posted[key] = (check_id, digest)
        self.writes += 1
        return True


async def _find(gh: Any, repo: str, head_sha: str) -> int | None:
    """Our check on that commit from before a restart, so it is edited, not duplicated."""
    url = f"/repos/{repo}/commits/{head_sha}/check-runs?check_name={quote(CHECK_NAME)}"
    reply = await gh.getitem(url)
    for run in reply.get("check_runs") or []:
        if run.get("name") == CHECK_NAME:
            return int(run["id"])
    return None
