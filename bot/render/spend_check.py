"""The `audit-bot/spend` check run's text: a PR's spend against its budgets.

Pure (runs + options → what the check says); `bot.github.checks` posts it.
Conclusion `failure` when the PR or any of its runs is over budget, or when the PR
takes the repository over its monthly budget (`bot.trail.budget.MonthSpend`), so
branch protection can require it; `success` otherwise.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.render.format import budget_limits
from bot.render.log_stamp import check_text
from bot.render.plain import code, notice, plain
from bot.render.summary import SummaryOptions
from bot.trail.budget import MonthSpend, over_budget, run_budget
from bot.trail.money import Totals, display_amount

CHECK_NAME = "audit-bot/spend"
MAX_SUMMARY = 60_000  # GitHub's output.summary limit is 65,535 characters
MAX_ROWS = 200


@dataclass(frozen=True)
class SpendCheck:
    head_sha: str
    conclusion: str  # "success" | "failure"
    title: str
    summary: str
    # the signed log checkpoint holding the PR's runs when written (`bot.render.log_stamp`)
    text: str | None = None

    def payload(self) -> dict[str, Any]:
        output = {"title": self.title, "summary": self.summary}
        if self.text is not None:
            output["text"] = self.text
        return {
            "name": CHECK_NAME,
            "head_sha": self.head_sha,
            "status": "completed",
            "conclusion": self.conclusion,
            "output": output,
        }

    def digest(self) -> str:
        """What the check says about spend: the checkpoint in `text` is left out, so a
        grown log alone never costs a write; it rides along when the spend changes."""
        payload = self.payload()
        payload["output"].pop("text", None)
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


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
    return ", ".join(budget_limits(budget)) or "—"


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
        budget = run_budget(run, options.kind_budgets)
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
    month_over = options.month.pr_over() if options.month is not None else []
    failing = bool(pr_over or runs_over or month_over)
    spent = " · ".join(total.display()) if not total.is_empty() else None
    if failing and not pr_over and not runs_over:
        title = f"Over the repository's monthly budget ({', '.join(month_over)}): {spent}"
    elif failing:
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
    if options.month is not None:
        lines.append(_month_text(options.month))
    if rows:
        lines += ["", "| Run | Kind | Spend | Budget | |", "| --- | --- | --- | --- | --- |"]
        lines += rows
    summary = "\n".join(lines)
    if len(summary) > MAX_SUMMARY:
        summary = summary[:MAX_SUMMARY] + "\n\n… (truncated)"
    text = check_text(options.log) if options.log is not None else None
    return SpendCheck(head, "failure" if failing else "success", title[:200], summary, text)


def _month_text(month: MonthSpend) -> str:
    """The repository's month so far against its monthly budget, per currency."""
    parts = []
    for currency in sorted(month.limit):
        limit = display_amount(month.limit[currency], currency)
        used = display_amount(month.used(currency), currency)
        mine = display_amount(month.this_pr.get(currency, Decimal(0)), currency)
        parts.append(f"{used} of {limit} ({mine} on this PR)")
    over = month.pr_over()
    verdict = (
        f" — **⚠️ this PR takes the repository over its monthly budget** ({', '.join(over)})"
        if over
        else ""
    )
    return f"**Repository, {month.month} (UTC):** " + ", ".join(parts) + verdict
