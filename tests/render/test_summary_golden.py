"""The comment for representative PRs, byte for byte (tests/render/golden/*.md).

The files were written by the renderer once and read by eye. After a deliberate
change of layout, rewrite them with `AUDIT_UPDATE_GOLDEN=1` and read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.render.summary import render_summary
from tests.render.summary_cases import CASES

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", sorted(CASES))
def test_comment_matches_its_golden_file(name: str) -> None:
    runs, options = CASES[name]()
    body = render_summary("octo/widgets", 7, runs, options)
    path = GOLDEN / f"{name}.md"
    if os.environ.get("AUDIT_UPDATE_GOLDEN"):
        path.write_text(body, encoding="utf-8")
    assert body == path.read_text(encoding="utf-8")
