"""A tiny HTML template helper that escapes by default.

`Template` is `string.Template` whose substitutions are HTML-escaped unless they are
`Markup` (already-safe HTML built by this module). Pages are small and few, so this
is all the templating they need, with no dependency and no way to forget escaping.
"""

from __future__ import annotations

import html
import string
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit


class Markup(str):
    """Text that is already safe HTML."""

    __slots__ = ()


def escape(value: Any) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[Any], sep: str = "") -> Markup:
    return Markup(escape(sep).join(escape(p) for p in parts))


class Template(string.Template):
    """`$name` placeholders; values are escaped unless they are `Markup`."""

    def render(self, **values: Any) -> Markup:
        return Markup(self.substitute({k: escape(v) for k, v in values.items()}))


def safe_url(url: Any) -> str | None:
    """Only http(s) URLs and site-relative paths become links; anything else is text."""
    if not isinstance(url, str) or not url:
        return None
    if url.startswith("/") and not url.startswith("//"):
        return url
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    return None


def link(url: Any, text: Any, **attrs: str) -> Markup:
    """An anchor when the URL is safe, else just the (escaped) text."""
    href = safe_url(url)
    if href is None:
        return escape(text)
    extra = "".join(f' {name}="{escape(value)}"' for name, value in attrs.items())
    if not href.startswith("/"):
        extra += ' rel="noopener noreferrer"'
    return Markup(f'<a href="{escape(href)}"{extra}>{escape(text)}</a>')
