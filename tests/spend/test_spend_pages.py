"""The spend pages in Chromium at desktop and phone widths: this month, the weekly chart
per currency, the most expensive PRs and runs, spend by model, the CSV link, the owner's
table of repositories; a private repository shown only to a caller who may read it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.github.repo_config import PATH, read_saved, saved_name
from tests.spend.fixture import PRIVATE, PUBLIC, commands, open_run, spend
from tests.support.bot import Bot
from tests.support.fake_github import FakeGitHub
from tests.web.test_pages_browser import ARTIFACTS, DESKTOP, PHONE, new_page

ADMIN = "admin-token-for-pages"


async def filled(make_bot: Any) -> Bot:
    bot = await make_bot(AUDIT_ADMIN_TOKEN=ADMIN)
    for command in commands():
        await bot.store.apply(command)
    return bot


async def test_repository_page_shows_chart_tables_and_csv(make_bot: Any, browser: Any) -> None:
    bot = await filled(make_bot)
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = await new_page(browser, viewport)
        response = await page.goto(f"{bot.url}/repos/{PUBLIC}")
        assert response.status == 200
        assert "default-src 'none'" in response.headers["content-security-policy"]
        charts = page.locator("figure.chart")
        assert sorted(await charts.evaluate_all("fs => fs.map(f => f.dataset.currency)")) == [
            "EUR",
            "USD",
            "USDC",
        ]
        assert await page.locator("svg.weekly rect").count() >= 4
        period = await page.locator("#period-spend").inner_text()
        assert "2.50 EUR" in period and "0.05 USDC" in period
        usd = page.locator('figure[data-currency="USD"] .chart-head strong')
        assert await usd.inner_text() == "123456789012345680.133333333333333334 USD"  # exact
        text = await page.locator("main").inner_text()
        assert "gpt-4o" in text and "claude" in text  # spend by model
        assert "Secret" not in text
        # PR 2 spent USD and USDC: a row per currency
        assert await page.locator(f'a[href="/repos/{PUBLIC}/pull/2"]').count() == 2
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"]
        await page.screenshot(path=str(ARTIFACTS / f"spend-repo-{name}.png"), full_page=True)
        assert page.errors == []
    href = await page.locator("a", has_text="CSV").get_attribute("href")
    assert bot.session is not None
    async with bot.session.get(bot.url + href) as answer:
        rows = list(csv.DictReader(io.StringIO(await answer.text())))
    assert {row["currency"] for row in rows} == {"USD", "EUR", "USDC"}
    # linked from the PR page
    await page.goto(f"{bot.url}/repos/{PUBLIC}/pull/1")
    await page.locator("a", has_text="spend over time").click()
    await page.wait_for_url(f"**/repos/{PUBLIC}")


async def test_owner_page_lists_repositories_private_only_for_readers(
    make_bot: Any, browser: Any
) -> None:
    bot = await filled(make_bot)
    anonymous = await new_page(browser, DESKTOP)
    await anonymous.goto(f"{bot.url}/repos/Acme")
    text = await anonymous.locator("main").inner_text()
    assert "Widgets" in text and "Secret" not in text and "1,000" not in text
    context = await browser.new_context(
        viewport=PHONE, extra_http_headers={"Authorization": f"Bearer {ADMIN}"}
    )
    admin = await context.new_page()
    await admin.goto(f"{bot.url}/repos/Acme")
    text = await admin.locator("main").inner_text()
    assert "Secret" in text and "1000.00 USD" in text
    assert await admin.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await admin.screenshot(path=str(ARTIFACTS / "spend-owner-phone.png"), full_page=True)
    wide = await browser.new_context(
        viewport=DESKTOP, extra_http_headers={"Authorization": f"Bearer {ADMIN}"}
    )
    page = await wide.new_page()
    await page.goto(f"{bot.url}/repos/Acme")
    assert await page.locator(f'a[href="/repos/{PRIVATE}"]').count() >= 1
    await page.screenshot(path=str(ARTIFACTS / "spend-owner-desktop.png"), full_page=True)
    bad = await page.goto(f"{bot.url}/repos/Acme?colour=red")
    assert bad.status == 400


async def test_repository_page_shows_the_month_against_its_monthly_budget(
    make_bot: Any, browser: Any, github: FakeGitHub
) -> None:
    """The month (UTC) against `budget.per_month` as the outbox last read it (when it
    refreshed the PR's summary); a private repository's budget only for callers who may
    read all of its runs."""
    bot = await make_bot(AUDIT_ADMIN_TOKEN=ADMIN)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    for repo, private, amount in ((PUBLIC, False, "150.25"), (PRIVATE, True, "250")):
        github.files[(repo.lower(), PATH)] = "budget:\n  per_month: 200 USD, 5 USDC\n"
        await bot.store.apply(open_run(repo, 9, "agent", private, spend(amount, "USD", now)))
    await bot.settle()
    saved = await bot.store.get_state(saved_name(PRIVATE))
    assert read_saved(saved).month_budget == {"USD": Decimal("200"), "USDC": Decimal("5")}
    for viewport in (DESKTOP, PHONE):
        page = await new_page(browser, viewport)
        await page.goto(f"{bot.url}/repos/{PUBLIC}")
        month = page.locator("#month-spend")
        assert (await month.inner_text()).splitlines() == [
            "150.25 of 200.00 USD budget",
            "0.00 of 5.00 USDC budget",
        ]
        assert await page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        assert page.errors == []

        await page.goto(f"{bot.url}/repos/{PRIVATE}")  # anonymous: neither spend nor budget
        assert "budget" not in await page.locator("#month-spend").inner_text()

    context = await browser.new_context(
        viewport=PHONE, extra_http_headers={"Authorization": f"Bearer {ADMIN}"}
    )
    admin = await context.new_page()
    await admin.goto(f"{bot.url}/repos/{PRIVATE}")
    over = admin.locator("#month-spend .over")
    assert await over.inner_text() == "250.00 of 200.00 USD ⚠️ over budget"
    await admin.screenshot(path=str(ARTIFACTS / "spend-month-budget-phone.png"), full_page=True)
