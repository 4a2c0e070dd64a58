"""The sellers' directory in a real headless Chromium at a staff screen's size (1366×900): staff
search for a seller among 3000, open the seller's page, issue an API token (shown once, copied
with the button) and revoke it. Screenshots go to $HELI_SCREENSHOTS."""

from __future__ import annotations

from tests.helpers import SQLITE_RUN_ONLY, STAFF_SCREEN, shoot
from tests.test_console_live_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WAIT_MS,
    _browser_or_fail,
    sign_in,
)
from tests.test_console_sellers import rich_seller

pytestmark = SQLITE_RUN_ONLY

# Every badge and button on one line: none squeezed to a character per line.
SQUEEZED = """() => [...document.querySelectorAll('main .badge, main button')]
  .filter((el) => {
    if (!el.offsetParent) return false;
    const range = document.createRange();
    range.selectNodeContents(el);
    const lines = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
    return lines.size > 1;
  })
  .map((el) => el.textContent.trim())"""


def _laid_out(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= STAFF_SCREEN["width"]
    assert page.evaluate(SQUEEZED) == []


def test_staff_find_a_seller_issue_a_token_and_revoke_it(app, store):
    sync_playwright = _browser_or_fail()
    from playwright.sync_api import expect

    gong = rich_seller(app)["id"]
    base = app.config["PUBLIC_BASE_URL"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=STAFF_SCREEN, locale="zh-CN")
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            sign_in(page, base)
            page.click("header nav.menu-wide a:has-text('卖家名录')")
            expect(page.locator("h1")).to_have_text("卖家名录")
            expect(page.locator(".pager")).to_contain_text(
                "共 3002 条"
            )  # the demo's 3001 and 老宫家
            shoot(page, "console-sellers.png")
            _laid_out(page)

            page.fill("input[name=q]", "老宫家")
            page.select_option("select[name=town]", "白沙滩镇")
            page.select_option("select[name=platform]", "douyin")
            page.click("form.filters button:has-text('搜索')")
            rows = page.locator("table.sellers tr")
            expect(rows).to_have_count(2)
            expect(rows.nth(1)).to_contain_text("授权已暂停")
            expect(rows.nth(1)).to_contain_text("抖店")
            expect(rows.nth(1)).to_contain_text("收不到")
            _laid_out(page)
            shoot(page, "console-sellers-search.png")

            rows.nth(1).locator("a.seller-link").click()
            page.wait_for_url(f"{base}/console/sellers/{gong}")
            expect(page.locator("h1")).to_contain_text("白沙滩老宫家生蚝")
            expect(page.locator("#shops")).to_contain_text("老宫家抖店")
            expect(page.locator("#orders")).to_contain_text("DY-GONG-778899")
            expect(page.locator("#wechat")).to_contain_text("已绑定，但收不到")
            _laid_out(page)
            shoot(page, "console-seller.png", full_page=True)

            page.fill("#tokens input[name=name]", "ERP 对接")
            page.fill("#tokens input[name=days]", "30")
            page.click("#tokens button:has-text('签发 token')")
            expect(page.locator(".flash.success")).to_contain_text("已签发 API token")
            token = page.locator("#issued-value").text_content().strip()
            assert len(token) >= 40
            page.click("#copy-issued")
            expect(page.locator("#copy-state")).to_have_text("已复制")
            assert page.evaluate("navigator.clipboard.readText()") == token
            shown = page.request.get(
                f"{base}/api/seller/v1/shops", headers={"Authorization": f"Bearer {token}"}
            )
            assert shown.status == 200
            _laid_out(page)
            shoot(page, "console-seller-token.png")

            page.on("dialog", lambda dialog: dialog.accept())
            row = page.locator("#tokens tr", has_text="ERP 对接")
            row.locator("button:has-text('吊销')").click()
            expect(page.locator(".flash.success")).to_contain_text("已吊销")
            expect(page.locator("#tokens tr", has_text="ERP 对接")).to_contain_text("已吊销")
            expect(page.locator("#issued-value")).to_have_count(0)  # shown that once only
            refused = page.request.get(
                f"{base}/api/seller/v1/shops", headers={"Authorization": f"Bearer {token}"}
            )
            assert refused.status == 401
            _laid_out(page)
            shoot(page, "console-seller-revoked.png")

            page.click("header nav.menu-wide a:has-text('操作记录')")
            records = page.locator("table tr")
            expect(records.nth(1)).to_contain_text("吊销卖家 API token")
            expect(records.nth(2)).to_contain_text("签发卖家 API token")
        finally:
            browser.close()
