"""The PR page's headline: the summary comment's own words (`bot.render.summary.headline`)
as HTML, so the page and the comment never say two different things.

The comment's lines are markdown of a small, known shape: outside text went through
`bot.render.plain` (every markup character backslash-escaped), and the summary adds
only `**bold**` and, in notices, code spans. `inline_html` reads exactly that shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.render.summary import SummaryOptions, headline
from bot.web.html import Markup, Template, escape, join


def inline_html(line: str) -> Markup:
    """One line of the summary's markdown as HTML: escapes, `**strong**`, `code`."""
    out: list[str] = []
    strong = False
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line):
            out.append(escape(line[i + 1]))
            i += 2
        elif line.startswith("**", i):
            out.append("</strong>" if strong else "<strong>")
            strong = not strong
            i += 2
        elif char == "`" and "`" in line[i + 1 :]:
            end = line.index("`", i + 1)
            out.append(f"<code>{escape(line[i + 1 : end].replace(chr(92) + '|', '|'))}</code>")
            i = end + 1
        else:
            out.append(escape(char))
            i += 1
    if strong:
        out.append("</strong>")
    return Markup("".join(out))


def headline_html(runs: Sequence[Mapping[str, Any]], options: SummaryOptions) -> Markup:
    """The headline paragraph, then one warning paragraph per line that needs action."""
    first, *actions = headline(runs, options)
    return join(
        [
            Template('<p class="headline" id="headline">$text</p>').render(text=inline_html(first)),
            *(
                Template('<p class="needs">$text</p>').render(text=inline_html(line))
                for line in actions
            ),
        ]
    )
