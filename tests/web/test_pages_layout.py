"""The pages' layout in Debian's Chromium, measured as a reader would notice it.

Phones of 360 and 375 px with the over-budget flag shown: nothing scrolls sideways
and the flag reads on one line; the run ID is never broken inside; empty Spend and
Proofs cards share a row on a desktop; the PR page's table uses a 1280 px desktop
(times on one line) and shows each run's spend against its budget and its proofs'
links; the PR page opens with the very headline the comment on GitHub opens with;
the run page says whether the run's head is in the signed transparency log, and its
proof link gives an inclusion proof that verifies. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import base64
from typing import Any

import cmarkgfm

from bot.render.summary import MARKER
from bot.trail import checkpoint as cp
from bot.trail import merkle
from bot.workers.log_integrator import INTEGRATOR
from tests.support.bot import REPO, Bot
from tests.support.fake_github import FakeGitHub
from tests.support.readside import append, open_agent_run, open_pr, proof, spend
from tests.web.test_pages_browser import ARTIFACTS, DESKTOP, new_page
from tests.web.test_pages_browser import browser as browser  # the fixture, shared
from tests.web.test_pages_browser import pytestmark as pytestmark

PHONES = (360, 375)
SECOND_TX = "0x" + "7a" * 32
LONG_NAME = "nightly dependency upgrade agent (x402)"  # 39 characters

# The widest thing on the page past the viewport's right edge, if any.
SIDEWAYS = """() => {
  const width = innerWidth;
  const scroll = document.scrollingElement.scrollWidth;
  const wide = [...document.querySelectorAll('main *')]
    .filter(el => el.getBoundingClientRect().right > width + 0.5)
    .map(el => el.tagName + '.' + el.className);
  return {scroll, width, wide: wide.slice(0, 5)};
}"""
LINES = "sel => [...document.querySelectorAll(sel)].map(el => el.getClientRects().length)"


async def over_budget_run(bot: Bot) -> str:
    """An agent run over its budget in three currencies, with two proofs."""
    run_id = await open_agent_run(bot, budget={"USD": "1.00", "USDC": "10.00", "EURC": "5.00"})
    await append(
        bot,
        run_id,
        spend("1.234567", model="review-model", input_tokens=120000, output_tokens=8000),
        spend("12.50", "USDC", "payment"),
        spend("7.123456", "EURC", "payment"),
        proof(),
        proof("pending", SECOND_TX),
    )
    return run_id


async def no_sideways_scroll(page: Any, what: str) -> None:
    found = await page.evaluate(SIDEWAYS)
    assert found["scroll"] <= found["width"], f"{what} scrolls sideways: {found}"


async def test_run_page_on_phones_with_the_over_budget_flag(bot: Bot, browser: Any) -> None:
    run_id = await over_budget_run(bot)
    for width in PHONES:
        page = await new_page(browser, {"width": width, "height": 800})
        await page.goto(f"{bot.url}/runs/{run_id}")
        assert await page.locator(".money .over").count() == 3  # the flag is shown
        await no_sideways_scroll(page, f"the run page at {width} px")
        # the flag reads as words on one line, not a letter per line
        assert await page.evaluate(LINES, ".money .over") == [1, 1, 1]
        # the run ID is one unbroken word
        assert await page.evaluate(LINES, ".facts code.id") == [1]
        await page.screenshot(path=str(ARTIFACTS / f"run-over-budget-{width}.png"), full_page=True)
        assert page.errors == []
    page = await new_page(browser, DESKTOP)
    await page.goto(f"{bot.url}/runs/{run_id}")
    assert await page.evaluate(LINES, ".facts code.id") == [1]


async def test_empty_spend_and_proofs_cards_share_a_row_on_a_desktop(
    bot: Bot, browser: Any
) -> None:
    run_id = await open_pr(bot)
    page = await new_page(browser, DESKTOP)
    await page.goto(f"{bot.url}/runs/{run_id}")
    spend_box = await page.locator(".card.spend").bounding_box()
    proofs_box = await page.locator(".card.proofs").bounding_box()
    digest_box = await page.locator(".card.digest").bounding_box()
    assert spend_box["y"] == proofs_box["y"], "the empty cards are on one row"
    assert spend_box["x"] + spend_box["width"] < proofs_box["x"]
    assert digest_box["width"] > 2 * spend_box["width"]  # the digest keeps the whole row
    await page.screenshot(path=str(ARTIFACTS / "run-empty-desktop.png"), full_page=True)

    # once there is spend, its card takes the whole row again (live, no reload)
    await page.wait_for_function("() => document.getElementById('live').dataset.state === 'on'")
    await append(bot, run_id, spend("0.05"))
    await page.wait_for_function("() => !document.querySelector('.card.spend.empty')")
    spend_box = await page.locator(".card.spend").bounding_box()
    assert spend_box["width"] == digest_box["width"]

    phone = await new_page(browser, {"width": 360, "height": 800})
    await phone.goto(f"{bot.url}/runs/{(await open_pr(bot, 3))}")
    spend_box = await phone.locator(".card.spend").bounding_box()
    proofs_box = await phone.locator(".card.proofs").bounding_box()
    assert proofs_box["y"] > spend_box["y"] + spend_box["height"]  # stacked on a phone


async def test_pr_page_table_uses_the_desktop_and_shows_budgets_and_proofs(
    bot: Bot, github: FakeGitHub, browser: Any
) -> None:
    await open_pr(bot)
    over = await over_budget_run(bot)
    named = await open_agent_run(bot, budget={"USD": "2.00"}, name=LONG_NAME)
    await append(bot, named, spend("0.40"), spend("0.20", "USDC", "payment"))
    await bot.settle()

    page = await new_page(browser, DESKTOP)
    await page.goto(f"{bot.url}/repos/{REPO}/pull/2")
    await no_sideways_scroll(page, "the PR page at 1280 px")
    table = await page.locator("table.runs").bounding_box()
    assert table["width"] > 1150, f"the table is squeezed into {table['width']} px"
    wrap = await page.evaluate(
        "() => { const w = document.querySelector('.table-wrap'); "
        "return [w.scrollWidth, w.clientWidth]; }"
    )
    assert wrap[0] <= wrap[1], f"the table scrolls inside itself: {wrap}"
    times = await page.evaluate(LINES, "#runs time")
    assert times and all(n == 1 for n in times), f"times wrap: {times}"

    row = page.locator(f'#runs tr[data-run="{over}"]')
    spend_text = await row.locator('td[data-label="Spend"]').inner_text()
    for line in ("1.234567 of 1.00 USD", "12.50 of 10.00 USDC", "7.123456 of 5.00 EURC"):
        assert line in spend_text, spend_text
    assert await row.locator('td[data-label="Spend"] .over').count() == 3
    links = await row.locator('td[data-label="Proofs"] a').evaluate_all(
        "links => links.map(a => a.href)"
    )
    assert sorted(links) == sorted(
        f"https://basescan.org/tx/{tx}" for tx in ("0x" + "5e" * 32, SECOND_TX)
    )
    assert "pending" in await row.locator('td[data-label="Proofs"]').inner_text()
    within = page.locator(f'#runs tr[data-run="{named}"] td[data-label="Spend"] .within')
    assert await within.inner_text() == "0.40 of 2.00 USD"
    assert LONG_NAME in await page.locator(f'#runs tr[data-run="{named}"] td.what').inner_text()
    await page.screenshot(path=str(ARTIFACTS / "pr-budgets-desktop.png"), full_page=True)

    for width in PHONES:
        phone = await new_page(browser, {"width": width, "height": 800})
        await phone.goto(f"{bot.url}/repos/{REPO}/pull/2")
        await no_sideways_scroll(phone, f"the PR page at {width} px")
        await phone.screenshot(path=str(ARTIFACTS / f"pr-budgets-{width}.png"), full_page=True)
        assert phone.errors == []
    assert page.errors == []


async def comment_headline(browser: Any, github: FakeGitHub) -> str:
    """The first line under the marker of the bot's comment, as GitHub would show it."""
    [comment] = github.comments_on(REPO, 2)
    lines = comment["body"].splitlines()
    html = cmarkgfm.github_flavored_markdown_to_html(lines[lines.index(MARKER) + 1])
    page = await new_page(browser, DESKTOP)
    await page.set_content(f"<!doctype html><meta charset='utf-8'><body>{html}</body>")
    return str(await page.inner_text("body")).strip()


async def test_pr_page_opens_with_the_comments_headline(
    bot: Bot, github: FakeGitHub, browser: Any
) -> None:
    await open_pr(bot)
    await bot.settle()
    page = await new_page(browser, DESKTOP)
    await page.goto(f"{bot.url}/repos/{REPO}/pull/2")
    shown = await page.locator("#headline").inner_text()
    assert shown == await comment_headline(browser, github)
    assert shown.startswith("1 run · CI")

    await over_budget_run(bot)
    await bot.settle()
    await page.reload()
    shown = await page.locator("#headline").inner_text()
    assert shown == await comment_headline(browser, github)
    assert "spent by 1 run of 2 on this PR" in shown and "over its budget" in shown
    assert await page.locator("#headline strong").count() == 1  # the totals, in bold
    assert "over its own budget" in await page.locator(".needs").inner_text()
    assert page.errors == []


async def test_run_page_says_whether_the_head_is_in_the_signed_log(bot: Bot, browser: Any) -> None:
    assert bot.app is not None
    integrator = bot.app[INTEGRATOR]
    await integrator.stop()  # hold the log back, as if the integrator were behind
    run_id = await open_pr(bot)
    page = await new_page(browser, DESKTOP)
    await page.goto(f"{bot.url}/runs/{run_id}")
    log = page.locator(".digest .log-mark")
    assert await log.inner_text() == (
        "… Not yet in the signed log — the newest events are taken in within seconds"
    )
    assert await page.locator(".digest .mark.ok").inner_text() != ""  # beside "chain verified"

    size = await integrator.run_once()
    # the page asks again by itself while it waits for the log
    await page.wait_for_function(
        "() => document.querySelector('.digest .log-mark').dataset.log !== 'pending'"
    )
    [checkpoint] = await bot.store.checkpoints()
    assert checkpoint.size == size
    text = await log.inner_text()
    assert text.startswith(f"✓ Included in the signed log at size {size} (checkpoint of ")
    assert await log.locator("time").get_attribute("datetime") == checkpoint.created_at
    href = await log.locator("a").get_attribute("href")
    assert href == f"/api/runs/{run_id}/proof?tree_size={size}"
    await page.screenshot(path=str(ARTIFACTS / "run-in-log.png"), full_page=True)

    status, body = await bot.request("GET", href)
    assert status == 200 and body["tree_size"] == size
    _, key = await bot.request("GET", "/api/log/key")
    signed = cp.open_checkpoint(body["checkpoint"], [key.strip()], "audit.example.test/audit-bot")
    state = await bot.store.get_run(run_id)
    leaf = base64.b64decode(body["leaf_data"])
    assert leaf == merkle.leaf_data(run_id, state["seq"], state["head_hash"])
    merkle.verify_inclusion(
        merkle.leaf_hash(leaf),
        body["leaf_index"],
        size,
        [base64.b64decode(h) for h in body["inclusion_proof"]],
        signed.root,
    )

    # a new event moves the head out of the signed tree until the integrator runs again
    await append(bot, run_id, spend("0.01"))
    await page.reload()
    assert await page.locator(".digest .log-mark").get_attribute("data-log") == "pending"
    assert page.errors == []
