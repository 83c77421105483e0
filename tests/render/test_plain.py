"""Outside text in the PR comment renders as text: checked by rendering with cmark-gfm.

cmark-gfm is GitHub's own markdown engine (tables, autolink, strikethrough, tagfilter).
Raw HTML is let through (`CMARK_OPT_UNSAFE`) as GitHub does before sanitising, so any
tag from outside text would show. Mentions and cross-references are added by GitHub
after cmark, so those are checked on the markdown itself.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from bot.render.plain import ZWJ, clean, code, notice, plain
from bot.render.spend_check import spend_check
from bot.render.summary import SummaryOptions, render_summary
from tests.render.test_summary import run

HOSTILE = [
    "[x](https://evil.example)",
    "![i](https://evil.example/i.png)",
    "https://evil.example",
    "www.evil.example",
    "WWW.Evil.example",
    "@someone",
    "owner/repo#2",
    "#2",
    "<img src=x>",
    "<details><summary>s</summary>",
    "a|b\nc",
    "right\u202eleft\u2066x\u2069\u200b",
    "a@b.example",
    "ftp://evil.example/x",
    "&lt; &#64; \\| `tick` **bold** ~~s~~",
    "<https://evil.example>",
]
OURS = {"table", "thead", "tbody", "tr", "th", "td", "p", "h3", "sub", "br", "blockquote"}
OURS |= {"code", "strong", "a"}  # ours: run names link to the run page
OURS |= {"details", "summary", "ul", "li"}  # ours: quiet runs and the trail, collapsed


def gfm(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown, Options.CMARK_OPT_UNSAFE)


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("href", "src")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(markup: str) -> _Html:
    parser = _Html()
    parser.feed(markup)
    return parser


def visible(markdown: str) -> str:
    return "".join(parsed(gfm(markdown)).text).replace(ZWJ, "").strip()  # refs decoded


def no_mention_or_reference(markdown: str) -> None:
    """Outside code spans (GitHub links nothing inside one), `@` and `#` lead nowhere."""
    text = re.sub(r"`[^`\n]*`", "", markdown)
    assert not re.search(r"@\w", text), markdown
    assert not re.search(r"#\d", text), markdown


@pytest.mark.parametrize("text", HOSTILE)
def test_plain_renders_as_the_text_sent_and_nothing_else(text: str) -> None:
    for markdown in (plain(text), f"| a |\n| --- |\n| {plain(text)} |\n"):
        found = parsed(gfm(markdown))
        assert set(found.tags) <= {"p", "table", "thead", "tbody", "tr", "th", "td"}, markdown
        assert found.links == []
        assert visible(markdown).endswith(clean(text))
        no_mention_or_reference(markdown)
    assert "\n" not in plain(text)


@pytest.mark.parametrize("text", HOSTILE)
def test_code_spans_and_notices_stay_text_in_a_table(text: str) -> None:
    table = f"| a | b |\n| --- | --- |\n| {code(text)} | {notice(text)} |\n"
    found = parsed(gfm(table))
    assert set(found.tags) <= {"table", "thead", "tbody", "tr", "th", "td", "code"}, table
    assert found.tags.count("td") == 2 and found.links == []


def test_controls_go_lines_collapse_and_long_text_ends_in_an_ellipsis() -> None:
    assert clean("a\u202eb\u2066c\u2069\u200d\u00add\r\n\te\u2028f") == "abcd e f"
    assert plain("x" * 100, 10) == "x" * 9 + "…"
    assert clean("abc def", 5) == "abc…"


def test_a_comment_of_hostile_runs_has_no_link_image_mention_or_markup_from_them() -> None:
    runs = [
        run(n, kind=kind, name=name, status=name, head_sha=name, head_hash=name)
        for n, (kind, name) in enumerate(zip(["review", "eval", *HOSTILE], HOSTILE, strict=False))
    ]
    proofs = [{"network": t, "network_name": t, "tx": t, "status": t} for t in HOSTILE]
    runs.append(run(99, kind="eval", name="proofs", proofs=proofs))
    options = SummaryOptions(public_url="https://bot.example", notices=tuple(HOSTILE))
    body = render_summary("o/r", 1, runs, options)
    found = parsed(gfm(body))

    assert set(found.tags) <= OURS, set(found.tags) - OURS
    assert "img" not in found.tags
    assert all(link.startswith("https://bot.example/") for link in found.links), found.links
    rows = [line for line in body.splitlines() if line.startswith("| [")]
    assert len(rows) == 1  # the one run with proofs; the quiet ones fold into <details>
    assert all(line.count(" | ") == 4 for line in rows), rows  # no cell split or added
    no_mention_or_reference(body)
    shown = "".join(found.text).replace(ZWJ, "")
    for name in HOSTILE:
        assert clean(name) in shown, name
    assert "\u202e" not in body and "\u2066" not in body


def test_the_spend_check_summary_keeps_kinds_and_notices_as_text() -> None:
    runs = [run(n, kind=kind, spend={"USD": "1"}) for n, kind in enumerate(HOSTILE)]
    check = spend_check(runs, SummaryOptions(notices=tuple(HOSTILE)))
    assert check is not None
    found = parsed(gfm(check.summary))
    assert set(found.tags) <= {"p", "table", "thead", "tbody", "tr", "th", "td", "code"} | {
        "strong",
        "blockquote",
    }
    assert found.links == []
    no_mention_or_reference(check.summary)
