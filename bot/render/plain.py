"""Outside text → GitHub markdown that renders as that text and nothing more (pure).

Reporter run names, kinds, networks, config notices… are written by people other
than the PR's readers. Put into the comment as they come, they become links,
images, HTML, mentions (which notify people), cross-references, table breaks, or
right-to-left overrides that make a line read backwards. `plain()` is the one place
that neutralises such a text; `code()` does the same for a value shown in a code span.
What the rules do was checked by rendering with cmark-gfm (tests/render/test_plain.py).
"""

from __future__ import annotations

import re
import unicodedata

ZWJ = "\u200d"  # invisible; cmark-gfm keeps it as text, GitHub links nothing across it
ELLIPSIS = "…"
# Punctuation that can start markup anywhere in a line: escapes, code, emphasis,
# strikethrough, links and images, HTML and autolinks, entities, table cells, headings,
# mentions and e-mail autolinks, math. `_` between letters is not emphasis and is kept.
_MARKUP = frozenset("\\`*_~[]!<>&|#@$")
# More that only matters at the start of a line (lists, quotes, setext headings).
_LEADING = frozenset("-+=>:.)(")
_ORDERED = re.compile(r"^(\d+)([.)])")
_SPACE = re.compile(r"\s+")
# Autolink and reference triggers, after escaping: `@name`, `#12`, `x://`, `www.`.
_AT = re.compile(r"@(?=\w)")
_HASH = re.compile(r"#(?=\d)")
_SCHEME = re.compile(r":(?=//)")
_WWW = re.compile(r"(?i)(?<![a-z0-9])www(?=\.)")


def clean(text: object, limit: int | None = None) -> str:
    """One line without control or invisible format characters, at most `limit` chars.

    Line breaks and tabs become spaces; C0/C1 controls, bidi embeddings, overrides and
    isolates (U+202A–U+202E, U+2066–U+2069), zero-width and other format characters
    (category Cf), and line/paragraph separators are dropped or spaced.
    """
    kept = []
    for char in str(text):
        category = unicodedata.category(char)
        if char.isspace() or category in ("Zl", "Zp"):
            kept.append(" ")
        elif category not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            kept.append(char)
    line = _SPACE.sub(" ", "".join(kept)).strip()
    if limit is not None and len(line) > limit:
        line = line[: max(0, limit - 1)].rstrip() + ELLIPSIS
    return line


def plain(text: object, limit: int | None = 80) -> str:
    """Markdown that GitHub shows as exactly `clean(text, limit)`: no markup at all.

    Punctuation that can make markup is backslash-escaped (links, images, emphasis,
    HTML, entities, table pipes, and list or quote marks at the start); a zero-width
    joiner then breaks what GitHub links in plain text: after `@` before a word
    character (mentions, e-mail), after `#` before a digit (`#2`, `owner/repo#2`),
    after `:` before `//` and after a leading `www`.
    """
    return _escape(clean(text, limit))


def _escape(line: str) -> str:
    chars = []
    for index, char in enumerate(line):
        word_inside = (
            char == "_"
            and 0 < index < len(line) - 1
            and line[index - 1].isalnum()
            and line[index + 1].isalnum()
        )
        escape = char in _MARKUP and not word_inside
        chars.append("\\" + char if escape or (index == 0 and char in _LEADING) else char)
    escaped = _ORDERED.sub(r"\1\\\2", "".join(chars))
    escaped = _AT.sub("@" + ZWJ, escaped)
    escaped = _HASH.sub("#" + ZWJ, escaped)
    escaped = _SCHEME.sub(":" + ZWJ, escaped)
    return _WWW.sub(lambda m: m.group(0) + ZWJ, escaped)


def code(text: object, limit: int | None = 80) -> str:
    """`text` as a code span (nothing inside one is linked or mentioned); safe in a table."""
    return _code(clean(text, limit)) or "—"


def _code(line: str) -> str:
    inner = line.replace("`", "'").replace("|", "\\|")
    return f"`{inner}`" if inner.strip() else ""


def notice(text: object, limit: int | None = 300) -> str:
    """A notice line: its backticked parts stay code spans, the rest is `plain()`."""
    parts = clean(text, limit).split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: the last part is text
        parts[-2:] = ["`".join(parts[-2:])]
    out = []
    for index, part in enumerate(parts):
        if index % 2:
            out.append(_code(part))
        else:
            out.append(_escape(part))
    return "".join(out)
