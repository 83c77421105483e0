"""Spend over a run's timeline, by category: an inline SVG rendered on the server.

One chart per currency (currencies are never added together): cumulative spend as
stacked step areas, one layer per category, so the top edge is the running total
and each band shows what that category cost and when. The x axis is the trail
itself, event 1 to the last, like the timeline table below it: wall-clock time
would squeeze a run whose events are days apart (a PR opened last week, an agent
loop today) into slivers. The ends are labelled with their times. Floats are used
only for pixel positions; every amount shown is the exact decimal.

A trail can hold any number of spend events, so they are gathered into at most
`MAX_STEPS` steps per currency while the trail streams past (`SpendSeries`): the
page costs the same memory and the same few kilobytes of SVG however long the run.
A run can hold many currencies, so only the `MAX_CHARTS` with the most spend events
are drawn; the others are named in one line under them (their totals are in the
spend table).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from bot.trail import events as ev
from bot.trail.events import Event
from bot.trail.money import CATEGORIES, display_amount
from bot.trail.times import parse_time
from bot.web.html import Markup, Template, join

WIDTH, HEIGHT = 640, 160
TOP = 8
MAX_CHARTS = 4  # charts on one page: the currencies with the most spend events
MAX_NAMED = 10  # currencies named in the line that summarises the ones not charted
MAX_STEPS = 400  # per currency: a step lands < 2 * WIDTH / MAX_STEPS = 3.2 px early at most
COLOURS = {
    "llm": "#7c3aed",
    "ci": "#2563eb",
    "payment": "#059669",
    "api": "#d97706",
    "other": "#6b7280",
}
EXTRA_COLOURS = ("#db2777", "#0891b2", "#65a30d", "#b45309")


@dataclass
class Step:
    """The spend of one stretch of the trail, drawn at its first spend event."""

    seq: int
    amounts: dict[str, Decimal] = field(default_factory=dict)  # category → exact total

    def add(self, category: str, amount: Decimal) -> None:
        self.amounts[category] = self.amounts.get(category, Decimal(0)) + amount


class SpendSeries:
    """Spend events folded into at most `max_steps` steps per currency, as they arrive.

    A step holds the spend of `width` consecutive seqs. When a currency has more steps
    than `max_steps`, the width doubles and neighbouring steps merge; since that only
    happens once the trail is longer than `max_steps * width`, a merged step is drawn
    less than `2 / max_steps` of the chart's width before its latest spend. Totals,
    per category and overall, stay exact.
    """

    def __init__(self, max_steps: int = MAX_STEPS) -> None:
        self.max_steps = max_steps
        self.width = 1
        self.steps: dict[str, dict[int, Step]] = {}  # currency → (seq - 1) // width → step
        self.counts: dict[str, int] = {}  # spend events per currency

    @classmethod
    def of(cls, events: Iterable[Event], max_steps: int = MAX_STEPS) -> SpendSeries:
        series = cls(max_steps)
        for event in events:
            series.add(event)
        return series

    def copy(self) -> SpendSeries:
        """An independent copy to go on adding to (the original stays as it is)."""
        other = SpendSeries(self.max_steps)
        other.width = self.width
        other.steps = {
            currency: {key: Step(step.seq, dict(step.amounts)) for key, step in steps.items()}
            for currency, steps in self.steps.items()
        }
        other.counts = dict(self.counts)
        return other

    def add(self, event: Event) -> None:
        """Take one trail event (anything but readable spend is passed over)."""
        if event.type != ev.SPEND:
            return
        data = event.data
        try:
            amount = Decimal(str(data["amount"]))
            currency = str(data["currency"])
        except (KeyError, ValueError, InvalidOperation):
            return
        if not amount.is_finite():
            return
        steps = self.steps.setdefault(currency, {})
        key = (event.seq - 1) // self.width
        step = steps.get(key)
        if step is None:
            step = steps[key] = Step(event.seq)
        step.seq = min(step.seq, event.seq)
        step.add(str(data.get("category") or "other"), amount)
        self.counts[currency] = self.counts.get(currency, 0) + 1
        if len(steps) > self.max_steps:
            self._coarsen()  # one doubling halves the steps: back within the bound

    def _coarsen(self) -> None:
        self.width *= 2
        for currency, steps in self.steps.items():
            merged: dict[int, Step] = {}
            for key, step in steps.items():
                into = merged.get(key // 2)
                if into is None:
                    merged[key // 2] = step
                    continue
                into.seq = min(into.seq, step.seq)
                for category, amount in step.amounts.items():
                    into.add(category, amount)
            self.steps[currency] = merged

    def series(self) -> list[tuple[str, list[Step], int]]:
        """(currency, its steps in trail order, its spend events), currencies sorted."""
        return [
            (currency, sorted(steps.values(), key=lambda s: s.seq), self.counts[currency])
            for currency, steps in sorted(self.steps.items())
        ]


def _categories(steps: Sequence[Step]) -> list[str]:
    seen = {category for step in steps for category in step.amounts}
    known = [c for c in CATEGORIES if c in seen]
    return known + sorted(seen - set(known))


def _colour(category: str, index: int) -> str:
    return COLOURS.get(category) or EXTRA_COLOURS[index % len(EXTRA_COLOURS)]


FIGURE = Template(
    '<figure class="chart" data-currency="$currency">'
    '<div class="chart-head"><strong>$total</strong> <span class="quiet">spent in $currency, '
    "event by event</span></div>"
    '<svg viewBox="0 0 $width $height" role="img" aria-labelledby="$uid-t $uid-d" '
    'preserveAspectRatio="none" class="spend-chart">'
    '<title id="$uid-t">$title</title><desc id="$uid-d">$desc</desc>'
    "$body</svg>"
    '<div class="chart-axis"><span>$start</span><span>$end</span></div>'
    '<figcaption><ul class="legend">$legend</ul></figcaption></figure>'
)
LEGEND = Template(
    '<li><span class="swatch">'
    '<svg viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" fill="$colour"/>'
    "</svg></span>$category <strong>$amount</strong></li>"
)


def spend_chart(
    spend: SpendSeries,
    last_seq: int,
    start: str | None = None,
    end: str | None = None,
    uid: str = "spend",
) -> Markup:
    """The charts of a run's spend over its `last_seq` events; empty if it has none.

    At most `MAX_CHARTS`: the currencies with the most spend events (in currency
    order); the rest are summarised in one line.
    """
    series = spend.series()
    busiest = sorted(series, key=lambda s: (-s[2], s[0]))[:MAX_CHARTS]
    drawn = {currency for currency, _, _ in busiest}
    figures = join(
        _figure(currency, steps, count, max(last_seq, steps[-1].seq), start, end, f"{uid}-{i}")
        for i, (currency, steps, count) in enumerate(s for s in series if s[0] in drawn)
    )
    rest = [currency for currency, _, _ in series if currency not in drawn]
    return Markup(figures + _not_charted(rest)) if rest else figures


def _not_charted(rest: Sequence[str]) -> Markup:
    """One line naming (some of) the currencies without a chart."""
    named = ", ".join(rest[:MAX_NAMED]) + (", …" if len(rest) > MAX_NAMED else "")
    return Template(
        '<p class="quiet not-charted">$n more currenc$y not charted ($named): '
        "their totals are in the table above.</p>"
    ).render(n=f"{len(rest):,}", y="y" if len(rest) == 1 else "ies", named=named)


def _figure(
    currency: str,
    steps: Sequence[Step],
    count: int,
    last_seq: int,
    start: str | None,
    end: str | None,
    uid: str,
) -> Markup:
    categories = _categories(steps)
    plot_h = HEIGHT - TOP

    def x_of(seq: int) -> float:  # an event's slot starts at its position in the trail
        return (seq - 1) / last_seq * WIDTH

    # running totals per category after each step (k = 0 is "before any spend")
    running = {c: Decimal(0) for c in categories}
    totals: list[dict[str, Decimal]] = [dict(running)]
    xs = [0.0]
    for step in steps:
        for category, amount in step.amounts.items():
            running[category] += amount
        totals.append(dict(running))
        xs.append(x_of(step.seq))
    xs.append(float(WIDTH))
    top_total = sum(running.values(), Decimal(0))
    scale = float(top_total) if top_total > 0 else 1.0

    def y_of(value: Decimal) -> float:
        return TOP + plot_h - float(value) / scale * plot_h

    layers = []
    lower = [Decimal(0)] * len(totals)
    for index, category in enumerate(categories):
        upper = [lower[k] + totals[k][category] for k in range(len(totals))]
        if running[category] > 0:
            layers.append(
                f'<polygon points="{_band(xs, lower, upper, y_of)}" '
                f'fill="{_colour(category, index)}" fill-opacity="0.85"/>'
            )
        lower = upper
    body = [
        f'<line x1="0" y1="{TOP}" x2="{WIDTH}" y2="{TOP}" class="grid" '
        'vector-effect="non-scaling-stroke"/>',
        *layers,
        f'<line x1="0" y1="{HEIGHT}" x2="{WIDTH}" y2="{HEIGHT}" class="axis" '
        'vector-effect="non-scaling-stroke"/>',
    ]
    by_category = {c: display_amount(running[c], currency) for c in categories}
    total_text = display_amount(top_total, currency)
    legend = join(
        LEGEND.render(colour=_colour(c, i), category=c, amount=by_category[c])
        for i, c in enumerate(categories)
    )
    desc = "; ".join(f"{c}: {a}" for c, a in by_category.items()) + (
        f"; {count} spend event{'s' if count != 1 else ''} among {last_seq} events"
    )
    return FIGURE.render(
        currency=currency,
        width=WIDTH,
        height=HEIGHT,
        uid=uid,
        title=f"Spend over the run in {currency}: {total_text} in total",
        desc=desc,
        body=Markup("".join(body)),
        legend=legend,
        total=total_text,
        start="event 1" + (f" · {_when(start)}" if start else ""),
        end=f"event {last_seq}" + (f" · {_when(end)}" if end else ""),
    )


def _band(
    xs: Sequence[float],
    lower: Sequence[Decimal],
    upper: Sequence[Decimal],
    y: Callable[[Decimal], float],
) -> str:
    """A step-after band between two running totals, as polygon points."""
    top: list[tuple[float, float]] = [(xs[0], y(upper[0]))]
    bottom: list[tuple[float, float]] = [(xs[0], y(lower[0]))]
    for k in range(1, len(upper)):
        top += [(xs[k], y(upper[k - 1])), (xs[k], y(upper[k]))]
        bottom += [(xs[k], y(lower[k - 1])), (xs[k], y(lower[k]))]
    top.append((xs[-1], y(upper[-1])))
    bottom.append((xs[-1], y(lower[-1])))
    return " ".join(f"{px:.1f},{py:.1f}" for px, py in top + bottom[::-1])


def _when(value: str) -> str:
    try:
        return parse_time(value).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value
