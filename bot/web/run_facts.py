"""The run page's facts: its title, what it belongs to and when, and the digest
with whether its chain verified."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.web.cells import duration, time_tag, with_param
from bot.web.html import Markup, Template, escape, join, link
from bot.web.run_view import RunView

FACT = Template("<div><dt>$name</dt><dd>$value</dd></div>")
# The run ID is one word people copy: two columns wide, never broken inside.
RUN_FACT = Template('<div class="fact-id"><dt>Run</dt><dd><code class="id">$id</code></dd></div>')


def run_title(state: Mapping[str, Any]) -> str:
    kind = state.get("kind") or "run"
    name = state.get("title") if kind == "pr" else state.get("name")
    return f"{kind} run · {name}" if name else f"{kind} run"


def run_facts(view: RunView) -> Markup:
    state = view.state
    repo = state.get("repo")
    pr = state.get("pr")
    gh = view.github
    facts: list[tuple[str, Any]] = []
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
    return Markup(
        RUN_FACT.render(id=state.get("id"))
        + join(FACT.render(name=name, value=value) for name, value in facts)
    )


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
        + _log_line(view)
        + Template(
            '<p><code class="hash" title="head hash">$head</code></p>'
            '<p class="quiet">The PR comment shows the first 12 digits: <code>$short</code>. '
            "Check it yourself: <code>audit-bot verify $run</code>, or fetch the "
            "$ndjson.</p>"
        ).render(
            head=head,
            short=head[:12],
            run=view.state.get("id"),
            ndjson=link(with_param(view.events_url, "format=ndjson"), "trail as NDJSON"),
        )
    )


def _log_line(view: RunView) -> Markup:
    """Whether the run's head is in a signed checkpoint of the transparency log."""
    if view.log is None:
        return Markup("")
    if view.log.size is None:
        return Markup(
            '<p class="mark log-mark pending" data-log="pending">… Not yet in the signed log '
            '<span class="quiet">— the newest events are taken in within seconds</span></p>'
        )
    return Template(
        '<p class="mark log-mark included" data-log="$size">✓ Included in the signed log at '
        'size $size <span class="quiet">(checkpoint of $at UTC) · $proof</span></p>'
    ).render(
        size=str(view.log.size),
        at=time_tag(view.log.at),
        proof=link(view.log.proof_url, "inclusion proof"),
    )
