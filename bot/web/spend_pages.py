"""The spend pages: `/repos/{owner}/{repo}` and `/repos/{owner}` (every repository).

Spend this month, a chart of spend per week over the last 26 weeks (one inline SVG per
currency, bars stacked by category, drawn like the run page's chart), the ten most
expensive PRs and runs of those weeks, spend by model, a CSV link, and on the owner's
page a table of its repositories. Figures come from the per-day rollup through the
same query and the same read rule as `GET /api/spend`: a private run the caller may
not read is in no figure. Amounts shown are the exact decimals; floats only place
pixels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot import keys
from bot.github.repo_config import read_saved, saved_name, saved_private
from bot.http import params as query
from bot.http.access import LINK_PARAM, reader_for
from bot.http.errors import ApiError, add_html_errors
from bot.http.spend import OWNER, spend_for
from bot.trail.budget import exceeds
from bot.trail.money import CATEGORIES, EXACT, display_amount
from bot.trail.spend_rollup import (
    Bucket,
    SpendQuery,
    day_of,
    epoch_day,
    today_number,
    totals,
    week_start,
)
from bot.web import render
from bot.web.chart import COLOURS, EXTRA_COLOURS, LEGEND
from bot.web.html import Markup, Template, escape, join, link
from bot.web.pages import STATIC, html

WEEKS = 26
TOP = 10
WIDTH, HEIGHT, PAD = 640, 180, 8


def _colour(category: str, index: int) -> str:
    return COLOURS.get(category) or EXTRA_COLOURS[index % len(EXTRA_COLOURS)]


def _money(amounts: Sequence[dict[str, str]]) -> Markup:
    if not amounts:
        return Markup("—")
    return join(
        (display_amount(Decimal(t["amount"]), t["currency"]) for t in amounts), Markup("<br>")
    )


CHART = Template(
    '<figure class="chart" data-currency="$currency">'
    '<div class="chart-head"><strong>$total</strong> <span class="quiet">spent in $currency '
    "per week, last $weeks weeks</span></div>"
    '<svg viewBox="0 0 $width $height" role="img" aria-labelledby="$uid-t $uid-d" '
    'preserveAspectRatio="none" class="spend-chart weekly">'
    '<title id="$uid-t">$title</title><desc id="$uid-d">$desc</desc>$body</svg>'
    '<div class="chart-axis"><span>$start</span><span>$end</span></div>'
    '<figcaption><ul class="legend">$legend</ul></figcaption></figure>'
)


def weekly_chart(buckets: Sequence[Bucket], first_week: int, uid: str) -> Markup:
    """One stacked bar chart per currency: a bar a week, a band per category."""
    figures = []
    for index, currency in enumerate(sorted({b.currency for b in buckets})):
        mine = [b for b in buckets if b.currency == currency]
        figures.append(_weekly_figure(currency, mine, first_week, f"{uid}-{index}"))
    return join(figures)


def _weekly_figure(currency: str, buckets: Sequence[Bucket], first_week: int, uid: str) -> Markup:
    seen = {b.key for b in buckets}
    categories = [c for c in CATEGORIES if c in seen] + sorted(seen - set(CATEGORIES))
    weeks: dict[int, dict[str, Decimal]] = {}
    for b in buckets:
        slot = (epoch_day(b.start) - first_week) // 7
        weeks.setdefault(slot, {})[b.key] = b.amount
    per_week = {slot: _exact_sum(v.values()) for slot, v in weeks.items()}
    highest = float(max(per_week.values(), default=Decimal(0))) or 1.0
    bar = WIDTH / WEEKS
    plot = HEIGHT - PAD
    rects = []
    for slot, amounts in sorted(weeks.items()):
        y = float(HEIGHT)
        for index, category in enumerate(categories):
            value = amounts.get(category)
            if not value:
                continue
            h = float(value) / highest * plot
            y -= h
            rects.append(
                f'<rect x="{slot * bar + 1:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" '
                f'height="{h:.1f}" fill="{_colour(category, index)}" fill-opacity="0.85">'
                f"<title>{escape(category)}: {escape(display_amount(value, currency))}</title>"
                "</rect>"
            )
    by_category = {c: _exact_sum(b.amount for b in buckets if b.key == c) for c in categories}
    total = display_amount(_exact_sum(by_category.values()), currency)
    legend = join(
        LEGEND.render(colour=_colour(c, i), category=c, amount=display_amount(a, currency))
        for i, (c, a) in enumerate(by_category.items())
    )
    first = date(1970, 1, 1) + timedelta(days=first_week)
    last = first + timedelta(days=7 * WEEKS - 1)
    axis = (
        f'<line x1="0" y1="{HEIGHT}" x2="{WIDTH}" y2="{HEIGHT}" class="axis" '
        'vector-effect="non-scaling-stroke"/>'
    )
    return CHART.render(
        currency=currency,
        total=total,
        weeks=WEEKS,
        width=WIDTH,
        height=HEIGHT,
        uid=uid,
        title=f"Spend per week in {currency}: {total} over {WEEKS} weeks",
        desc="; ".join(f"{c}: {display_amount(a, currency)}" for c, a in by_category.items()),
        body=Markup("".join(rects) + axis),
        start=f"week of {first.isoformat()}",
        end=last.isoformat(),
        legend=legend,
    )


def _exact_sum(amounts: Iterable[Decimal]) -> Decimal:
    """A sum that never rounds (`sum()` would, in the default 28-digit context)."""
    total = Decimal(0)
    for amount in amounts:
        total = EXACT.add(total, amount)
    return total


def _ranked(buckets: Sequence[Bucket]) -> list[Bucket]:
    return sorted(buckets, key=lambda b: (-b.amount, b.currency, b.key))[:TOP]


TABLE = Template(
    '<section class="card"><h2>$heading</h2><div class="table-wrap"><table class="runs spend">'
    "<thead><tr>$head</tr></thead><tbody>$rows</tbody></table></div></section>"
)


def _table(heading: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Markup:
    if not rows:
        return Template(
            '<section class="card"><h2>$h</h2><p class="quiet">None.</p></section>'
        ).render(h=heading)
    head = join(CELL_HEAD.render(name=c) for c in columns)
    body = join(
        Markup(
            "<tr>" + join(_cell(c, cell) for c, cell in zip(columns, row, strict=True)) + "</tr>"
        )
        for row in rows
    )
    return TABLE.render(heading=heading, head=head, rows=body)


CELL_HEAD = Template('<th scope="col">$name</th>')
CELL = Template('<td data-label="$label">$value</td>')
NUM_CELL = Template('<td data-label="$label" class="num">$value</td>')


def _cell(column: str, value: Any) -> Markup:
    """A table cell (escaped unless `value` is Markup); amounts and counts right-aligned."""
    template = NUM_CELL if column in ("Spend", "Runs") else CELL
    return template.render(label=column, value=value)


class Scope:
    """The repository or owner a page shows, and how its links carry the caller's token."""

    def __init__(self, owner: str, repo: str | None, token: str | None) -> None:
        self.owner = owner
        self.repo = repo
        self.name = f"{owner}/{repo}" if repo else owner
        self.suffix = "?" + urlencode({LINK_PARAM: token}) if token else ""
        self.token = token

    def query(self, since: int, until: int, **kw: Any) -> SpendQuery:
        where = {"repo": self.name} if self.repo else {"owner": self.owner}
        return SpendQuery(since_day=since, until_day=until, **where, **kw)

    def csv_url(self, since: int, until: int) -> str:
        where = {"repo": self.name} if self.repo else {"owner": self.owner}
        params = {
            **where,
            "since": _iso(since),
            "until": _iso(until),
            "interval": "week",
            "by": "category",
            "format": "csv",
        }
        if self.token:
            params[LINK_PARAM] = self.token
        return "/api/spend?" + urlencode(params)


def _iso(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()


async def _figures(request: web.Request, scope: Scope) -> dict[str, Any]:
    today = today_number()
    until = week_start(today) + 7
    since = until - 7 * WEEKS
    month_start = epoch_day(day_of(today).replace(day=1))
    period = scope.query(since, until, interval="all")
    month = scope.query(month_start, today + 1, interval="all")
    return {
        "since": since,
        "until": until,
        "month": await spend_for(request, month),
        "month_budget": await _month_budget(request, scope),
        "weekly": await spend_for(request, scope.query(since, until, by="category")),
        "prs": _ranked(await spend_for(request, replace(period, by="pr"))),
        "runs": _ranked(await spend_for(request, replace(period, by="run"))),
        "models": _ranked(await spend_for(request, replace(period, by="model"))),
        "repos": await spend_for(request, replace(period, by="repo")) if not scope.repo else [],
    }


async def _month_budget(request: web.Request, scope: Scope) -> dict[str, Decimal]:
    """The repository's monthly budget as the bot last read it: for a public repository
    to anyone, for a private one only to callers who may read all of its runs (the
    admin token, a reporter credential for it), since the budget is its file's."""
    if not scope.repo:
        return {}
    saved = await request.app[keys.STORE].get_state(saved_name(scope.name))
    budget = dict(read_saved(saved).month_budget)
    if not budget or not saved_private(saved):
        return budget
    reader = await reader_for(request)
    if reader.admin or (reader.principal is not None and reader.principal.may_write(scope.name)):
        return budget
    return {}


def month_against(month: Sequence[Bucket], budget: dict[str, Decimal]) -> Markup:
    """This month's spend per currency, against the monthly budget where one is set."""
    spent = {t["currency"]: Decimal(t["amount"]) for t in totals(month)}
    if not budget:
        return _money(totals(month))
    lines = []
    for currency in sorted(set(spent) | set(budget)):
        amount = spent.get(currency, Decimal(0))
        if currency not in budget:
            lines.append(escape(display_amount(amount, currency)))
            continue
        limit = budget[currency]
        text = f"{display_amount(amount, '').rstrip()} of {display_amount(limit, currency)}"
        if exceeds(amount, limit):
            lines.append(Template('<span class="over">$t ⚠️ over budget</span>').render(t=text))
        else:
            lines.append(escape(text + " budget"))
    return join(lines, Markup("<br>"))


BODY = Template(
    '<div class="run-head"><h1>$name</h1><span class="quiet">spend</span></div>'
    '<dl class="facts spend-facts">'
    '<div><dt>This month (UTC)</dt><dd id="month-spend">$month</dd></div>'
    '<div><dt>Last $weeks weeks</dt><dd id="period-spend">$period</dd></div>'
    "<div><dt>Export</dt><dd>$csv</dd></div></dl>"
    '<section class="card weekly-chart"><h2>Spend per week</h2>$chart</section>'
    "$repos$prs$runs$models"
)


def spend_page(scope: Scope, figures: dict[str, Any], assets: render.Assets) -> Markup:
    s = scope.suffix
    prs = [
        (
            link(f"/repos/{b.key.replace('#', '/pull/')}{s}", b.key),
            display_amount(b.amount, b.currency),
            b.runs,
        )
        for b in figures["prs"]
        if not b.key.endswith("#(none)")
    ]
    runs = [
        (
            link(f"/runs/{b.key}{s}", Markup(f"<code>{escape(b.key)}</code>")),
            display_amount(b.amount, b.currency),
        )
        for b in figures["runs"]
    ]
    models = [(b.key, display_amount(b.amount, b.currency), b.runs) for b in figures["models"]]
    repos = [
        (link(f"/repos/{b.key}{s}", b.key), display_amount(b.amount, b.currency), b.runs)
        for b in _ranked(figures["repos"]) + sorted(figures["repos"], key=lambda b: b.key)[TOP:]
    ]
    weekly = figures["weekly"]
    chart = weekly_chart(weekly, figures["since"], "weekly") or Markup(
        '<p class="quiet">No spend you may read in these weeks.</p>'
    )
    body = BODY.render(
        name=scope.name,
        month=month_against(figures["month"], figures.get("month_budget") or {}),
        weeks=WEEKS,
        period=_money(totals(weekly)),
        csv=link(scope.csv_url(figures["since"], figures["until"]), "CSV, per week and category"),
        chart=chart,
        repos=_table("Repositories", ("Repository", "Spend", "Runs"), repos)
        if not scope.repo
        else "",
        prs=_table(
            f"Most expensive pull requests, last {WEEKS} weeks",
            ("Pull request", "Spend", "Runs"),
            prs,
        ),
        runs=_table(f"Most expensive runs, last {WEEKS} weeks", ("Run", "Spend"), runs),
        models=_table(f"Spend by model, last {WEEKS} weeks", ("Model", "Spend", "Runs"), models),
    )
    crumbs = link(f"/repos/{scope.owner}{s}", scope.owner)
    if scope.repo:
        crumbs = Markup(crumbs + " › " + escape(scope.repo))
    return render.page(f"{scope.name} · spend", body, assets, crumbs=crumbs)


async def _scope(request: web.Request) -> Scope:
    query.reject_unknown(request.query, (LINK_PARAM,))
    owner = request.match_info["owner"]
    if not OWNER.match(owner):
        raise query.BadParameter("owner", "is not a GitHub account name")
    repo = request.match_info.get("repo")
    if repo is not None:
        query.repo(f"{owner}/{repo}", "repository")
    await reader_for(request)
    return Scope(owner, repo, request.query.get(LINK_PARAM))


async def repo_spend_page(request: web.Request) -> web.Response:
    scope = await _scope(request)
    figures = await _figures(request, scope)
    return html(spend_page(scope, figures, request.app[STATIC].assets))


def html_errors(request: web.Request, exc: ApiError) -> web.Response | None:
    if request.match_info.handler is not repo_spend_page:
        return None
    heading = "Bad request" if exc.status == 400 else "Not found"
    page = render.error_page(exc.status, heading, exc.message, request.app[STATIC].assets)
    return html(page, exc.status)


def setup(app: web.Application) -> None:
    """After `bot.web.pages.setup` (its assets)."""
    add_html_errors(app, html_errors)
    app.router.add_get("/repos/{owner}", repo_spend_page)
    app.router.add_get("/repos/{owner}/{repo}", repo_spend_page)
