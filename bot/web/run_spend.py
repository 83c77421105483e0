"""The run page's money: spend against budget per currency, tokens, the chart, and
the payment proofs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.trail.budget import stored_exceeds
from bot.trail.proofs import explorer_url, network_name
from bot.web.cells import amount, time_tag
from bot.web.chart import spend_chart
from bot.web.html import Markup, Template, escape, join, link
from bot.web.run_view import RunView

MAX_SPEND_ROWS = 25  # currencies in the spend table; the rest are counted in one line
MAX_PROOF_ROWS = 50  # proofs in the table, the newest; the rest are counted in one line
SPEND_ROW = Template(
    '<tr><th scope="row">$currency</th><td class="num" data-label="Spent">$spent</td>'
    '<td class="num" data-label="Budget">$budget</td><td class="flag">$flag</td></tr>'
)


def spend_section(view: RunView) -> Markup:
    state = view.state
    spend = dict(state.get("spend") or {})
    budget = dict(state.get("budget") or {})
    if not spend and not budget:
        return Markup('<p class="quiet">No spend recorded.</p>')
    rows = []
    currencies = sorted(set(spend) | set(budget))
    for currency in currencies[:MAX_SPEND_ROWS]:
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
    if len(currencies) > MAX_SPEND_ROWS:
        table = Markup(table + _more(len(currencies) - MAX_SPEND_ROWS, "currenc", "y", "ies"))
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
    for proof in proofs[-MAX_PROOF_ROWS:]:
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
    hidden = len(proofs) - MAX_PROOF_ROWS
    return Template(
        '$more<div class="table-wrap"><table class="proof-table"><thead><tr><th scope="col">Network'
        '</th><th scope="col">Transaction</th><th scope="col">Amount</th><th scope="col">'
        'Status</th><th scope="col">Time</th></tr></thead><tbody>$rows</tbody></table></div>'
    ).render(
        rows=join(rows),
        more=_more(hidden, "earlier proof", "", "s") if hidden > 0 else "",
    )


def _more(n: int, stem: str, one: str, many: str) -> Markup:
    """One line counting what a bounded table leaves out; the whole is in the JSON."""
    return Template('<p class="quiet">$n more $what not shown: see the run\'s JSON.</p>').render(
        n=f"{n:,}", what=stem + (one if n == 1 else many)
    )
