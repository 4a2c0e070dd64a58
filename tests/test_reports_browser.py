"""The home page and every report in a real headless Chromium at a staff screen's size
(1366×900): the charts are drawn (ECharts from our own static files, no network) and the tables
fit; how fast each report is on a year of data is bench.reports' figure. Screenshots go to
$HELI_SCREENSHOTS when it is set."""

from __future__ import annotations

from backend.reports.service import REPORTS
from tests.helpers import SQLITE_RUN_ONLY, STAFF_SCREEN, shoot
from tests.test_console_live_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WAIT_MS,
    _browser_or_fail,
    sign_in,
)

pytestmark = SQLITE_RUN_ONLY


def test_staff_read_the_home_page_and_every_report_with_charts(app, shopper, store):
    sync_playwright = _browser_or_fail()
    from playwright.sync_api import expect

    shopper.buy([(store["RS-LIVE-L-5"], 2)])
    shopper.buy([(store["RS-LIVE-XL-5"], 1)])
    base = app.config["PUBLIC_BASE_URL"]
    outside = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=STAFF_SCREEN, locale="zh-CN")
            page.set_default_timeout(WAIT_MS)
            page.on(
                "request", lambda r: outside.append(r.url) if not r.url.startswith(base) else None
            )
            sign_in(page, base)
            expect(page.locator("#sales-trend[data-drawn='1'] svg")).to_have_count(1)
            expect(page.locator(".tile").first).to_contain_text("今日成交额")
            assert page.evaluate("document.documentElement.scrollWidth") <= STAFF_SCREEN["width"]
            shoot(page, "console-home.png")

            for name in REPORTS:
                page.goto(f"{base}/console/reports/{name}")
                expect(page.locator("h2").first).to_contain_text(REPORTS[name][0])
                boxes = page.locator(".chart")
                for index in range(boxes.count()):
                    expect(boxes.nth(index)).to_have_attribute("data-drawn", "1")
                    expect(boxes.nth(index).locator("svg")).to_have_count(1)
                assert (
                    page.evaluate("document.documentElement.scrollWidth") <= STAFF_SCREEN["width"]
                )
                shoot(page, f"report-{name}.png")
        finally:
            browser.close()
    assert outside == []  # no CDN: every script and style is ours
