"""Run and PR pages as HTML (pure: state and events in, escaped markup out).

Everything shown comes from stored data, so every value goes through `Template`'s
escaping and every link through `safe_url`. The run page's panel and timeline rows
are also rendered on their own for the live updates, so a page that updates itself
shows exactly what a reload would.

This module assembles whole pages; their parts live beside it: the run page's facts
and digest (`run_facts`), its money (`run_spend`), its timeline (`run_timeline`,
worded by `event_text`), the PR page's body (`pr_page`), and the cells they share
(`cells`). `RunView`, `when`, `github_web`, `count_text` and `timeline_rows` are
re-exported for `bot.web.pages`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.web.cells import github_web as github_web
from bot.web.cells import short, status_badge, with_param
from bot.web.cells import when as when
from bot.web.html import Markup, Template, escape, link
from bot.web.pr_page import pr_body
from bot.web.run_facts import digest_section, run_facts, run_title
from bot.web.run_spend import proofs_section, spend_section
from bot.web.run_timeline import count_text, timeline_rows
from bot.web.run_view import RunView as RunView


@dataclass(frozen=True)
class Assets:
    """Where the page finds its stylesheet and script (versioned URLs)."""

    css: str
    js: str


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
    '<nav aria-label="breadcrumb">$crumbs</nav><!--account--></header>'
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


PANEL = Template(
    '<div class="run-head"><h1>$title</h1>$badge</div>'
    '<dl class="facts">$facts</dl>'
    '<div class="cards">'
    '<section class="card spend$spend_empty" aria-labelledby="spend-h">'
    '<h2 id="spend-h">Spend</h2>$spend</section>'
    '<section class="card proofs$proofs_empty" aria-labelledby="proofs-h">'
    '<h2 id="proofs-h">Proofs</h2>$proofs</section>'
    '<section class="card digest" aria-labelledby="digest-h"><h2 id="digest-h">Trail digest'
    "</h2>$digest</section></div>"
)


def run_panel(view: RunView) -> Markup:
    state = view.state
    # an empty card is one line: two of them share a row on a wide screen
    empty_spend = not state.get("spend") and not state.get("budget")
    return PANEL.render(
        title=run_title(state),
        badge=status_badge(state.get("status")),
        facts=run_facts(view),
        spend=spend_section(view),
        spend_empty=" empty" if empty_spend else "",
        proofs=proofs_section(state),
        proofs_empty="" if state.get("proofs") else " empty",
        digest=digest_section(view),
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
            ndjson=link(with_param(view.events_url, "format=ndjson"), "NDJSON"),
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


def pr_page(
    repo: str,
    pr: int,
    runs: Sequence[Mapping[str, Any]],
    run_links: Mapping[str, str],
    github: str,
    assets: Assets,
    more: bool,
    repo_link: str | None = None,
) -> Markup:
    repo_link = repo_link or f"/repos/{repo}"
    body = pr_body(repo, pr, runs, run_links, github, more, repo_link)
    crumbs = Template("$repo › #$pr").render(repo=link(repo_link, repo), pr=pr)
    # the table takes the whole width of a desktop, not the run page's column
    return page(f"{repo}#{pr} · runs", body, assets, crumbs=crumbs, attrs={"class": "wide"})
