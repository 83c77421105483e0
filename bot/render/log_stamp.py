"""The signed-log checkpoint a PR's comment and spend check carry: GitHub as the witness.

GitHub keeps every edit of a comment and a check run per commit, out of the operator's
reach; a checkpoint published there pins the log's tree at that size. A later rewrite of
the log (even re-signed with the bot's own key) is then inconsistent with what GitHub
shows, and `audit-bot log witness --from-github REPO` says so.

Pure: the text in, the markdown out, and back (`published_notes`).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

MARKER = "<!-- audit-bot:checkpoint -->"
# The note sits in a fenced block right after the marker: raw in the comment's markdown.
_PUBLISHED = re.compile(re.escape(MARKER) + r"\n+```text\n(.*?)```", re.S)


@dataclass(frozen=True)
class LogStamp:
    """The newest signed checkpoint holding every event of a PR's runs, or `pending`
    (None) while the PR's newest events wait for the integrator (seconds)."""

    note: str | None
    size: int = 0
    root: bytes = b""

    @property
    def pending(self) -> bool:
        return self.note is None


def comment_lines(stamp: LogStamp) -> list[str]:
    """The lines inside the comment's collapsed details."""
    if stamp.note is None:
        return [
            "**Signed log:** this PR's newest events join the signed transparency log within "
            "seconds; this comment then shows the checkpoint that holds them."
        ]
    root = base64.b64encode(stamp.root).decode()
    return [
        f"**Signed log checkpoint:** tree size {stamp.size}, root `{root}` — every event of "
        "the runs above is a leaf of this tree. GitHub keeps this comment's edits: "
        "`audit-bot log witness --from-github OWNER/REPO` checks the log still extends it.",
        "",
        MARKER,
        "",
        "```text",
        stamp.note.rstrip("\n"),
        "```",
    ]


def check_text(stamp: LogStamp) -> str | None:
    """The check run's `output.text`: the full signed checkpoint, or None while pending."""
    if stamp.note is None:
        return None
    return "\n".join(
        [
            "### Signed transparency log checkpoint",
            "",
            f"Tree size {stamp.size}: every event of this PR's runs is a leaf of it.",
            "",
            MARKER,
            "",
            "```text",
            stamp.note.rstrip("\n"),
            "```",
        ]
    )


def published_notes(text: str) -> list[str]:
    """The signed notes a comment body or check text carries (normally one). Line ends
    are read as GitHub may serve them (`\r\n` once a body was edited in its web UI)."""
    text = (text or "").replace("\r\n", "\n")
    return [match.group(1) for match in _PUBLISHED.finditer(text)]
