"""Spend over a run's timeline, by category: an inline SVG rendered on the server.

One chart per currency (currencies are never added together): cumulative spend as
stacked step areas, one layer per category, so the top edge is the running total
and each band shows what that category cost and when. Floats are used only for
pixel positions; every amount shown is the exact decimal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.trail.events import Event, parse_time
from bot.trail.money import CATEGORIES, display_amount
from bot.web.html import Markup, Template, escape, join

WIDTH, HEIGHT = 640, 160
LEFT, RIGHT, TOP, BOTTOM = 0, 0, 8, 1
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
    at: datetime
    category: str
    amount: Decimal


def spend_points(events: Sequence[Event]) -> dict[str, list[Point]]:
    """Spend events grouped by currency, in time order; unreadable ones are skipped."""
    by_currency: dict[str, list[Point]] = {}
    for event in events:
        data = event.data
        try:
            point = Point(
                parse_time(str(event.at)),
                str(data.get("category") or "other"),
                Decimal(str(data["amount"])),
            )
            currency = str(data["currency"])
        except (KeyError, ValueError, InvalidOperation):
            continue
        by_currency.setdefault(currency, []).append(point)
    for points in by_currency.values():
        points.sort(key=lambda p: p.at)
    return by_currency


def _categories(points: Sequence[Point]) -> list[str]:
    seen = {p.category for p in points}
    known = [c for c in CATEGORIES if c in seen]
    return known + sorted(seen - set(known))


def _colour(category: str, index: int) -> str:
    return COLOURS.get(category) or EXTRA_COLOURS[index % len(EXTRA_COLOURS)]


FIGURE = Template(
    '<figure class="chart" data-currency="$currency">'
    '<div class="chart-head"><strong>$total</strong> <span class="quiet">spent in $currency '
    "over the run</span></div>"
    '<svg viewBox="0 0 $width $height" role="img" aria-labelledby="$uid-t $uid-d" '
    'preserveAspectRatio="none" class="spend-chart">'
    '<title id="$uid-t">$title</title><desc id="$uid-d">$desc</desc>'
    "$body</svg>"
    '<div class="chart-axis"><span>$start</span><span>$end</span></div>'
    '<figcaption><ul class="legend">$legend</ul></figcaption></figure>'
)
LEGEND = Template(
    '<li><span class="swatch" data-colour="$colour">'
    '<svg viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" fill="$colour"/>'
    "</svg></span>$category <strong>$amount</strong></li>"
)


def spend_chart(
    events: Sequence[Event], start: str | None, end: str | None, uid: str = "spend"
) -> Markup:
    """The charts for a run's spend events; empty when nothing was spent."""
    figures = []
    for index, (currency, points) in enumerate(sorted(spend_points(events).items())):
        figures.append(_figure(currency, points, start, end, f"{uid}-{index}"))
    return join(figures)


def _figure(
    currency: str, points: Sequence[Point], start: str | None, end: str | None, uid: str
) -> Markup:
    categories = _categories(points)
    t0 = min([p.at for p in points] + ([parse_time(start)] if start else []))
    t1 = max([p.at for p in points] + ([parse_time(end)] if end else []))
    span = (t1 - t0).total_seconds()
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x_of(index: int, point: Point) -> float:
        if span > 0:
            return LEFT + (point.at - t0).total_seconds() / span * plot_w
        return LEFT + (index + 1) / (len(points) + 1) * plot_w

    # running totals per category after each point (k = 0 is "before any spend")
    running = {c: Decimal(0) for c in categories}
    steps: list[dict[str, Decimal]] = [dict(running)]
    xs = [float(LEFT)]
    for index, point in enumerate(points):
        running[point.category] += point.amount
        steps.append(dict(running))
        xs.append(x_of(index, point))
    xs.append(float(LEFT + plot_w))
    top_total = sum(running.values(), Decimal(0))
    scale = float(top_total) if top_total > 0 else 1.0

    def y_of(value: Decimal) -> float:
        return TOP + plot_h - float(value) / scale * plot_h

    layers = []
    lower = [Decimal(0)] * len(steps)
    for index, category in enumerate(categories):
        upper = [lower[k] + steps[k][category] for k in range(len(steps))]
        if running[category] > 0:
            path = _band(xs, lower, upper, y_of)
            layers.append(
                f'<polygon points="{path}" fill="{_colour(category, index)}" '
                f'fill-opacity="0.85"><title>{escape(category)}</title></polygon>'
            )
        lower = upper
    axis_y = TOP + plot_h
    total_text = display_amount(top_total, currency)
    body = [
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT + plot_w}" y2="{TOP}" class="grid" '
        'vector-effect="non-scaling-stroke"/>',
        *layers,
        f'<line x1="{LEFT}" y1="{axis_y}" x2="{LEFT + plot_w}" y2="{axis_y}" class="axis" '
        'vector-effect="non-scaling-stroke"/>',
    ]
    by_category = {
        c: display_amount(sum((p.amount for p in points if p.category == c), Decimal(0)), currency)
        for c in categories
    }
    legend = join(
        LEGEND.render(colour=_colour(c, i), category=c, amount=by_category[c])
        for i, c in enumerate(categories)
    )
    title = f"Spend over the run in {currency}: {total_text} in total"
    desc = "; ".join(f"{c}: {a}" for c, a in by_category.items()) + (
        f"; {len(points)} spend event{'s' if len(points) != 1 else ''} "
        f"from {_clock(t0)} to {_clock(t1)}"
    )
    return FIGURE.render(
        currency=currency,
        width=WIDTH,
        height=HEIGHT,
        uid=uid,
        title=title,
        desc=desc,
        body=Markup("".join(body)),
        legend=legend,
        total=total_text,
        start=_clock(t0),
        end=f"{_clock(t1)} ({_span(span)})",
    )


def _band(
    xs: Sequence[float], lower: Sequence[Decimal], upper: Sequence[Decimal], y_of: Any
) -> str:
    """A step-after band between two running totals, as polygon points."""
    top: list[tuple[float, float]] = [(xs[0], y_of(upper[0]))]
    bottom: list[tuple[float, float]] = [(xs[0], y_of(lower[0]))]
    for k in range(1, len(upper)):
        top += [(xs[k], y_of(upper[k - 1])), (xs[k], y_of(upper[k]))]
        bottom += [(xs[k], y_of(lower[k - 1])), (xs[k], y_of(lower[k]))]
    top.append((xs[-1], y_of(upper[-1])))
    bottom.append((xs[-1], y_of(lower[-1])))
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in top + bottom[::-1])


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S")


def _span(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
