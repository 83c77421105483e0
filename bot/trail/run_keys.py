"""Natural keys of runs: how a webhook finds the run it belongs to again.

A PR run is keyed by repository, PR number and head SHA; a review run by repository,
PR number and reviewer. Case-insensitive where GitHub is. Pure: webhooks use them
to open runs and `audit-bot import` to restore them, without loading the handlers.
"""

from __future__ import annotations


def pr_run_key(repo: str, pr: int, head_sha: str) -> str:
    """The key of a PR's run on one head commit."""
    return f"pr:{repo.lower()}#{pr}@{head_sha}"


def review_run_key(repo: str, pr: int, reviewer: str) -> str:
    """The key of one reviewer's review run on a PR."""
    return f"review:{repo.lower()}#{pr}:{reviewer.lower()}"
