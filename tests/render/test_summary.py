"""The summary renderer: exact cells, exact money, and GitHub's size limit."""

from __future__ import annotations

from bot.render.summary import MARKER, SummaryOptions, render_summary
from bot.trail.state import new_state


def run(n: int, **fields: object) -> dict:
    state = new_state(f"01jd{n:022d}")
    state.update(
        kind="pr",
        repo="o/r",
        pr=1,
        head_sha="a" * 40,
        status="succeeded",
        started_at="2026-11-21T06:00:00Z",
        finished_at="2026-11-21T06:03:07Z",
        updated_at="2026-11-21T06:03:07Z",
        head_hash="f" * 64,
    )
    state.update(fields)
    return state


def test_zero_is_an_amount_and_totals_are_exact_per_currency() -> None:
    runs = [
        run(1, spend={"USD": "0"}),
        run(2, spend={"USD": "0.1", "USDC": "1.25"}),
        run(3, spend={"USD": "0.2"}),
        run(4),
    ]
    body = render_summary("o/r", 1, runs)
    rows = [line for line in body.splitlines() if line.startswith("| CI |")]
    spend_cells = [r.split(" | ")[2] for r in rows]  # newest run first; run 4 is quiet
    assert spend_cells == ["0.20 USD", "0.10 USD<br>1.25 USDC", "0.00 USD"]
    assert body.splitlines()[1] == "**0.30 USD · 1.25 USDC** spent by 3 runs of 4 on this PR"
    assert "| 3m 07s |" in rows[0]
    assert "<details><summary>1 run without spend or proofs</summary>" in body


def test_no_public_url_means_no_links() -> None:
    body = render_summary("o/r", 1, [run(1)])
    assert "](" not in body
    assert body.startswith(MARKER + "\n")


def test_huge_pr_collapses_older_runs_under_the_limit() -> None:
    runs = [run(i, spend={"USD": "1"}) for i in range(2000)]
    body = render_summary("o/r", 1, runs, SummaryOptions(public_url="https://a.example"))
    assert len(body) < 65_536
    shown = [line for line in body.splitlines() if line.startswith("| [CI](")]
    hidden = 2000 - len(shown)
    assert hidden > 0
    assert (
        f"| … {hidden} more runs with spend or proofs — [all runs](https://a.example/repos/o/r/pull/1)"
        in body
    )
    assert "**2000.00 USD** spent by 2000 runs" in body  # totals still count every run
    assert shown[0].startswith("| [CI](https://a.example/runs/01jd0000000000000000001999)")
    listed = [line for line in body.splitlines() if line.startswith("- `01jd")]
    assert listed[0].startswith("- `01jd0000000000000000001999`")  # newest first
    assert f"- … {2000 - len(listed)} more — [all runs](https://a.example/repos/o/r/pull/1)" in body


def test_same_runs_render_the_same_bytes() -> None:
    runs = [run(1), run(2, status="running", finished_at=None)]
    assert render_summary("o/r", 1, runs) == render_summary("o/r", 1, list(reversed(runs)))
    body = render_summary("o/r", 1, runs)
    assert body.splitlines()[1] == "2 runs · CI ⏳ running · CI ✅ succeeded"
    assert "- CI · ⏳ running\n" in body
    assert (
        "- `01jd0000000000000000000002` · CI · head `aaaaaaa` · started 2026-11-21 06:00 UTC"
        " · digest `ffffffffffff`"
    ) in body
