"""The golden comments rendered as GitHub would, in Debian's Chromium (playwright).

The markdown goes through `cmarkgfm` (GitHub's cmark-gfm fork with its extensions;
raw HTML kept, as GitHub keeps `<details>`, `<summary>`, `<sub>`, `<br>`) into a page
with GitHub's comment column (760 px) and its markdown CSS for tables and code, where
a table is `display: block; max-width: 100%; overflow: auto` — so a too-wide table
scrolls inside itself. Checked at 1280 × 800 with every `<details>` open and closed:
no horizontal scrollbar on the comment body or on any table or list in it, and the
headline is on screen without scrolling. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from bot.render.summary import render_summary
from tests.render.summary_cases import CASES
from tests.web.test_pages_browser import ARGS, ARTIFACTS, CHROMIUM, pytestmark  # noqa: F401

COLUMN = 760
VIEWPORT = {"width": 1280, "height": 800}

# The rules of GitHub's markdown-body that decide widths (github-markdown-css).
CSS = """
body { margin: 0; background: #fff; }
.column { width: COLUMNpx; margin: 24px auto; border: 1px solid #d0d7de; border-radius: 6px; }
.markdown-body { box-sizing: border-box; padding: 16px; overflow-x: auto;
  font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial,
    sans-serif, "Apple Color Emoji", "Segoe UI Emoji";
  font-size: 14px; line-height: 1.5; word-wrap: break-word; color: #1f2328; }
.markdown-body p, .markdown-body blockquote, .markdown-body ul, .markdown-body table,
.markdown-body details { margin-top: 0; margin-bottom: 16px; }
.markdown-body blockquote { padding: 0 1em; color: #59636e; border-left: .25em solid #d1d9e0;
  margin-left: 0; }
.markdown-body table { border-spacing: 0; border-collapse: collapse; display: block;
  width: max-content; max-width: 100%; overflow: auto; }
.markdown-body table th { font-weight: 600; }
.markdown-body table th, .markdown-body table td { padding: 6px 13px;
  border: 1px solid #d1d9e0; }
.markdown-body table tr:nth-child(2n) { background-color: #f6f8fa; }
.markdown-body code { padding: .2em .4em; margin: 0; font-size: 85%;
  white-space: break-spaces; background-color: rgba(129,139,152,.12); border-radius: 6px;
  font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, monospace; }
.markdown-body ul { padding-left: 2em; }
.markdown-body sub { font-size: 75%; }
""".replace("COLUMN", str(COLUMN))

OVERFLOW = """() => {
  const body = document.querySelector('.markdown-body');
  const wide = [body, ...body.querySelectorAll('table, ul, p, blockquote, details')]
    .filter(el => el.scrollWidth > el.clientWidth + 1)
    .map(el => `${el.tagName}: ${el.scrollWidth} > ${el.clientWidth}`);
  return wide;
}"""


def page_html(markdown: str) -> str:
    html = cmarkgfm.github_flavored_markdown_to_html(markdown, Options.CMARK_OPT_UNSAFE)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><style>{CSS}</style></head>"
        f"<body><div class='column'><div class='markdown-body'>{html}</div></div></body></html>"
    )


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        await launched.close()


@pytest.mark.parametrize("name", sorted(CASES))
async def test_comment_fits_githubs_column_with_the_headline_on_screen(
    browser: Any, name: str
) -> None:
    runs, options = CASES[name]()
    markdown = render_summary("octo/widgets", 7, runs, options)
    page = await browser.new_page(viewport=VIEWPORT)
    try:
        await page.set_content(page_html(markdown))
        assert await page.evaluate(OVERFLOW) == [], name
        first = page.locator(".markdown-body > p").first
        box = await first.bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 800
        headline = markdown.splitlines()[1]
        assert (await first.inner_text()).split("\n")[0].startswith(headline.replace("**", "")[:20])
        await page.screenshot(path=str(ARTIFACTS / f"comment-{name}.png"), full_page=True)
        await page.evaluate(
            "() => document.querySelectorAll('details').forEach(d => d.open = true)"
        )
        assert await page.evaluate(OVERFLOW) == [], f"{name}, details open"
        await page.screenshot(path=str(ARTIFACTS / f"comment-{name}-open.png"), full_page=True)
    finally:
        await page.close()
