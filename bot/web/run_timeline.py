"""The run page's timeline: one row per event (also sent alone by the live updates)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.trail.events import Event
from bot.web.cells import time_tag
from bot.web.event_text import describe
from bot.web.html import Markup, Template, join

ROW = Template(
    '<tr data-seq="$seq" data-type="$type"><td class="num">$seq</td><td>$at</td>'
    '<td><span class="etype">$type</span></td><td>$detail</td><td class="src">$source</td></tr>'
)


def timeline_rows(events: Iterable[Event], state: Mapping[str, Any], github: str) -> Markup:
    return join(
        ROW.render(
            seq=e.seq,
            at=time_tag(e.at),
            type=e.type,
            detail=describe(e, state, github),
            source=source_cell(e),
        )
        for e in events
    )


def count_text(n: int) -> str:
    return f"{n:,} event{'s' if n != 1 else ''}"


def source_cell(event: Event) -> Markup:
    src = event.source
    kind = str(src.get("kind") or "?")
    what = ".".join(str(x) for x in (src.get("event"), src.get("action")) if x)
    who = src.get("actor")
    text = kind + (f" · {what}" if what else "") + (f" · {who}" if who else "")
    return Template('<span title="$id">$text</span>').render(
        id=f"{kind} {src.get('id', '')}", text=text
    )
