"""The PR page's headline is the comment's markdown read back exactly: what `plain()`
escaped shows as the text it was, `**` is bold, and nothing becomes markup."""

from __future__ import annotations

import html

from bot.render.plain import clean, plain
from bot.render.summary import SummaryOptions
from bot.web.headline import headline_html, inline_html

HOSTILE = [
    '<img src=x onerror="alert(1)">',
    "**not bold** _nor this_ `nor code`",
    "[a link](https://evil.example) ![img](x) @someone #12 owner/repo#3",
    "\\ backslash \\\\ and | pipes | & &amp; entities",
    "- a list? 1. or this > quote",
    "right\u202eto-left and a zero\u200bwidth",
]


def text_of(markup: str) -> str:
    """What a browser shows for markup without tags (entities decoded)."""
    return html.unescape(markup).replace("\u200d", "")


def test_escaped_text_reads_back_as_itself() -> None:
    for text in HOSTILE:
        shown = inline_html(plain(text, None))
        assert "<" not in shown.replace("&lt;", "")  # no tag at all
        assert text_of(shown) == clean(text), text


def test_bold_and_code_are_the_only_markup() -> None:
    assert inline_html("**1.20 USD · 0.05 USDC** spent") == (
        "<strong>1.20 USD · 0.05 USDC</strong> spent"
    )
    assert inline_html("see `a\\|b <x>`") == "see <code>a|b &lt;x&gt;</code>"
    assert inline_html("**unclosed") == "<strong>unclosed</strong>"


def test_a_hostile_kind_in_the_headline_stays_text() -> None:
    runs = [{"id": "r1", "kind": "<script>alert(1)</script>", "status": "open"}]
    shown = headline_html(runs, SummaryOptions())
    assert "<script>" not in shown
    assert "1 run · &lt;script&gt;alert(1)&lt;/s… 🔵 open" in shown  # as the comment shortens it
    assert shown.startswith('<p class="headline" id="headline">1 run · ')
