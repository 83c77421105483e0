"""Run and PR pages as HTML (pure: state and events in, escaped markup out).

Everything shown comes from stored data, so every value goes through `Template`'s
escaping and every link through `safe_url`. The run page's panel and timeline rows
are also rendered on their own for the live updates, so a page that updates itself
shows exactly what a reload would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.render.format import span
from bot.trail import events as ev
from bot.trail.budget import stored_exceeds
from bot.trail.events import Event
from bot.trail.money import Totals, display_amount
from bot.trail.proofs import explorer_url, network_name
from bot.trail.times import parse_time
from bot.web.chart import SpendSeries, spend_chart
from bot.web.html import Markup, Template, escape, join, link

STATUS_CLASSES = {
    "succeeded": "good",
    "approved": "good",
    "merged": "done",
    "failed": "bad",
    "changes_requested": "bad",
    "running": "active",
    "open": "active",
    "requested": "active",
}


@dataclass(frozen=True)
class Assets:
    """Where the page finds its stylesheet and script (versioned URLs)."""

    css: str
    js: str


@dataclass(frozen=True)
class RunView:
    """What the run page shows: the stored state plus what rendering found."""

    state: Mapping[str, Any]
    recent: Sequence[Event]  # the newest events, oldest first (the timeline)
    spend: SpendSeries  # the spend events, gathered for the chart
    count: int
    verified: bool
    problem: str | None  # the first divergence, if any
    github: str  # GitHub's web base URL
    pr_link: str | None  # the PR page (with its token when the reader holds it)
    events_url: str  # the SSE / NDJSON URL (with the run's token when needed)
    live_url: str  # the fragment URL for live updates
    continued_after: int = 0  # 0: the whole trail was rehashed now; else events up to it earlier
    rehash_bound: float = 0.0  # ...at most this many seconds ago (bot/web/verified.py)


EMPTY = Markup("")
PAGE = Template(
    "<!doctype html>\n"
    '<html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<meta name="referrer" content="no-referrer">'
    '<link rel="icon" href="data:,">'
    "<title>$title</title>"
    '<link rel="stylesheet" href="$css">$script</head>'
    '<body><header class="top"><span class="brand">audit bot</span>'
    '<nav aria-label="breadcrumb">$crumbs</nav></header>'
    "<main$attrs>$body</main>"
    '<footer class="foot">$footer</footer></body></html>\n'
)


def page(
    title: str,
    body: Markup,
    assets: Assets,
    *,
    crumbs: Markup = EMPTY,
    attrs: Mapping[str, str] | None = None,
    footer: Markup = EMPTY,
    script: bool = False,
) -> Markup:
    attr_text = "".join(f' {k}="{escape(v)}"' for k, v in (attrs or {}).items())
    return PAGE.render(
        title=title,
        css=assets.css,
        script=Markup(f'<script src="{escape(assets.js)}" defer></script>') if script else "",
        crumbs=crumbs,
        attrs=Markup(attr_text),
        body=body,
        footer=footer,
    )


def error_page(status: int, heading: str, detail: str, assets: Assets) -> Markup:
    body = Template('<section class="card error"><h1>$heading</h1><p>$detail</p></section>')
    return page(f"{status} · {heading}", body.render(heading=heading, detail=detail), assets)


# --- formatting ------------------------------------------------------------------


def when(value: Any) -> str:
    """`2019-05-15 15:20:33` (UTC) from a stored time; the raw text if unreadable."""
    if not value:
        return "—"
    try:
        return parse_time(str(value)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value)


def time_tag(value: Any) -> Markup:
    if not value:
        return Markup("—")
    return Template('<time datetime="$iso">$shown</time>').render(iso=value, shown=when(value))


def duration(state: Mapping[str, Any]) -> str:
    end = state.get("finished_at") or state.get("ended_at")
    start = state.get("started_at")
    if not start:
        return "—"
    if not end:
        return "still open"
    return span(start, end)


def status_badge(status: Any) -> Markup:
    text = str(status or "open")
    tone = STATUS_CLASSES.get(text, "quiet")
    return Template('<span class="status $tone" data-status="$text">$text</span>').render(
        tone=tone, text=text
    )


def amount(value: Any, currency: str) -> str:
    try:
        return display_amount(Decimal(str(value)), currency)
    except (InvalidOperation, ValueError):
        return f"{value} {currency}"


def money_lines(spend: Mapping[str, Any]) -> Markup:
    if not spend:
        return Markup("—")
    return join((amount(v, c) for c, v in sorted(spend.items())), Markup("<br>"))


def short(sha: Any, n: int = 7) -> str:
    return str(sha)[:n] if sha else "—"


def github_web(api_url: str) -> str:
    """GitHub's web base for an API base: api.github.com → github.com; GHES strips /api/v3."""
    base = api_url.rstrip("/")
    if base == "https://api.github.com":
        return "https://github.com"
    return base.removesuffix("/api/v3")


# --- the run page ----------------------------------------------------------------

FACT = Template("<div><dt>$name</dt><dd>$value</dd></div>")
PANEL = Template(
    '<div class="run-head"><h1>$title</h1>$badge</div>'
    '<dl class="facts">$facts</dl>'
    '<div class="cards">'
    '<section class="card spend" aria-labelledby="spend-h"><h2 id="spend-h">Spend</h2>'
    "$spend</section>"
    '<section class="card proofs" aria-labelledby="proofs-h"><h2 id="proofs-h">Proofs</h2>'
    "$proofs</section>"
    '<section class="card digest" aria-labelledby="digest-h"><h2 id="digest-h">Trail digest'
    "</h2>$digest</section></div>"
)


def run_title(state: Mapping[str, Any]) -> str:
    kind = state.get("kind") or "run"
    name = state.get("title") if kind == "pr" else state.get("name")
    return f"{kind} run · {name}" if name else f"{kind} run"


def run_facts(view: RunView) -> Markup:
    state = view.state
    repo = state.get("repo")
    pr = state.get("pr")
    gh = view.github
    facts = [("Run", Markup(f"<code>{escape(state.get('id'))}</code>"))]
    if repo:
        facts.append(("Repository", link(f"{gh}/{repo}", repo)))
    if pr is not None and repo:
        pr_url = state.get("url") or f"{gh}/{repo}/pull/{pr}"
        pr_html = link(pr_url, f"#{pr}")
        if view.pr_link:
            pr_html = Markup(f"{pr_html} · {link(view.pr_link, 'all runs of this PR')}")
        facts.append(("Pull request", pr_html))
    if state.get("head_sha") and repo:
        sha = str(state["head_sha"])
        facts.append(
            ("Head", link(f"{gh}/{repo}/commit/{sha}", Markup(f"<code>{escape(sha[:7])}</code>")))
        )
    facts.append(("Kind", state.get("kind") or "—"))
    review = state.get("review") or {}
    if review.get("reviewer"):
        facts.append(("Reviewer", review["reviewer"]))
    facts += [
        ("Started", time_tag(state.get("started_at"))),
        ("Ended", time_tag(state.get("ended_at"))),
        ("Duration", duration(state)),
    ]
    return join(FACT.render(name=name, value=value) for name, value in facts)


SPEND_ROW = Template(
    '<tr><th scope="row">$currency</th><td class="num">$spent</td><td class="num">$budget</td>'
    "<td>$flag</td></tr>"
)


def spend_section(view: RunView) -> Markup:
    state = view.state
    spend = dict(state.get("spend") or {})
    budget = dict(state.get("budget") or {})
    if not spend and not budget:
        return Markup('<p class="quiet">No spend recorded.</p>')
    rows = []
    for currency in sorted(set(spend) | set(budget)):
        spent = spend.get(currency, "0")
        limit = budget.get(currency)
        over = limit is not None and stored_exceeds(spent, limit)
        flag = (
            Markup('<span class="over">⚠️ over budget</span>')
            if over
            else (Markup('<span class="within">within budget</span>') if limit else "")
        )
        rows.append(
            SPEND_ROW.render(
                currency=currency,
                spent=amount(spent, currency),
                budget=amount(limit, currency) if limit is not None else "—",
                flag=flag,
            )
        )
    table = Template(
        '<table class="money"><thead><tr><th scope="col">Currency</th><th scope="col">Spent</th>'
        '<th scope="col">Budget</th><th scope="col"></th></tr></thead><tbody>$rows</tbody></table>'
    ).render(rows=join(rows))
    tokens = state.get("tokens") or {}
    extra = Markup("")
    if tokens.get("input") or tokens.get("output"):
        extra = Template('<p class="quiet">LLM tokens: $i input · $o output</p>').render(
            i=f"{int(tokens.get('input') or 0):,}", o=f"{int(tokens.get('output') or 0):,}"
        )
    chart = spend_chart(
        view.spend,
        view.count,
        state.get("started_at"),
        state.get("updated_at"),
    )
    return Markup(table + extra + chart)


PROOF_ROW = Template(
    '<tr><td data-label="Network">$network</td><td data-label="Transaction">$tx</td>'
    '<td class="num" data-label="Amount">$amount</td><td data-label="Status">$status</td>'
    '<td data-label="Time">$at</td></tr>'
)


def proofs_section(state: Mapping[str, Any]) -> Markup:
    proofs = state.get("proofs") or []
    if not proofs:
        return Markup('<p class="quiet">No proofs recorded.</p>')
    rows = []
    for proof in proofs:
        network = str(proof.get("network") or "")
        tx = proof.get("tx")
        label = f"{tx[:10]}…{tx[-6:]}" if isinstance(tx, str) and len(tx) > 20 else (tx or "—")
        url = explorer_url(network, tx) if tx else None
        code = Markup(f"<code>{escape(label)}</code>")
        tx_html = link(url, label, title=str(tx)) if url else code
        status = str(proof.get("status") or "settled")
        currency = str(proof.get("currency") or "")
        money = amount(proof["amount"], currency) if proof.get("amount") else "—"
        rows.append(
            PROOF_ROW.render(
                network=network_name(network) if network else "—",
                tx=tx_html,
                amount=money,
                status=Template('<span class="proof $s">$s</span>').render(s=status),
                at=time_tag(proof.get("at")),
            )
        )
    return Template(
        '<div class="table-wrap"><table class="proof-table"><thead><tr><th scope="col">Network'
        '</th><th scope="col">Transaction</th><th scope="col">Amount</th><th scope="col">'
        'Status</th><th scope="col">Time</th></tr></thead><tbody>$rows</tbody></table></div>'
    ).render(rows=join(rows))


def _rehashed(view: RunView) -> str:
    """When the events behind the mark were rehashed, without claiming more than was done."""
    n = view.count
    if not view.continued_after:
        return f"all {n:,} event{'s' if n != 1 else ''} rehashed just now"
    within = f"within the last {view.rehash_bound:g} s"
    new = n - view.continued_after
    if new <= 0:
        return f"all {n:,} event{'s' if n != 1 else ''} rehashed {within}"
    return (
        f"the newest {new:,} event{'s' if new != 1 else ''} rehashed just now, all {n:,} {within}"
    )


def digest_section(view: RunView) -> Markup:
    head = str(view.state.get("head_hash") or "")
    if view.verified and view.problem is None:
        mark = Template(
            '<p class="mark ok" data-verified="true">✓ Chain verified <span class="quiet">'
            "— $how</span></p>"
        ).render(how=_rehashed(view))
    else:
        mark = Template(
            '<p class="mark broken" data-verified="false">✗ Chain does not verify: $why</p>'
        ).render(why=view.problem or "unknown")
    return Markup(
        mark
        + Template(
            '<p><code class="hash" title="head hash">$head</code></p>'
            '<p class="quiet">The PR comment shows the first 12 digits: <code>$short</code>. '
            "Check it yourself: <code>audit-bot verify $run</code>, or fetch the "
            "$ndjson.</p>"
        ).render(
            head=head,
            short=head[:12],
            run=view.state.get("id"),
            ndjson=link(_with(view.events_url, "format=ndjson"), "trail as NDJSON"),
        )
    )


def _with(url: str, param: str) -> str:
    return url + ("&" if "?" in url else "?") + param


def run_panel(view: RunView) -> Markup:
    return PANEL.render(
        title=run_title(view.state),
        badge=status_badge(view.state.get("status")),
        facts=run_facts(view),
        spend=spend_section(view),
        proofs=proofs_section(view.state),
        digest=digest_section(view),
    )


ROW = Template(
    '<tr data-seq="$seq" data-type="$type"><td class="num">$seq</td><td>$at</td>'
    '<td><span class="etype">$type</span></td><td>$detail</td><td class="src">$source</td></tr>'
)


def timeline_rows(events: Iterable[Event], state: Mapping[str, Any], github: str) -> Markup:
    return join(
        ROW.render(
            seq=e.seq,
            at=time_tag(e.at),
            type=e.type,
            detail=describe(e, state, github),
            source=source_cell(e),
        )
        for e in events
    )


def run_page(view: RunView, assets: Assets) -> Markup:
    state = view.state
    shown = len(view.recent)
    hidden = view.count - shown
    earlier = (
        Template(
            '<p class="quiet">$hidden earlier event$s not shown here: read the whole trail '
            "as $ndjson.</p>"
        ).render(
            hidden=f"{hidden:,}",
            s="" if hidden == 1 else "s",
            ndjson=link(_with(view.events_url, "format=ndjson"), "NDJSON"),
        )
        if hidden > 0
        else ""
    )
    body = Template(
        '<section id="panel" aria-live="polite">$panel</section>'
        '<section class="timeline-section" aria-labelledby="timeline-h">'
        '<h2 id="timeline-h">Timeline <small id="count">$count</small>'
        ' <span id="live" class="live" hidden></span></h2>$earlier'
        '<div class="table-wrap"><table class="timeline"><thead><tr><th scope="col">#</th>'
        '<th scope="col">Time (UTC)</th><th scope="col">Event</th><th scope="col">Details</th>'
        '<th scope="col">Source</th></tr></thead><tbody id="timeline">$rows</tbody></table></div>'
        "</section>"
    ).render(
        panel=run_panel(view),
        count=count_text(view.count),
        earlier=earlier,
        rows=timeline_rows(view.recent, state, view.github),
    )
    repo = state.get("repo") or "?"
    crumbs = Markup(escape(repo))
    if state.get("pr") is not None:
        crumbs = Markup(
            f"{crumbs} › "
            + (link(view.pr_link, f"#{state['pr']}") if view.pr_link else escape(f"#{state['pr']}"))
        )
    crumbs = Markup(f"{crumbs} › run <code>{escape(short(state.get('id'), 10))}…</code>")
    attrs = {
        "id": "run",
        "data-run": str(state.get("id")),
        "data-seq": str(state.get("seq") or 0),
        "data-open": "1" if state.get("ended_at") is None else "0",
        "data-events": view.events_url,
        "data-live": view.live_url,
    }
    footer = Template("Run $id · JSON: $json · events: $events").render(
        id=state.get("id"),
        json=link(view.events_url.replace("/events", "", 1), "state"),
        events=link(view.events_url, "trail"),
    )
    title = f"{run_title(state)} · {repo}" + (
        f"#{state['pr']}" if state.get("pr") is not None else ""
    )
    return page(title, body, assets, crumbs=crumbs, attrs=attrs, footer=footer, script=True)


def count_text(n: int) -> str:
    return f"{n:,} event{'s' if n != 1 else ''}"


# --- timeline details --------------------------------------------------------------


def describe(event: Event, state: Mapping[str, Any], github: str) -> Markup:
    """One line saying what the event means, with a link back to GitHub if it has one."""
    d = event.data
    t = event.type
    repo = state.get("repo")
    url = d.get("html_url")
    if t == ev.RUN_OPENED:
        parts = [f"opened {d.get('kind') or 'a'} run"]
        if d.get("head_sha"):
            parts.append(f"head {short(d['head_sha'])}")
        if d.get("author"):
            parts.append(f"by {d['author']}")
        if d.get("reviewer"):
            parts.append(f"reviewer {d['reviewer']}")
        if d.get("trigger"):
            parts.append(f"({d['trigger']})")
        if d.get("budget"):
            parts.append("budget " + ", ".join(amount(v, c) for c, v in d["budget"].items()))
        text, url = " · ".join(parts), d.get("url")
    elif t == ev.RUN_CLOSED:
        text = f"ended as {d.get('status', 'closed')}"
    elif t == ev.RUN_SUPERSEDED:
        sha = d.get("by_head_sha")
        text = f"superseded by head {short(sha)}"
        url = f"{github}/{repo}/commit/{sha}" if sha and repo else None
    elif t == ev.PR_UPDATED:
        text = f"PR {d.get('action') or 'updated'}" + (f": {d['title']}" if d.get("title") else "")
    elif t == ev.CI_WORKFLOW_RUN:
        text = f"workflow {d.get('name') or d.get('id')}: " + _outcome(d)
        if d.get("run_attempt") and int(d["run_attempt"]) > 1:
            text += f" (attempt {d['run_attempt']})"
    elif t == ev.CI_WORKFLOW_JOB:
        text = f"job {d.get('name') or d.get('id')}: " + _outcome(d)
        if d.get("labels"):
            text += f" on {', '.join(map(str, d['labels']))}"
    elif t == ev.CI_CHECK_SUITE:
        text = f"check suite {d.get('app') or d.get('id')}: " + _outcome(d)
    elif t == ev.REVIEW_REQUESTED:
        text = f"review requested from {d.get('reviewer')}"
    elif t == ev.REVIEW_SUBMITTED:
        state_text = str(d.get("state", "commented")).lower().replace("_", " ")
        text = f"{d.get('reviewer')} {state_text}"
    elif t == ev.REVIEW_DISMISSED:
        text = f"review by {d.get('reviewer')} dismissed"
    elif t == ev.STEP_STARTED:
        text = f"step {d.get('name')} started"
    elif t == ev.STEP_FINISHED:
        text = f"step {d.get('name')} finished: {d.get('status', 'succeeded')}"
    elif t == ev.SPEND:
        text = _spend_text(d)
    elif t == ev.PROOF:
        tx = d.get("tx")
        network = str(d.get("network") or "")
        text = f"{d.get('status', 'settled')} payment"
        if d.get("amount"):
            text += f" of {amount(d['amount'], str(d.get('currency') or ''))}"
        text += f" on {network_name(network)}" if network else ""
        if tx:
            text += f" · {str(tx)[:10]}…"
        url = explorer_url(network, tx) if tx else None
    elif t == ev.NOTE:
        text = str(d.get("text") or d.get("message") or d.get("note") or _compact(d))
    else:
        text = _compact(d)
    text = text if len(text) <= 300 else text[:299] + "…"
    return link(url, text) if url else escape(text)


def _outcome(d: Mapping[str, Any]) -> str:
    status = d.get("status") or "?"
    return f"{status} / {d['conclusion']}" if d.get("conclusion") else str(status)


def _spend_text(d: Mapping[str, Any]) -> str:
    parts = [amount(d.get("amount"), str(d.get("currency") or "")), str(d.get("category", "other"))]
    if d.get("model"):
        parts.append(str(d["model"]))
    if d.get("input_tokens") or d.get("output_tokens"):
        parts.append(
            f"{int(d.get('input_tokens') or 0):,} in / {int(d.get('output_tokens') or 0):,} out"
        )
    if d.get("description"):
        parts.append(str(d["description"]))
    return " · ".join(parts)


def _compact(data: Mapping[str, Any]) -> str:
    import json

    return json.dumps(data, separators=(", ", ": "), ensure_ascii=False, default=str)


def source_cell(event: Event) -> Markup:
    src = event.source
    kind = str(src.get("kind") or "?")
    what = ".".join(str(x) for x in (src.get("event"), src.get("action")) if x)
    who = src.get("actor")
    text = kind + (f" · {what}" if what else "") + (f" · {who}" if who else "")
    return Template('<span title="$id">$text</span>').render(
        id=f"{kind} {src.get('id', '')}", text=text
    )


# --- the PR page -------------------------------------------------------------------

RUN_ROW = Template(
    '<tr data-run="$id"><td>$link</td><td data-label="Kind">$kind</td>'
    '<td data-label="Status">$status</td><td data-label="Head"><code>$head</code></td>'
    '<td data-label="Started">$started</td><td data-label="Duration">$duration</td>'
    '<td class="num" data-label="Spend">$spend</td><td class="num" data-label="Proofs">$proofs</td>'
    '<td data-label="Digest"><code>$digest</code></td></tr>'
)


def pr_page(
    repo: str,
    pr: int,
    runs: Sequence[Mapping[str, Any]],
    run_links: Mapping[str, str],
    github: str,
    assets: Assets,
    more: bool,
) -> Markup:
    total = Totals()
    for run in runs:
        try:
            total.merge(Totals.from_dict(run.get("spend") or {}))
        except Exception:  # stored data never breaks the page
            continue
    title_run = next((r for r in runs if r.get("kind") == "pr" and r.get("title")), None)
    pr_url = (title_run or {}).get("url") or f"{github}/{repo}/pull/{pr}"
    rows = [
        RUN_ROW.render(
            id=r["id"],
            link=link(run_links.get(r["id"]), Markup(f"<code>{escape(r['id'])}</code>")),
            kind=_kind(r),
            status=status_badge(r.get("status")),
            head=short(r.get("head_sha")),
            started=time_tag(r.get("started_at")),
            duration=duration(r),
            spend=money_lines(r.get("spend") or {}),
            proofs=len(r.get("proofs") or []) or "—",
            digest=str(r.get("head_hash") or "")[:12],
        )
        for r in runs
    ]
    totals = join(total.display(), Markup("<br>")) if not total.is_empty() else "—"
    body = Template(
        '<div class="run-head"><h1>$repo #$pr</h1></div>'
        '<p class="subtitle">$title</p>'
        '<dl class="facts"><div><dt>Pull request</dt><dd>$prlink</dd></div>'
        '<div><dt>Runs</dt><dd id="run-count">$n</dd></div>'
        '<div><dt>Total spend</dt><dd id="total-spend">$totals</dd></div></dl>'
        '<section class="card"><div class="table-wrap"><table class="runs"><thead><tr>'
        '<th scope="col">Run</th>'
        '<th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Head</th>'
        '<th scope="col">Started (UTC)</th><th scope="col">Duration</th><th scope="col">Spend</th>'
        '<th scope="col">Proofs</th><th scope="col">Digest</th></tr></thead>'
        '<tbody id="runs">$rows</tbody></table></div>$more</section>'
    ).render(
        repo=repo,
        pr=pr,
        title=(title_run or {}).get("title") or "",
        prlink=link(pr_url, f"{repo}#{pr} on GitHub"),
        n=len(runs),
        totals=totals,
        rows=join(rows),
        more=Markup('<p class="quiet">Older runs not shown.</p>') if more else "",
    )
    crumbs = Template("$repo › #$pr").render(repo=repo, pr=pr)
    return page(f"{repo}#{pr} · runs", body, assets, crumbs=crumbs)


def _kind(run: Mapping[str, Any]) -> str:
    kind = str(run.get("kind") or "?")
    name = run.get("name")
    if name and kind != "pr":
        return f"{kind} ({name})"
    return kind
