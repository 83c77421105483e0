"""The `audit-bot/spend` check run: a PR's spend against its budgets, on its head SHA.

`spend_check` is pure (runs + options → what the check says); `SpendChecks` posts it
and remembers what it last posted per head SHA, so an unchanged check is not
written again. Conclusion `failure` when the PR or any of its runs is over budget,
so branch protection can require it; `success` otherwise.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from cachetools import LRUCache
from gidgethub import BadRequest

from bot.render.plain import code, notice, plain
from bot.render.summary import SummaryOptions, run_budget
from bot.trail.money import Totals, display_amount, over_budget

log = logging.getLogger(__name__)

CHECK_NAME = "audit-bot/spend"
MAX_SUMMARY = 60_000  # GitHub's output.summary limit is 65,535 characters
MAX_ROWS = 200


@dataclass(frozen=True)
class SpendCheck:
    head_sha: str
    conclusion: str  # "success" | "failure"
    title: str
    summary: str

    def payload(self) -> dict[str, Any]:
        return {
            "name": CHECK_NAME,
            "head_sha": self.head_sha,
            "status": "completed",
            "conclusion": self.conclusion,
            "output": {"title": self.title, "summary": self.summary},
        }

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.payload(), sort_keys=True).encode()).hexdigest()


def head_of(runs: Sequence[Mapping[str, Any]]) -> str | None:
    """The PR's current head: its newest open PR run, else the newest run with a head."""
    newest = sorted(runs, key=lambda r: r["id"], reverse=True)
    for wanted in (
        lambda r: r.get("kind") == "pr" and r.get("ended_at") is None,
        lambda r: r.get("kind") == "pr",
        lambda r: True,
    ):
        for run in newest:
            if wanted(run) and run.get("head_sha"):
                return str(run["head_sha"])
    return None


def _limits(budget: Mapping[str, Decimal]) -> str:
    return ", ".join(display_amount(v, c) for c, v in sorted(budget.items())) or "—"


def spend_check(runs: Sequence[Mapping[str, Any]], options: SummaryOptions) -> SpendCheck | None:
    """What the check says about these runs, or None when there is no head to put it on."""
    head = head_of(runs)
    if head is None:
        return None
    total = Totals()
    rows: list[str] = []
    runs_over: list[str] = []
    for run in sorted(runs, key=lambda r: r["id"], reverse=True):
        spend = Totals.from_dict(run.get("spend") or {})
        total.merge(spend)
        budget = run_budget(run, options)
        over = over_budget(spend, budget) if budget else []
        if over:
            runs_over.append(run["id"])
        if spend.is_empty() and not budget:
            continue
        if len(rows) < MAX_ROWS:
            shown = " · ".join(spend.display()) or "—"
            verdict = "⚠️ over budget" if over else ("✅" if budget else "")
            rows.append(
                f"| {code(run['id'])} | {plain(run.get('kind') or '?', 40)} | {shown} "
                f"| {_limits(budget)} "
                f"| {verdict} |"
            )
    pr_over = over_budget(total, options.budget) if options.budget else []
    failing = bool(pr_over or runs_over)
    spent = " · ".join(total.display()) if not total.is_empty() else None
    if failing:
        what = ", ".join(pr_over) if pr_over else f"{len(runs_over)} run(s)"
        title = f"Over budget ({what}): {spent}"
    elif spent is None:
        title = "No spend recorded"
    elif options.budget:
        title = f"{spent} of {_limits(options.budget)}"
    else:
        title = f"{spent} spent (no PR budget set)"
    lines = [f"> ⚠️ {notice(text)}" for text in options.notices]
    if lines:
        lines.append("")
    lines.append(f"**PR total:** {spent or '—'}")
    lines.append(
        f"**PR budget:** {_limits(options.budget)}"
        + (f" — **⚠️ over budget** ({', '.join(pr_over)})" if pr_over else "")
    )
    if rows:
        lines += ["", "| Run | Kind | Spend | Budget | |", "| --- | --- | --- | --- | --- |"]
        lines += rows
    summary = "\n".join(lines)
    if len(summary) > MAX_SUMMARY:
        summary = summary[:MAX_SUMMARY] + "\n\n… (truncated)"
    return SpendCheck(head, "failure" if failing else "success", title[:200], summary)


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
