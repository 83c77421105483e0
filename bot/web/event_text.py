"""What each event means, in one line for the timeline: a table from event type to
the function that words it, and the link back to GitHub or an explorer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.trail import events as ev
from bot.trail.events import Event
from bot.trail.proofs import explorer_url, network_name
from bot.web.cells import amount, short
from bot.web.html import Markup, escape, link


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
