"""Spend over a run's timeline, by category: an inline SVG rendered on the server.

One chart per currency (currencies are never added together): cumulative spend as
stacked step areas, one layer per category, so the top edge is the running total
and each band shows what that category cost and when. The x axis is the trail
itself, event 1 to the last, like the timeline table below it: wall-clock time
would squeeze a run whose events are days apart (a PR opened last week, an agent
loop today) into slivers. The ends are labelled with their times. Floats are used
only for pixel positions; every amount shown is the exact decimal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.trail.events import Event, parse_time
from bot.trail.money import CATEGORIES, display_amount
from bot.web.html import Markup, Template, join

WIDTH, HEIGHT = 640, 160
TOP = 8
COLOURS = {
    "llm": "#7c3aed",
    "ci": "#2563eb",
    "payment": "#059669",
    "api": "#d97706",
    "other": "#6b7280",
}
EXTRA_COLOURS = ("#db2777", "#0891b2", "#65a30d", "#b45309")


@dataclass(frozen=True)
class Point:
    seq: int
    category: str
    amount: Decimal


def spend_points(events: Sequence[Event]) -> dict[str, list[Point]]:
    """Spend events grouped by currency, in trail order; unreadable ones are skipped."""
    by_currency: dict[str, list[Point]] = {}
    for event in sorted(events, key=lambda e: e.seq):
        data = event.data
        try:
            point = Point(
                event.seq, str(data.get("category") or "other"), Decimal(str(data["amount"]))
            )
            currency = str(data["currency"])
        except (KeyError, ValueError, InvalidOperation):
            continue
        if point.amount.is_finite():
            by_currency.setdefault(currency, []).append(point)
    return by_currency


def _categories(points: Sequence[Point]) -> list[str]:
    seen = {p.category for p in points}
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
    events: Sequence[Event],
    last_seq: int,
    start: str | None = None,
    end: str | None = None,
    uid: str = "spend",
) -> Markup:
    """The charts for a run's spend events over its `last_seq` events; empty if none."""
    figures = []
    for index, (currency, points) in enumerate(sorted(spend_points(events).items())):
        figures.append(
            _figure(currency, points, max(last_seq, points[-1].seq), start, end, f"{uid}-{index}")
        )
    return join(figures)


def _figure(
    currency: str,
    points: Sequence[Point],
    last_seq: int,
    start: str | None,
    end: str | None,
    uid: str,
) -> Markup:
    categories = _categories(points)
    plot_h = HEIGHT - TOP

    def x_of(seq: int) -> float:  # an event's slot starts at its position in the trail
        return (seq - 1) / last_seq * WIDTH

    # running totals per category after each point (k = 0 is "before any spend")
    running = {c: Decimal(0) for c in categories}
    steps: list[dict[str, Decimal]] = [dict(running)]
    xs = [0.0]
    for point in points:
        running[point.category] += point.amount
        steps.append(dict(running))
        xs.append(x_of(point.seq))
    xs.append(float(WIDTH))
    top_total = sum(running.values(), Decimal(0))
    scale = float(top_total) if top_total > 0 else 1.0

    def y_of(value: Decimal) -> float:
        return TOP + plot_h - float(value) / scale * plot_h

    layers = []
    lower = [Decimal(0)] * len(steps)
    for index, category in enumerate(categories):
        upper = [lower[k] + steps[k][category] for k in range(len(steps))]
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
    by_category = {
        c: display_amount(sum((p.amount for p in points if p.category == c), Decimal(0)), currency)
        for c in categories
    }
    total_text = display_amount(top_total, currency)
    legend = join(
        LEGEND.render(colour=_colour(c, i), category=c, amount=by_category[c])
        for i, c in enumerate(categories)
    )
    n = len(points)
    desc = "; ".join(f"{c}: {a}" for c, a in by_category.items()) + (
        f"; {n} spend event{'s' if n != 1 else ''} among {last_seq} events"
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
