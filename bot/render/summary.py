"""Run states → the PR's summary comment (pure).

The body depends only on the runs (never on the clock), so re-rendering an unchanged
PR yields the same bytes and the outbox can skip the write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from bot.render.format import budget_limits, span
from bot.render.plain import code, notice, plain
from bot.trail.budget import over_budget, run_budget
from bot.trail.money import Totals
from bot.trail.proofs import explorer_url
from bot.trail.times import parse_time

MARKER = "<!-- audit-bot:summary -->"
MAX_BODY_CHARS = 60_000  # GitHub refuses bodies over 65,536 characters; keep a margin
# Currencies are open-ended (any token symbol): a cell or the total line lists this many,
# then counts the rest, so no run can make one line longer than the whole comment may be.
MAX_CURRENCIES = 6

_STATUS_ICONS = {
    "open": "🔵",
    "running": "⏳",
    "requested": "👀",
    "succeeded": "✅",
    "approved": "✅",
    "failed": "❌",
    "changes_requested": "✋",
    "commented": "💬",
    "cancelled": "⚪",
    "dismissed": "⚪",
    "superseded": "⏭️",
    "merged": "🟣",
    "closed": "⚫",
}

_PROOF_ICONS = {"settled": "✅", "pending": "⏳", "failed": "❌"}

HEADER = (
    "| Run | Kind | Status | Head | Started | Duration | Spend | Proofs | Digest |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


@dataclass(frozen=True)
class SummaryOptions:
    public_url: str | None = None
    explorers: Mapping[str, str] = field(default_factory=dict)
    budget: Mapping[str, Decimal] = field(default_factory=dict)  # per PR, by currency
    notices: Sequence[str] = ()  # one-line notes (e.g. a bad repository config)
    link_token: Callable[[str], str] | None = None  # run id -> query string (private runs)
    pr_link_token: Callable[[str, int], str] | None = None  # (repo, pr) -> query string
    # per run kind, by currency; applies to runs opened without a budget of their own
    kind_budgets: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)


def render_summary(
    repo: str, pr: int, runs: Sequence[Mapping[str, Any]], options: SummaryOptions | None = None
) -> str:
    """The full comment body for a PR, newest run first, under GitHub's size limit."""
    options = options or SummaryOptions()
    runs = sorted(runs, key=lambda r: r["id"], reverse=True)
    total = Totals()
    for run in runs:
        total.merge(Totals.from_dict(run.get("spend") or {}))
    head = [MARKER, "### 🧾 Audited runs", ""]
    head.extend(f"> ⚠️ {notice(text)}" for text in options.notices)
    if options.notices:
        head.append("")
    tail = ["", _total_line(total, options.budget)]
    updated = max((r.get("updated_at") or "" for r in runs), default="")
    pr_page = _pr_page(repo, pr, options.public_url)
    if pr_page and options.pr_link_token is not None and any(_needs_token(r) for r in runs):
        pr_page += options.pr_link_token(repo, pr)
    footer = f"{len(runs)} run{'s' if len(runs) != 1 else ''}"
    if updated:
        footer += f" · updated {_when(updated)}"
    footer += " · digest = first 12 hex digits of the run's trail head hash"
    if pr_page:
        footer += f" · [all runs]({pr_page})"
    tail.append(f"<sub>{footer}</sub>")

    rows: list[str] = []
    size = sum(len(line) + 1 for line in head + tail) + len(HEADER) + 200
    for index, run in enumerate(runs):
        row = _row(run, options)
        if size + len(row) + 1 > MAX_BODY_CHARS:
            hidden = len(runs) - index
            more = f" — see [all runs]({pr_page})" if pr_page else ""
            rows.append(
                f"| … {hidden} older run{'s' if hidden != 1 else ''} not shown{more} |"
                " | | | | | | | |"
            )
            break
        rows.append(row)
        size += len(row) + 1
    return "\n".join([*head, HEADER, *rows, *tail]) + "\n"


def _row(run: Mapping[str, Any], options: SummaryOptions) -> str:
    run_id = run["id"]
    link = _run_page(run, options)
    ident = f"[{code(run_id)}]({link})" if link else code(run_id)
    status = run.get("status") or "open"
    icon = _STATUS_ICONS.get(status, "")
    kind = str(run.get("kind") or "?")
    if kind != "pr" and run.get("name"):
        kind = f"{plain(kind, 40)} ({plain(run['name'])})"
    else:
        kind = plain(kind, 40)
    head = code(str(run["head_sha"])[:7]) if run.get("head_sha") else "—"
    started = _when(run["started_at"]) if run.get("started_at") else "—"
    cells = [
        ident,
        kind,
        f"{icon} {plain(status, 40)}".strip(),
        head,
        started,
        _duration(run),
        _spend(run, options),
        _proofs(run.get("proofs") or [], options.explorers),
        code(str(run.get("head_hash") or "")[:12]),
    ]
    return "| " + " | ".join(cells) + " |"


def _spend(run: Mapping[str, Any], options: SummaryOptions) -> str:
    spend = run.get("spend") or {}
    if not spend:
        return "—"
    totals = Totals.from_dict(spend)
    shown = _listed(totals.display(), "<br>")
    budget = run_budget(run, options.kind_budgets)
    if budget:
        over = over_budget(totals, budget)
        limits = _listed(budget_limits(budget))
        shown += f"<br>of {limits}" + (" **⚠️ over budget**" if over else "")
    return shown


def _proofs(proofs: Sequence[Mapping[str, Any]], explorers: Mapping[str, str]) -> str:
    if not proofs:
        return "—"
    parts = []
    for proof in proofs[:5]:
        tx = proof.get("tx")
        status = proof.get("status", "settled")
        label = f"{tx[:6]}…{tx[-4:]}" if tx else "no transaction"
        url = explorer_url(proof["network"], tx, explorers) if tx else None
        text = f"[{plain(label)}]({url})" if url else code(label)
        if url is None and tx:
            text += f" on {plain(proof.get('network_name') or proof['network'], 40)}"
        # Only a settled payment is shown as paid; a hash alone proves nothing.
        icon = _PROOF_ICONS.get(status, "❔")
        text = f"{icon} {text}" + ("" if status == "settled" else f" {plain(status, 20)}")
        parts.append(text)
    if len(proofs) > 5:
        parts.append(f"+{len(proofs) - 5} more")
    return "<br>".join(parts)


def _total_line(total: Totals, budget: Mapping[str, Decimal]) -> str:
    if total.is_empty():
        line = "**Total spend:** —"
    else:
        line = "**Total spend:** " + _listed(total.display(), " · ")
    if budget:
        limits = _listed(budget_limits(budget))
        over = over_budget(total, budget)
        line += f" of {limits} budget"
        if over:
            line += " — **⚠️ over budget** (" + _listed(over) + ")"
    return line


def _listed(items: Sequence[str], separator: str = ", ") -> str:
    """The first `MAX_CURRENCIES` items, and how many more there are."""
    shown = separator.join(items[:MAX_CURRENCIES])
    more = len(items) - MAX_CURRENCIES
    return shown + (f"{separator}+{more} more" if more > 0 else "")


def _duration(run: Mapping[str, Any]) -> str:
    end = run.get("finished_at") or run.get("ended_at")
    if not run.get("started_at") or not end:
        return "running" if run.get("status") == "running" else "—"
    return span(run["started_at"], end)


def _when(value: str) -> str:
    """A trail time as the comment shows it; an unreadable one (a time a payload sent
    malformed) shows as "—" rather than stopping the PR's comment from updating."""
    try:
        moment: datetime = parse_time(str(value))
    except ValueError:
        return "—"
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _run_page(run: Mapping[str, Any], options: SummaryOptions) -> str | None:
    if not options.public_url:
        return None
    url = f"{options.public_url}/runs/{quote(str(run['id']), safe='')}"
    if options.link_token is not None and _needs_token(run):
        url += options.link_token(run["id"])
    return url


def _needs_token(run: Mapping[str, Any]) -> bool:
    """Only runs known to be public open without a link token (see bot.http.access)."""
    return run.get("private") is not False


def _pr_page(repo: str, pr: int, public_url: str | None) -> str | None:
    return f"{public_url}/repos/{repo}/pull/{pr}" if public_url else None
