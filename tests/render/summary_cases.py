"""Representative PRs for the summary comment's golden files and its browser check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bot.render.log_stamp import LogStamp
from bot.render.summary import SummaryOptions
from bot.trail import checkpoint as cp
from bot.trail.budget import MonthSpend
from tests.render.test_summary import run

PUBLIC = SummaryOptions(public_url="https://audit.example.org")
LOCAL = SummaryOptions(public_url="http://127.0.0.1:8000")  # no PUBLIC_URL, local mode
BASE_TX = "0x" + "ab" * 32
Case = tuple[list[dict[str, Any]], SummaryOptions]
# the signed log's key in the cases: fixed, so the golden file's signature is too
LOG_SIGNER = cp.Signer(
    "audit.example.org/audit-bot", Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
)


def ci_only() -> Case:
    """CI on the current head and the superseded one before it; no spend, local links."""
    return [
        run(1, status="superseded", head_sha="b" * 40, head_hash="1" * 64),
        run(2, status="succeeded", private=False, head_hash="2" * 64),
        run(3, kind="review", name="octocat", status="requested", finished_at=None),
    ], LOCAL


def review_over_budget() -> Case:
    """One AI review over its own budget and over the PR's, with one settled payment."""
    proof = {"network": "eip155:8453", "tx": BASE_TX, "status": "settled"}
    return [
        run(1, status="succeeded", private=False),
        run(
            2,
            kind="review",
            name="AI review",
            private=False,
            spend={"USD": "1.20"},
            budget={"USD": "1.00"},
            proofs=[proof],
            finished_at="2026-11-21T06:01:42Z",
        ),
    ], SummaryOptions(public_url="https://audit.example.org", budget={"USD": Decimal("1.00")})


def three_currencies() -> Case:
    """Spend in USD, USDC and EUR, each against its own budget; a failed payment."""
    proofs = [
        {"network": "eip155:8453", "tx": BASE_TX, "status": "settled"},
        {"network": "eip155:8453", "tx": "0x" + "cd" * 32, "status": "pending"},
        {"network": "eip155:8453", "status": "failed"},
    ]
    return [
        run(1, status="running", finished_at=None, private=False),
        run(
            2,
            kind="agent",
            name="fix-lint",
            private=False,
            spend={"USD": "0.42", "USDC": "0.05", "EUR": "12.5"},
            budget={"USD": "1", "USDC": "0.01", "EUR": "20"},
            proofs=proofs,
            finished_at="2026-11-21T07:15:00Z",
        ),
        run(3, kind="review", name="AI review", private=False, spend={"USD": "0.78"}),
    ], SummaryOptions(
        public_url="https://audit.example.org",
        budget={"USD": Decimal("5"), "USDC": Decimal("1"), "EUR": Decimal("50")},
    )


def sixty_runs() -> Case:
    """60 runs: 20 pushes (19 superseded), 25 agent runs with spend, 15 quiet reviews."""
    runs = []
    for n in range(20):
        status = "superseded" if n < 19 else "succeeded"
        runs.append(run(n, status=status, head_sha=f"{n:040x}", private=False))
    for n in range(20, 45):
        runs.append(run(n, kind="agent", name=f"agent-{n}", private=False, spend={"USD": f"0.{n}"}))
    for n in range(45, 60):
        runs.append(run(n, kind="review", name=f"reviewer-{n}", status="requested"))
    return runs, PUBLIC


def hostile_names() -> Case:
    """Names that try markup, mentions, links, table breaks, RTL tricks and width."""
    names = [
        "@someone please look at [this](https://evil.example) | now",
        "<img src=x onerror=alert(1)> " + "W" * 120,
        "right\u202eleft\u2066x\u2069 owner/repo#2 www.evil.example",
        "a" * 300,
        "**bold** `tick` ~~s~~ <details><summary>s</summary>",
    ]
    runs = [
        run(n, kind="agent", name=name, private=False, spend={"USD": "0.01"})
        for n, name in enumerate(names)
    ]
    runs.append(run(9, kind="x" * 90, name="y" * 90, status="z" * 90))
    return runs, PUBLIC


def signed_log() -> Case:
    """A review with a payment, and the signed log's checkpoint that holds both runs
    (a fixed key, so the signature is the same on every run)."""
    root = bytes(range(32))
    note = cp.sign_note(cp.checkpoint_body(LOG_SIGNER.name, 1234, root), [LOG_SIGNER])
    runs, _ = review_over_budget()
    return runs, replace(PUBLIC, log=LogStamp(note, 1234, root))


def signed_log_pending() -> Case:
    """CI whose newest events wait for the integrator (the comment says so, no checkpoint)."""
    runs, _ = ci_only()
    return runs, replace(LOCAL, log=LogStamp(None))


def over_monthly_budget() -> Case:
    """An agent's spend takes the repository over its monthly budget in USD (the PR has
    no budget of its own); USDC stays within its monthly limit."""
    month = MonthSpend(
        "2026-11",
        limit={"USD": Decimal("200"), "USDC": Decimal("50")},
        spent={"USD": Decimal("212.40"), "USDC": Decimal("3")},
        this_pr={"USD": Decimal("15.00"), "USDC": Decimal("0.5")},
    )
    return [
        run(1, status="succeeded", private=False),
        run(
            2,
            kind="agent",
            name="refactor",
            private=False,
            spend={"USD": "15.00", "USDC": "0.5"},
            finished_at="2026-11-21T06:20:00Z",
        ),
    ], SummaryOptions(public_url="https://audit.example.org", month=month)


CASES: dict[str, Callable[[], Case]] = {
    "ci-only": ci_only,
    "review-over-budget": review_over_budget,
    "three-currencies": three_currencies,
    "sixty-runs": sixty_runs,
    "hostile-names": hostile_names,
    "signed-log": signed_log,
    "signed-log-pending": signed_log_pending,
    "over-monthly-budget": over_monthly_budget,
}
