"""The run page's transparency-log line over HTTP, against a real integrator: a
private run's proof link carries the run's token and opens only with it, and the
live panel says the same as the page."""

from __future__ import annotations

import html
import re

from bot.http.access import run_link_token
from bot.workers.log_integrator import INTEGRATOR
from tests.support.bot import SECRET, Bot
from tests.support.readside import append, note, open_pr

PROOF_LINK = re.compile(r'<a href="(/api/runs/[^"]+/proof\?[^"]+)">inclusion proof</a>')


async def test_private_runs_proof_link_carries_its_token(bot: Bot) -> None:
    assert bot.app is not None
    integrator = bot.app[INTEGRATOR]
    await integrator.stop()  # the test decides when the log catches up
    run_id = await open_pr(bot, 5, repo="octo-org/secret", private=True)
    token = run_link_token(SECRET, run_id)

    status, page = await bot.request("GET", f"/runs/{run_id}?t={token}")
    assert status == 200 and 'data-log="pending"' in page
    assert "Not yet in the signed log" in page and PROOF_LINK.search(page) is None

    size = await integrator.run_once()
    status, page = await bot.request("GET", f"/runs/{run_id}?t={token}")
    assert status == 200 and f'data-log="{size}"' in page
    assert f"Included in the signed log at size {size}" in page
    [href] = [html.unescape(h) for h in PROOF_LINK.findall(page)]
    assert href == f"/api/runs/{run_id}/proof?t={token}&tree_size={size}"
    status, proof = await bot.request("GET", href)
    assert status == 200 and proof["run_id"] == run_id and proof["tree_size"] == size
    status, _ = await bot.request("GET", href.replace(f"t={token}&", ""))
    assert status == 404  # the same answer as for a run that does not exist

    # the live panel, which the open page fetches, says the same; a new head is not in yet
    await append(bot, run_id, note("more"))
    status, part = await bot.request("GET", f"/runs/{run_id}/live?t={token}&after=1")
    assert status == 200 and 'data-log="pending"' in part["panel"]
    size = await integrator.run_once()
    status, part = await bot.request("GET", f"/runs/{run_id}/live?t={token}&after=2")
    assert status == 200 and f'data-log="{size}"' in part["panel"]
