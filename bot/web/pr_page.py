"""The PR page: the comment's headline, the PR's facts, and every run in one table.

The table follows the comment's (what ran · status · spend · proofs · time), with
room a comment lacks: spend per currency against the run's budget, each proof's
transaction linked, the start time on one line, and the run ID and trail digest.
Pure: runs in, escaped markup out; unreadable stored data shows as itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from bot.render.summary import SummaryOptions, what_ran
from bot.trail.budget import exceeds, run_budget
from bot.trail.money import Totals, display_amount
from bot.trail.proofs import explorer_url
from bot.web.cells import amount, duration, short, status_badge, time_tag
from bot.web.headline import headline_html
from bot.web.html import Markup, Template, escape, join, link

MAX_PROOF_LINKS = 3  # per row; the rest are counted and linked to the run's proofs
PROOF_ICONS = {"settled": "✅", "pending": "⏳", "failed": "❌"}

RUN_ROW = Template(
    '<tr data-run="$id"><td class="what">$what<span class="run-id">$run_id</span></td>'
    '<td data-label="Status">$status</td>'
    '<td class="num" data-label="Spend"><span>$spend</span></td>'
    '<td data-label="Proofs"><span>$proofs</span></td>'
    '<td class="when" data-label="Started">$started</td>'
    '<td class="when" data-label="Duration">$duration</td>'
    '<td class="trail" data-label="Trail"><span>'
    '<code title="trail digest (head hash)">$digest</code>$head</span></td></tr>'
)
BODY = Template(
    '<div class="run-head"><h1>$repo #$pr</h1></div>'
    '<p class="subtitle">$title</p>'
    "$headline"
    '<dl class="facts"><div><dt>Pull request</dt><dd>$prlink</dd></div>'
    '<div><dt>Runs</dt><dd id="run-count">$n</dd></div>'
    '<div><dt>Total spend</dt><dd id="total-spend">$totals</dd></div>'
    "<div><dt>Repository spend</dt><dd>$spendlink</dd></div></dl>"
    '<section class="card"><div class="table-wrap"><table class="runs"><thead><tr>'
    '<th scope="col">What ran</th><th scope="col">Status</th>'
    '<th scope="col" class="num">Spend</th><th scope="col">Proofs</th>'
    '<th scope="col">Started (UTC)</th><th scope="col">Duration</th>'
    '<th scope="col">Digest · head</th></tr></thead>'
    '<tbody id="runs">$rows</tbody></table></div>$more</section>'
)


def pr_body(
    repo: str,
    pr: int,
    runs: Sequence[Mapping[str, Any]],
    run_links: Mapping[str, str],
    github: str,
    more: bool,
    repo_link: str,
) -> Markup:
    total = Totals()
    for run in runs:
        try:
            total.merge(Totals.from_dict(run.get("spend") or {}))
        except Exception:  # stored data never breaks the page
            continue
    title_run = next((r for r in runs if r.get("kind") == "pr" and r.get("title")), None)
    pr_url = (title_run or {}).get("url") or f"{github}/{repo}/pull/{pr}"
    rows = [_row(r, run_links.get(r["id"]), repo, github) for r in runs]
    return BODY.render(
        repo=repo,
        pr=pr,
        title=(title_run or {}).get("title") or "",
        headline=_headline(runs),
        prlink=link(pr_url, f"{repo}#{pr} on GitHub"),
        n=len(runs),
        totals=join(total.display(), Markup("<br>")) if not total.is_empty() else "—",
        spendlink=link(repo_link, f"{repo} spend over time"),
        rows=join(rows),
        more=Markup('<p class="quiet">Older runs not shown.</p>') if more else "",
    )


def _headline(runs: Sequence[Mapping[str, Any]]) -> Markup:
    """The comment's headline over the runs shown. The page knows the runs' own budgets;
    budgets set in the repository's `.github/audit-bot.yml` are read from GitHub when
    the comment is written, which a page never does."""
    try:
        return headline_html(runs, SummaryOptions())
    except Exception:  # stored data never breaks the page
        return Markup("")


def _row(run: Mapping[str, Any], page: str | None, repo: str, github: str) -> Markup:
    head = run.get("head_sha")
    head_html = Markup("")
    if head:
        code = Markup(f"<code>{escape(short(head))}</code>")
        head_html = Markup(f" · {link(f'{github}/{repo}/commit/{head}', code)}")
    return RUN_ROW.render(
        id=run["id"],
        what=link(page, what_ran(run)),
        run_id=run["id"],
        status=status_badge(run.get("status")),
        spend=_spend(run),
        proofs=_proofs(run, page),
        started=time_tag(run.get("started_at")),
        duration=duration(run),
        digest=str(run.get("head_hash") or "")[:12] or "—",
        head=head_html,
    )


def _spend(run: Mapping[str, Any]) -> Markup:
    """One line per currency, against the run's own budget when it has one."""
    spend = run.get("spend") or {}
    if not spend:
        return Markup("—")
    try:
        budget = run_budget(run, {})
    except (ArithmeticError, ValueError):
        budget = {}
    lines = []
    for currency, value in sorted(spend.items()):
        limit = budget.get(currency)
        if limit is None:
            lines.append(escape(amount(value, currency)))
            continue
        try:
            over = exceeds(Decimal(str(value)), limit)
            shown = display_amount(Decimal(str(value)), "").rstrip()
        except (ArithmeticError, ValueError):
            over, shown = False, str(value)
        text = f"{shown} of {display_amount(limit, currency)}"
        lines.append(
            Template('<span class="over" title="over budget">$t ⚠️</span>').render(t=text)
            if over
            else Template('<span class="within" title="within budget">$t</span>').render(t=text)
        )
    return join(lines, Markup("<br>"))


def _proofs(run: Mapping[str, Any], page: str | None) -> Markup:
    """Each proof's transaction (the newest few), linked to its explorer when known."""
    proofs = [p for p in run.get("proofs") or [] if isinstance(p, Mapping)]
    if not proofs:
        return Markup("—")
    parts = []
    for proof in proofs[-MAX_PROOF_LINKS:][::-1]:
        tx = proof.get("tx")
        status = str(proof.get("status") or "settled")
        label = f"{tx[:6]}…{tx[-4:]}" if isinstance(tx, str) and len(tx) > 12 else (tx or "—")
        url = explorer_url(str(proof.get("network") or ""), tx) if isinstance(tx, str) else None
        shown = link(url, label, title=str(tx)) if url else Markup(f"<code>{escape(label)}</code>")
        # Only a settled payment is shown as paid; a hash alone proves nothing.
        note = "" if status == "settled" else f" {status}"
        parts.append(
            Template('<span class="proof $s">$icon $tx$note</span>').render(
                s=status, icon=PROOF_ICONS.get(status, "❔"), tx=shown, note=note
            )
        )
    hidden = len(proofs) - MAX_PROOF_LINKS
    if hidden > 0:
        target = f"{page}#proofs-h" if page else None
        parts.append(link(target, f"+{hidden} more"))
    return join(parts, Markup("<br>"))
