"""What each event means, in one line for the timeline: a table from event type to
the function that words it, and the link back to GitHub or an explorer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.trail import events as ev
from bot.trail.events import Event
from bot.trail.proofs import explorer_url, network_name
from bot.web.cells import amount, short
from bot.web.html import Markup, escape, link

Data = Mapping[str, Any]
# (event data, the run's repository, GitHub's web base) -> the link, or None
Linker = Callable[[Data, str | None, str], str | None]


def describe(event: Event, state: Mapping[str, Any], github: str) -> Markup:
    """One line saying what the event means, with a link back to GitHub if it has one."""
    d = event.data
    text = _TEXT.get(event.type, _compact)(d)
    linker = _LINKS.get(event.type)
    url = linker(d, state.get("repo"), github) if linker else d.get("html_url")
    text = text if len(text) <= 300 else text[:299] + "…"
    return link(url, text) if url else escape(text)


def _run_opened(d: Data) -> str:
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
    return " · ".join(parts)


def _run_closed(d: Data) -> str:
    return f"ended as {d.get('status', 'closed')}"


def _run_superseded(d: Data) -> str:
    return f"superseded by head {short(d.get('by_head_sha'))}"


def _pr_updated(d: Data) -> str:
    return f"PR {d.get('action') or 'updated'}" + (f": {d['title']}" if d.get("title") else "")


def _workflow_run(d: Data) -> str:
    text = f"workflow {d.get('name') or d.get('id')}: " + _outcome(d)
    if d.get("run_attempt") and int(d["run_attempt"]) > 1:
        text += f" (attempt {d['run_attempt']})"
    return text


def _workflow_job(d: Data) -> str:
    text = f"job {d.get('name') or d.get('id')}: " + _outcome(d)
    if d.get("labels"):
        text += f" on {', '.join(map(str, d['labels']))}"
    return text


def _check_suite(d: Data) -> str:
    return f"check suite {d.get('app') or d.get('id')}: " + _outcome(d)


def _review_requested(d: Data) -> str:
    return f"review requested from {d.get('reviewer')}"


def _review_submitted(d: Data) -> str:
    state_text = str(d.get("state", "commented")).lower().replace("_", " ")
    return f"{d.get('reviewer')} {state_text}"


def _review_dismissed(d: Data) -> str:
    return f"review by {d.get('reviewer')} dismissed"


def _step_started(d: Data) -> str:
    return f"step {d.get('name')} started"


def _step_finished(d: Data) -> str:
    return f"step {d.get('name')} finished: {d.get('status', 'succeeded')}"


def _proof(d: Data) -> str:
    network = str(d.get("network") or "")
    text = f"{d.get('status', 'settled')} payment"
    if d.get("amount"):
        text += f" of {amount(d['amount'], str(d.get('currency') or ''))}"
    text += f" on {network_name(network)}" if network else ""
    if d.get("tx"):
        text += f" · {str(d['tx'])[:10]}…"
    return text


def _note(d: Data) -> str:
    return str(d.get("text") or d.get("message") or d.get("note") or _compact(d))


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


_TEXT: dict[str, Callable[[Data], str]] = {
    ev.RUN_OPENED: _run_opened,
    ev.RUN_CLOSED: _run_closed,
    ev.RUN_SUPERSEDED: _run_superseded,
    ev.PR_UPDATED: _pr_updated,
    ev.CI_WORKFLOW_RUN: _workflow_run,
    ev.CI_WORKFLOW_JOB: _workflow_job,
    ev.CI_CHECK_SUITE: _check_suite,
    ev.REVIEW_REQUESTED: _review_requested,
    ev.REVIEW_SUBMITTED: _review_submitted,
    ev.REVIEW_DISMISSED: _review_dismissed,
    ev.STEP_STARTED: _step_started,
    ev.STEP_FINISHED: _step_finished,
    ev.SPEND: _spend_text,
    ev.PROOF: _proof,
    ev.NOTE: _note,
}


def _superseded_link(d: Data, repo: str | None, github: str) -> str | None:
    sha = d.get("by_head_sha")
    return f"{github}/{repo}/commit/{sha}" if sha and repo else None


def _proof_link(d: Data, repo: str | None, github: str) -> str | None:
    tx = d.get("tx")
    return explorer_url(str(d.get("network") or ""), tx) if tx else None


# Events whose link is not GitHub's `html_url` in their data.
_LINKS: dict[str, Linker] = {
    ev.RUN_OPENED: lambda d, repo, github: d.get("url"),
    ev.RUN_SUPERSEDED: _superseded_link,
    ev.PROOF: _proof_link,
}
