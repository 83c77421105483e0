"""`audit-bot demo` prints the markdown comment the bundled example payloads produce."""

from __future__ import annotations

import logging
import re

import pytest

from bot.__main__ import main
from bot.cli.demo import payloads


def test_payloads_ship_with_the_package_in_delivery_order() -> None:
    assert [event for event, _ in payloads()] == ["pull_request", "workflow_run", "workflow_job"]


def test_demo_with_no_bot_running_uses_its_own_and_prints_the_comment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    level = logging.getLogger().level
    # a port nothing listens on: the demo must fall back to a bot of its own
    assert main(["demo", "--url", "http://127.0.0.1:9"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("<!-- audit-bot:summary -->\n")
    assert "no bot answers at http://127.0.0.1:9" in err
    # the comment links the CI run to the (temporary) bot's own run page, as the
    # webhook answers did
    [link] = re.findall(r"\[CI\]\((http://127\.0\.0\.1:\d+/runs/\w+)\)", out)
    assert f"recorded ({link})" in err
    assert "✅ succeeded" in out
    assert "{" not in out.splitlines()[0] and '"status"' not in out  # no JSON in it
    assert logging.getLogger().level == level  # its quiet logging does not outlive it
