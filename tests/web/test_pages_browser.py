"""The run and PR pages in a real headless Chromium (Debian's, driven by playwright).

No browser is downloaded: playwright launches the one `find_chromium` names (Debian's
/usr/bin/chromium, which `.ci/run` installs, unless AUDIT_TEST_CHROMIUM says
otherwise). Screenshots land in test-artifacts/ for people to look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.http.access import run_link_token
from tests.support.bot import HEAD, REPO, SECRET, Bot, load_payload
from tests.support.fake_github import FakeGitHub
from tests.support.readside import append, close_pr, note, open_pr, proof, spend

DEBIAN_CHROMIUM = "/usr/bin/chromium"
ON_PATH = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """AUDIT_TEST_CHROMIUM if set; else Debian's chromium; else a Chromium or Chrome on PATH.

    The fallback is for machines without Debian's package, such as GitHub's Ubuntu
    runners (their `chromium` is a snap, which playwright cannot drive; they ship
    Google Chrome). Snap launchers are passed over for that reason.
    """
    named = os.environ.get("AUDIT_TEST_CHROMIUM")
    if named:
        return shutil.which(named)
    if Path(DEBIAN_CHROMIUM).exists():
        return DEBIAN_CHROMIUM
    for name in ON_PATH:
        found = shutil.which(name)
        if found and not Path(found).resolve().is_relative_to("/snap"):
            return found
    return None


CHROMIUM = find_chromium()
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> posted'

PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason=f"no browser: {os.environ['AUDIT_TEST_CHROMIUM']!r} (AUDIT_TEST_CHROMIUM) is not "
    "an executable"
    if os.environ.get("AUDIT_TEST_CHROMIUM")
    else f"no {DEBIAN_CHROMIUM} (.ci/run installs Debian's chromium) and none of "
    f"{', '.join(ON_PATH)} on PATH; or set AUDIT_TEST_CHROMIUM",
)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        await launched.close()


async def new_page(browser: Any, viewport: dict[str, int]) -> Any:
    page = await browser.new_page(viewport=viewport)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.errors = errors
    return page


async def busy_run(bot: Bot) -> str:
    """A PR run with CI (and its minutes' cost), spend in two currencies and a proof."""
    run_id = await open_pr(bot)
    repo = load_payload("pull_request.opened")["repository"]
    await bot.deliver(
        "workflow_run",
        load_payload(
            "workflow_run.in_progress",
            repository=repo,
            workflow_run__head_sha=HEAD,
            workflow_run__updated_at="2019-05-15T15:21:00Z",
        ),
    )
    await bot.deliver(
        "workflow_job",
        load_payload(
            "workflow_job.completed",
            repository=repo,
            workflow_job__head_sha=HEAD,
            workflow_job__started_at="2019-05-15T15:21:00Z",
            workflow_job__completed_at="2019-05-15T15:23:10Z",
        ),
    )
    await append(
        bot,
        run_id,
        spend("0.10", model="review-model", input_tokens=12000, output_tokens=800),
        spend("0.03", category="api"),
        spend("1.25", "USDC", "payment"),
        proof(),
        note(HOSTILE),
    )
    return run_id


async def until_rows(page: Any, n: int) -> None:
    """Wait (no reload) until the timeline has `n` rows."""
    await page.wait_for_function(
        "n => document.querySelectorAll('#timeline tr').length === n", arg=n
    )


async def until(page: Any, element: str, state: str) -> None:
    await page.wait_for_function(
        "([id, state]) => document.getElementById(id).dataset.state === state",
        arg=[element, state],
    )


async def rows(page: Any) -> int:
    return int(await page.locator("#timeline tr").count())


async def test_run_page_shows_the_story_and_updates_live(bot: Bot, browser: Any) -> None:
    run_id = await busy_run(bot)
    _, state = await bot.request("GET", f"/api/runs/{run_id}")
    page = await new_page(browser, DESKTOP)
    await page.goto(f"{bot.url}/runs/{run_id}")

    assert await rows(page) == state["seq"]
    assert state["spend"] == {"USD": "0.13", "USDC": "1.25"}
    spend_text = await page.locator(".card.spend table").inner_text()
    assert "0.13 USD" in spend_text and "1.25 USDC" in spend_text
    assert await page.locator("svg.spend-chart").count() == 2  # one chart per currency
    assert "Chain verified" in await page.locator(".mark.ok").inner_text()
    assert HOSTILE in await page.locator("#timeline").inner_text()  # shown as text
    assert await page.evaluate("window.pwned") is None  # never run
    assert state["head_hash"] in await page.locator(".digest").inner_text()
    tx_link = page.locator(".proof-table a")
    assert (await tx_link.get_attribute("href")).startswith("https://basescan.org/tx/0x")
    await until(page, "live", "on")
    await page.screenshot(path=str(ARTIFACTS / "run-desktop.png"), full_page=True)

    # an event committed now shows up without a reload
    await page.evaluate("window.notReloaded = true")
    await append(bot, run_id, spend("0.07", category="llm"))
    await until_rows(page, state["seq"] + 1)
    await page.wait_for_function(
        "() => document.querySelector('.card.spend table').innerText.includes('0.20 USD')"
    )
    assert await page.evaluate("window.notReloaded") is True
    assert await page.locator("#count").inner_text() == f"{state['seq'] + 1} events"

    # the run ends: its last row appears and the page says so
    await close_pr(bot)
    await until(page, "live", "off")
    assert await page.locator("#live").inner_text() == "run ended"
    await until_rows(page, state["seq"] + 2)
    assert await page.locator(".status").first.inner_text() == "merged"
    assert page.errors == []

    phone = await new_page(browser, PHONE)
    await phone.goto(f"{bot.url}/runs/{run_id}")
    assert await rows(phone) == state["seq"] + 2
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
    await phone.screenshot(path=str(ARTIFACTS / "run-phone.png"), full_page=True)
    await phone.screenshot(path=str(ARTIFACTS / "run-phone-first-screen.png"))
    await phone.locator(".timeline-section").scroll_into_view_if_needed()
    await phone.screenshot(path=str(ARTIFACTS / "run-phone-timeline.png"))


async def test_pr_page_lists_every_run_with_totals(bot: Bot, browser: Any) -> None:
    first = await busy_run(bot)
    await bot.deliver("pull_request", load_payload("pull_request.review_requested"))
    newer_head = "0123456789abcdef0123456789abcdef01234567"
    payload = load_payload("pull_request.synchronize", pull_request__head__sha=newer_head)
    await bot.deliver("pull_request", payload)
    _, listed = await bot.request("GET", f"/api/runs?repo={REPO}&pr=2")
    ids = [r["id"] for r in listed["runs"]]
    assert len(ids) == 3 and first in ids

    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = await new_page(browser, viewport)
        await page.goto(f"{bot.url}/repos/{REPO}/pull/2")
        shown = await page.locator("#runs tr").evaluate_all("rows => rows.map(r => r.dataset.run)")
        assert shown == ids  # newest first
        assert await page.locator("#run-count").inner_text() == "3"
        total = await page.locator("#total-spend").inner_text()
        assert "0.13 USD" in total and "1.25 USDC" in total
        assert await page.locator("#runs .status").all_inner_texts() == [
            r["status"] for r in listed["runs"]
        ]
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"]
        await page.screenshot(path=str(ARTIFACTS / f"pr-{name}.png"), full_page=True)
        assert page.errors == []
    # each run links to its page
    await page.locator(f'#runs a[href="/runs/{first}"]').click()
    await page.wait_for_url(f"**/runs/{first}")
    _, state = await bot.request("GET", f"/api/runs/{first}")
    assert state["status"] == "superseded" and await rows(page) == state["seq"]


async def test_private_run_page_opens_with_the_posted_link_only(
    make_bot: Any, github: FakeGitHub, browser: Any
) -> None:
    bot = await make_bot()
    run_id = await open_pr(bot, 5, repo="octo-org/secret", private=True)
    await bot.settle()
    [comment] = github.comments_on("octo-org/secret", 5)
    token = run_link_token(SECRET, run_id)
    link = f"https://audit.example.test/runs/{run_id}?t={token}"
    assert link in comment["body"]

    page = await new_page(browser, DESKTOP)
    response = await page.goto(f"{bot.url}/runs/{run_id}")
    assert response.status == 404
    assert "No such run" in await page.inner_text("h1")
    page.errors.clear()  # the 404 itself is logged by the browser

    await page.goto(link.replace("https://audit.example.test", bot.url))
    assert await rows(page) == 1
    await until(page, "live", "on")
    await append(bot, run_id, note("private progress"))
    await until_rows(page, 2)
    assert "private progress" in await page.locator("#timeline").inner_text()
    assert page.errors == []
