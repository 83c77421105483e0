"""The README's quick start, as written, from a fresh clone.

Slow by nature (about a minute on this project's 2-core machine, nearly all of it the
package install into the clone's own `.venv`, from pip's cache when it is warm): it
clones this checkout, runs the quick start's start command with `PORT=0`, takes the
port from the line the bot prints, then runs the README's own "feed the local bot"
block and the demo command against it. Deselect it locally with `-m "not quickstart"`;
CI runs it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.quickstart import ROOT, QuickStart, local, readme_blocks

# the install alone can take minutes while the rest of the suite shares the 2 cores
pytestmark = [pytest.mark.quickstart, pytest.mark.timeout(600)]


@pytest.fixture
def quickstart(tmp_path: Path):
    if shutil.which("git") is None or shutil.which("curl") is None:
        pytest.fail("the quick start needs git and curl (.ci/run installs them)")
    run = QuickStart(ROOT, tmp_path)
    yield run
    run.stop()


def test_readme_quick_start_from_a_fresh_clone_shows_a_comment(quickstart: QuickStart) -> None:
    serve, test, feed, demo = readme_blocks()
    assert (serve, test) == ("./scripts/serve", "./scripts/test")  # the two commands
    quickstart.clone()
    port = quickstart.serve(serve, timeout=240)
    quickstart.until_healthy()
    assert "Traceback" not in quickstart.output
    assert "Successfully installed" not in quickstart.output  # pip's output stays in its log

    fed = quickstart.run(local(feed, port))
    assert fed.returncode == 0, fed.stderr
    comment = fed.stdout
    # one markdown comment, not JSON: the marker first, the PR run linked to this bot
    assert comment.startswith("<!-- audit-bot:summary -->\n"), comment[:300]
    assert comment.count("<!-- audit-bot:summary -->") == 1 and not comment.lstrip().startswith("{")
    assert f"[CI](http://127.0.0.1:{port}/runs/" in comment  # the PR run, on this bot

    shown = quickstart.run(f"PORT={port} {demo}")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("<!-- audit-bot:summary -->\n")
    assert f"feeding the bot at http://127.0.0.1:{port}" in shown.stderr
    assert "✅ succeeded" in shown.stdout  # the demo's CI run and job joined the PR run
