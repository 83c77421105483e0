"""Run states → the PR's summary comment (pure).

Read at a glance, as GitHub renders it in its ~760 px comment column:

1. the **headline**, the line right under the hidden marker: total spend per currency,
   how many runs, the budget state (with no spend: the runs' states in one line);
2. a second line only when something needs action (over budget, a failed proof, a
   configuration notice);
3. a narrow table (what ran · status · spend · proofs · time) of the runs that spent
   money or carry proofs; quiet runs fold into one counted, collapsed line, superseded
   PR runs under the current one;
4. a collapsed "Trail digests and run IDs" section with the verify instructions and,
   when the log is on, the signed checkpoint that holds the runs (`bot.render.log_stamp`);
5. a footer with the "all runs" link and a hidden headline key (see `headline_key`).

The body depends only on the runs (never on the clock), so re-rendering an unchanged
PR yields the same bytes and the outbox can skip the write.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from bot.render.format import budget_limits, span
from bot.render.log_stamp import LogStamp, comment_lines
from bot.render.plain import code, notice, plain
from bot.trail.budget import MonthSpend, exceeds, over_budget, run_budget
from bot.trail.money import Totals, display_amount
from bot.trail.proofs import explorer_url
from bot.trail.times import parse_time

MARKER = "<!-- audit-bot:summary -->"
HEADLINE_KEY = "<!-- audit-bot:headline {key} -->"
_KEY_LINE = re.compile(r"^<!-- audit-bot:headline ([0-9a-f]{16}) -->$", re.M)
MAX_BODY_CHARS = 60_000  # GitHub refuses bodies over 65,536 characters; keep a margin
# Currencies are open-ended (any token symbol): a cell or the total line lists this many,
# then counts the rest, so no run can make one line longer than the whole comment may be.
MAX_CURRENCIES = 6
NAME_CHARS = 40  # "what ran" is shortened with an ellipsis past this
MAX_ROWS = 20  # table rows; the rest are counted and reachable through "all runs"
MAX_LISTED = 60  # lines in each collapsed list

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
_KIND_LABELS = {"pr": "CI", "ci": "CI"}

HEADER = "| What ran | Status | Spend | Proofs | Time |\n| --- | --- | --- | --- | --- |"

VERIFY = (
    "Each digest is the first 12 hex digits of the run's trail head hash. To check a trail: "
    "`audit-bot verify RUN` recomputes every hash and names the first edited, missing or "
    "reordered event; or download the trail (NDJSON) from the run page and "
    "`audit-bot import FILE` into an empty database, which refuses a chain that does not "
    "verify, and compare its digest with the one here."
)


@dataclass(frozen=True)
class SummaryOptions:
    public_url: str | None = None  # the base of every link (PUBLIC_URL, or the local address)
    explorers: Mapping[str, str] = field(default_factory=dict)
    budget: Mapping[str, Decimal] = field(default_factory=dict)  # per PR, by currency
    notices: Sequence[str] = ()  # one-line notes (e.g. a bad repository config)
    link_token: Callable[[str], str] | None = None  # run id -> query string (private runs)
    pr_link_token: Callable[[str, int], str] | None = None  # (repo, pr) -> query string
    # per run kind, by currency; applies to runs opened without a budget of their own
    kind_budgets: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    # the signed-log checkpoint holding the PR's runs (None: the log is not shown)
    log: LogStamp | None = None
    # the repository's month-to-date spend against its monthly budget (None: no budget)
    month: MonthSpend | None = None


@dataclass(frozen=True)
class _View:
    """The runs sorted into what the comment shows."""

    runs: list[Mapping[str, Any]]  # newest first
    current: list[Mapping[str, Any]]  # not superseded
    loud: list[Mapping[str, Any]]  # with spend or proofs: table rows
    quiet: list[Mapping[str, Any]]  # the rest, superseded PR runs excluded
    folded: list[Mapping[str, Any]]  # superseded PR runs without spend or proofs
    total: Totals


def render_summary(
    repo: str, pr: int, runs: Sequence[Mapping[str, Any]], options: SummaryOptions | None = None
) -> str:
    """The full comment body for a PR, newest run first, under GitHub's size limit."""
    options = options or SummaryOptions()
    view = _view(runs)
    headline, key = _headline(view, options)
    pr_page = _pr_page(repo, pr, options, view.runs)
    lines = [MARKER, headline]
    lines.extend(_action_lines(view, options))
    budget = MAX_BODY_CHARS - 4_000  # the headline, footer and details' framing
    table, used = _table(view, options, pr_page, budget // 2)
    if table:
        lines += ["", *table]
    lines += _quiet(view, options, pr_page, budget // 4 + (budget // 2 - used))
    lines += _trail(view, options, pr_page, budget // 4)
    lines += ["", _footer(view, pr_page), HEADLINE_KEY.format(key=key)]
    return "\n".join(lines) + "\n"


def headline(runs: Sequence[Mapping[str, Any]], options: SummaryOptions | None = None) -> list[str]:
    """The comment's headline, then its action lines (markdown, without the quote mark).

    For other surfaces (the PR page) to say exactly what the comment says.
    """
    options = options or SummaryOptions()
    view = _view(runs)
    actions = [line.removeprefix("> ") for line in _action_lines(view, options)]
    return [_headline(view, options)[0], *actions]


def headline_key(body: str) -> str | None:
    """The key of a rendered body's headline: it changes when the spend, the number of
    current runs or the budget state changes — not when a run's status does. Modes that
    post a new comment (`recreate`, `hide-and-new`) post one only when this changes."""
    found = _KEY_LINE.search(body)
    return found.group(1) if found else None


def has_spend(runs: Sequence[Mapping[str, Any]]) -> bool:
    """Some run on the PR has spend or a proof (`comment.when: spend`)."""
    return any(_is_loud(run) for run in runs)


def is_over_budget(runs: Sequence[Mapping[str, Any]], options: SummaryOptions) -> bool:
    """The PR or one of its runs is over budget, or the PR takes the repository over its
    monthly budget (`comment.when: over-budget`)."""
    view = _view(runs)
    month_over = options.month is not None and bool(options.month.pr_over())
    return (
        bool(over_budget(view.total, options.budget))
        or bool(_runs_over(view, options))
        or month_over
    )


# --- sorting the runs ----------------------------------------------------------------


def _view(runs: Sequence[Mapping[str, Any]]) -> _View:
    ordered = sorted(runs, key=lambda r: r["id"], reverse=True)
    total = Totals()
    for run in ordered:
        total.merge(Totals.from_dict(run.get("spend") or {}))
    folded = [r for r in ordered if _is_superseded(r) and not _is_loud(r)]
    current = [r for r in ordered if not _is_superseded(r)]
    loud = [r for r in ordered if _is_loud(r)]
    quiet = [r for r in current if not _is_loud(r)]
    return _View(ordered, current, loud, quiet, folded, total)


def _is_loud(run: Mapping[str, Any]) -> bool:
    return bool(run.get("spend")) or bool(run.get("proofs"))


def _is_superseded(run: Mapping[str, Any]) -> bool:
    return run.get("status") == "superseded"


def _runs_over(view: _View, options: SummaryOptions) -> list[Mapping[str, Any]]:
    return [
        run
        for run in view.loud
        if over_budget(
            Totals.from_dict(run.get("spend") or {}), run_budget(run, options.kind_budgets)
        )
    ]


# --- the headline and the action line ------------------------------------------------


def _headline(view: _View, options: SummaryOptions) -> tuple[str, str]:
    """The headline and the key of its stable part (everything but the runs' states)."""
    count = _count(len(view.current), "run")
    if view.total.is_empty() or not view.total.amounts:
        states = _states(view.current)
        stable = [count, *_budget_state(view, options)]
        text = " · ".join([count, *states, *_budget_state(view, options)]) if view.runs else ""
        return (text or "No runs on this PR yet"), _key(stable)
    spent = "**" + _listed(view.total.display(), " · ") + "**"
    spenders = len(view.loud)
    by = _count(spenders, "run") + (
        f" of {len(view.current)}" if spenders < len(view.current) else ""
    )
    parts = [f"{spent} spent by {by} on this PR", *_budget_state(view, options)]
    return " · ".join(parts), _key(parts)


def _key(parts: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _states(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """`CI ✅ succeeded`, `AI review 👀 requested ×2`: one part per (what, status)."""
    counted: dict[tuple[str, str], int] = {}
    for run in runs:
        what = _KIND_LABELS.get(str(run.get("kind")), plain(run.get("kind") or "run", 20))
        status = str(run.get("status") or "open")
        counted[(what, status)] = counted.get((what, status), 0) + 1
    parts = []
    for (what, status), n in list(counted.items())[:4]:
        icon = _STATUS_ICONS.get(status, "")
        parts.append(
            f"{what} {icon} {plain(status, 20)}".replace("  ", " ") + (f" ×{n}" if n > 1 else "")
        )
    if len(counted) > 4:
        parts.append(f"+{len(counted) - 4} more")
    return parts


def _budget_state(view: _View, options: SummaryOptions) -> list[str]:
    """The PR's budget state, then the monthly one: only its state (never the month's
    figures, which other PRs move) so the headline key changes only with the state."""
    return [*_pr_budget_state(view, options), *_month_state(options)]


def _month_state(options: SummaryOptions) -> list[str]:
    month = options.month
    over = month.pr_over() if month is not None else []
    if month is None or not over:
        return []
    limits = _listed([display_amount(month.limit[c], c) for c in over])
    return [f"⚠️ takes the repository over its {limits} monthly budget"]


def _month_line(options: SummaryOptions) -> str | None:
    """What needs action about the monthly budget, with the month's figures."""
    month = options.month
    over = month.pr_over() if month is not None else []
    if month is None or not over:
        return None
    shown = [
        f"{_amount(month.used(c))} of {display_amount(month.limit[c], c)} "
        f"({display_amount(month.this_pr.get(c, Decimal(0)), c)} on this PR)"
        for c in over
    ]
    return f"**over the repository's monthly budget** for {month.month} (UTC): " + _listed(shown)


def _pr_budget_state(view: _View, options: SummaryOptions) -> list[str]:
    if options.budget:
        over = over_budget(view.total, options.budget)
        if over:
            shown = [
                f"{_amount(view.total.amounts.get(c, Decimal(0)))} of "
                f"{display_amount(options.budget[c], c)}"
                for c in over
            ]
            return ["⚠️ " + _listed(shown) + " budget"]
        return ["within " + _listed(budget_limits(options.budget)) + " budget"]
    over_runs = len(_runs_over(view, options))
    if over_runs:
        return [f"⚠️ {_count(over_runs, 'run')} over {'its' if over_runs == 1 else 'their'} budget"]
    return []


def _action_lines(view: _View, options: SummaryOptions) -> list[str]:
    """The second line, only when something needs action; then the notices."""
    needs = []
    over = over_budget(view.total, options.budget) if options.budget else []
    if over:
        needs.append("**over the PR's budget** in " + _listed(over))
    runs_over = _runs_over(view, options)
    if runs_over:
        their = "its" if len(runs_over) == 1 else "their"
        needs.append(f"{_count(len(runs_over), 'run')} over {their} own budget")
    month = _month_line(options)
    if month:
        needs.append(month)
    failed = sum(
        1 for run in view.runs for p in run.get("proofs") or [] if p.get("status") == "failed"
    )
    if failed:
        needs.append(f"**{_count(failed, 'payment proof')} failed**")
    lines = [f"> ⚠️ {'; '.join(needs)}"] if needs else []
    lines.extend(f"> ⚠️ {notice(text)}" for text in options.notices)
    return lines


# --- the table -----------------------------------------------------------------------


def _table(
    view: _View, options: SummaryOptions, pr_page: str | None, budget: int
) -> tuple[list[str], int]:
    if not view.loud:
        return [], 0
    rows: list[str] = []
    used = len(HEADER)
    for index, run in enumerate(view.loud):
        row = _row(run, options, view)
        if index >= MAX_ROWS or used + len(row) + 1 > budget:
            hidden = len(view.loud) - index
            more = f" — [all runs]({pr_page})" if pr_page else ""
            rows.append(f"| … {_count(hidden, 'more run')} with spend or proofs{more} | | | | |")
            break
        rows.append(row)
        used += len(row) + 1
    return [HEADER, *rows], used


def _row(run: Mapping[str, Any], options: SummaryOptions, view: _View) -> str:
    return (
        "| "
        + " | ".join(
            [
                _what(run, options),
                _status(run, view),
                _spend(run, options),
                _proofs(run, options),
                _duration(run),
            ]
        )
        + " |"
    )


def what_ran(run: Mapping[str, Any]) -> str:
    """What ran, as the table's first column names it ("CI", "agent: review bot")."""
    kind = str(run.get("kind") or "run")
    name = run.get("name")
    base = _KIND_LABELS.get(kind, kind)
    if not name or kind == "pr":
        return base
    name = str(name)
    return name if base.lower() in name.lower() else f"{base}: {name}"


def _full_label(run: Mapping[str, Any]) -> str:
    """The trail list's longer label: the kind, then the whole name (up to 80)."""
    kind = str(run.get("kind") or "run")
    base = _KIND_LABELS.get(kind, kind)
    name = run.get("name")
    if not name or kind == "pr":
        return plain(base, NAME_CHARS)
    if base.lower() in str(name).lower():
        return plain(name)
    return f"{plain(base, NAME_CHARS)}: {plain(name)}"


def _what(run: Mapping[str, Any], options: SummaryOptions) -> str:
    text = plain(what_ran(run), NAME_CHARS)
    link = _run_page(run, options)
    return f"[{text}]({link})" if link else text


def _status(run: Mapping[str, Any], view: _View) -> str:
    status = str(run.get("status") or "open")
    text = f"{_STATUS_ICONS.get(status, '')} {plain(status, 20)}".strip()
    if run.get("kind") == "pr" and not _is_superseded(run) and view.folded:
        text += f"<br><sub>+{_count(len(view.folded), 'earlier head')}</sub>"
    return text


def _spend(run: Mapping[str, Any], options: SummaryOptions) -> str:
    spend = run.get("spend") or {}
    if not spend:
        return "—"
    totals = Totals.from_dict(spend)
    budget = run_budget(run, options.kind_budgets)
    lines = []
    for currency in sorted(totals.amounts):
        amount = totals.amounts[currency]
        limit = budget.get(currency)
        if limit is None:
            lines.append(display_amount(amount, currency))
        else:
            warn = " ⚠️" if exceeds(amount, limit) else ""
            lines.append(f"{_amount(amount)} of {display_amount(limit, currency)}{warn}")
    return _listed(lines, "<br>")


def _amount(amount: Decimal) -> str:
    """`1.20`: an amount without its currency (the limit beside it names it)."""
    return display_amount(amount, "").rstrip()


def _proofs(run: Mapping[str, Any], options: SummaryOptions) -> str:
    proofs = run.get("proofs") or []
    if not proofs:
        return "—"
    counted: dict[str, int] = {}
    for proof in proofs:
        status = str(proof.get("status", "settled"))
        counted[status] = counted.get(status, 0) + 1
    # Only a settled payment is shown as paid; a hash alone proves nothing.
    text = " ".join(
        f"{_PROOF_ICONS.get(status, '❔')} {n}" for status, n in sorted(counted.items())
    )
    link = _proof_link(run, proofs, options)
    return f"{text} · {link}" if link else text


def _proof_link(
    run: Mapping[str, Any], proofs: Sequence[Mapping[str, Any]], options: SummaryOptions
) -> str | None:
    """One proof: its transaction on the explorer; several: the run page's proofs."""
    if len(proofs) == 1 and proofs[0].get("tx"):
        tx = str(proofs[0]["tx"])
        url = explorer_url(proofs[0]["network"], tx, options.explorers)
        if url:
            return f"[{plain(f'{tx[:6]}…{tx[-4:]}')}]({url})"
    page = _run_page(run, options)
    return f"[view]({page}#proofs-h)" if page else None


def _proof_list(proofs: Sequence[Mapping[str, Any]], explorers: Mapping[str, str]) -> str:
    """Each proof's transaction (the first five), linked to its explorer when one is known."""
    parts = []
    for proof in proofs[:5]:
        tx = proof.get("tx")
        status = str(proof.get("status", "settled"))
        label = f"{tx[:6]}…{tx[-4:]}" if tx else "no transaction"
        url = explorer_url(proof["network"], tx, explorers) if tx else None
        text = f"[{plain(label)}]({url})" if url else code(label)
        if url is None and tx:
            text += f" on {plain(proof.get('network_name') or proof['network'], 40)}"
        # Only a settled payment is shown as paid; a hash alone proves nothing.
        icon = _PROOF_ICONS.get(status, "❔")
        parts.append(f"{icon} {text}" + ("" if status == "settled" else f" {plain(status, 20)}"))
    if len(proofs) > 5:
        parts.append(f"+{len(proofs) - 5} more")
    return ", ".join(parts)


# --- the collapsed sections ----------------------------------------------------------


def _quiet(view: _View, options: SummaryOptions, pr_page: str | None, budget: int) -> list[str]:
    quiet = len(view.quiet) + len(view.folded)
    if not quiet:
        return []
    items: list[str] = []
    for run in view.quiet:
        items.append(f"- {_quiet_line(run, options)}")
        if run.get("kind") == "pr":
            items.extend(f"  - {_quiet_line(old, options)}" for old in view.folded)
    if not any(r.get("kind") == "pr" for r in view.quiet):
        items.extend(f"- {_quiet_line(old, options)}" for old in view.folded)
    what = _count(len(view.quiet), "run") + " without spend or proofs"
    if view.folded:
        what += ", " + _count(len(view.folded), "earlier head")
    return [
        "",
        f"<details><summary>{what}</summary>",
        "",
        *_capped(items, budget, pr_page),
        "",
        "</details>",
    ]


def _quiet_line(run: Mapping[str, Any], options: SummaryOptions) -> str:
    status = str(run.get("status") or "open")
    icon = _STATUS_ICONS.get(status, "")
    parts = [_what(run, options), f"{icon} {plain(status, 20)}".strip()]
    if _is_superseded(run) and run.get("head_sha"):
        parts.append("head " + code(str(run["head_sha"])[:7]))
    duration = _duration(run)
    if duration not in ("—", "running"):
        parts.append(duration)
    return " · ".join(parts)


def _trail(view: _View, options: SummaryOptions, pr_page: str | None, budget: int) -> list[str]:
    if not view.runs:
        return []
    items = []
    for run in view.runs:
        parts = [code(run["id"]), _full_label(run)]
        if run.get("head_sha"):
            parts.append("head " + code(str(run["head_sha"])[:7]))
        if run.get("started_at"):
            parts.append("started " + _when(run["started_at"]))
        parts.append("digest " + code(str(run.get("head_hash") or "")[:12]))
        if run.get("proofs"):
            parts.append("proofs " + _proof_list(run["proofs"], options.explorers))
        items.append("- " + " · ".join(parts))
    return [
        "",
        "<details><summary>Trail digests and run IDs</summary>",
        "",
        *_capped(items, budget, pr_page),
        "",
        VERIFY,
        *(["", *comment_lines(options.log)] if options.log is not None else []),
        "",
        "</details>",
    ]


def _capped(items: list[str], budget: int, pr_page: str | None) -> list[str]:
    kept: list[str] = []
    used = 0
    for index, item in enumerate(items):
        if index >= MAX_LISTED or used + len(item) + 1 > budget:
            more = f" — [all runs]({pr_page})" if pr_page else ""
            kept.append(f"- … {len(items) - index} more{more}")
            break
        kept.append(item)
        used += len(item) + 1
    return kept


def _footer(view: _View, pr_page: str | None) -> str:
    footer = _count(len(view.runs), "run") + " recorded"
    updated = max((r.get("updated_at") or "" for r in view.runs), default="")
    if updated:
        footer += f" · updated {_when(updated)}"
    if pr_page:
        footer += f" · [all runs]({pr_page})"
    return f"<sub>{footer}</sub>"


# --- small helpers ---------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


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


def _pr_page(
    repo: str, pr: int, options: SummaryOptions, runs: Sequence[Mapping[str, Any]]
) -> str | None:
    if not options.public_url:
        return None
    page = f"{options.public_url}/repos/{repo}/pull/{pr}"
    if options.pr_link_token is not None and any(_needs_token(r) for r in runs):
        page += options.pr_link_token(repo, pr)
    return page
