"""The broadcast composer and the platform-order desk in a real headless Chromium at a staff
screen's size (1366×900): staff choose a category and an audience from lists, preview how many
sellers it matches and WeChat reaches, send it, and watch a report whose parts add up; the desk
shows the platform's item title and our suggested SKU. Screenshots go to $HELI_SCREENSHOTS."""

from __future__ import annotations

from tests.helpers import SQLITE_RUN_ONLY, STAFF_SCREEN, run_jobs, shoot
from tests.test_console_broadcasts import reachable_and_not
from tests.test_console_live_browser import WAIT_MS, _browser_or_fail, staff_page
from tests.test_platform_orders import Platform, pull, register, seller  # noqa: F401

pytestmark = SQLITE_RUN_ONLY


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= STAFF_SCREEN["width"]


def _report_parts(page) -> dict[str, int]:
    return {
        key: int(page.locator(f"#{key}").inner_text())
        for key in ("sent", "failed", "unreachable", "pending", "recipients")
    }


def test_compose_preview_send_and_map_a_platform_item(
    app,
    client,
    sandbox,
    store,
    seller,  # noqa: F811
):
    _browser_or_fail()
    from playwright.sync_api import expect

    reachable_and_not(app, sandbox)  # 4 reachable, 2 unbound, 1 unfollowed in 测试东镇
    platform = Platform(sandbox, "taobao")
    shop = register(client, seller, platform, "tb-titles")
    platform.order(
        "tb-titles",
        items=[
            {
                "outer_id": "LAOWANG-HAOSHENG-TEDA-5J-0001",
                "quantity": 2,
                "unit_price_fen": 13800,
                "title": "乳山鲜活生蚝 特大号 5斤装 顺丰冷链包邮",
            },
            {"outer_id": "RS-LIVE-M-5", "quantity": 1, "unit_price_fen": 6900, "title": "中号5斤"},
        ],
    )
    platform.order(
        "tb-titles",
        items=[
            {
                "outer_id": "WANG-OYSTER-BIG",
                "quantity": 1,
                "unit_price_fen": 9800,
                "title": "乳山生蚝 顺丰包邮",
            }
        ],
    )
    pull(app, shop["id"])
    base = app.config["PUBLIC_BASE_URL"]

    with staff_page(base, STAFF_SCREEN) as page:
        page.click("header nav.menu-wide a:has-text('联盟广播')")
        expect(page.locator("h1")).to_have_text("联盟广播")
        assert page.locator("select[name=category]").input_value() == ""  # no default
        expect(page.locator("#send-button")).to_have_count(0)

        page.fill("input[name=title]", "价格指导：大号五斤装")
        page.select_option("select[name=category]", "price")
        page.fill("textarea[name=body]", "本周大号五斤装指导价 98 元，请各位卖家统一调整。")
        page.check("input[name=towns][value='测试东镇']")
        page.click("#preview-button")
        expect(page.locator("#matched")).to_have_text("7")
        expect(page.locator("#reachable")).to_have_text("4")
        expect(page.locator("#reach")).to_contain_text("2 位未绑定公众号")
        _fits(page)
        page.locator("#reach").scroll_into_view_if_needed()
        shoot(page, "console-broadcast-preview.png", full_page=True)

        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#send-button")
        expect(page.locator(".flash.success")).to_contain_text("微信可达 4 位")
        parts = _report_parts(page)
        assert parts["recipients"] == 7
        assert sum(v for k, v in parts.items() if k != "recipients") == 7
        run_jobs(app)
        page.reload()
        expect(page.locator("#status")).to_have_text("已完成", timeout=WAIT_MS)
        parts = _report_parts(page)
        assert parts == {
            "sent": 4,
            "failed": 0,
            "unreachable": 3,  # 2 never bound, 1 unfollowed
            "pending": 0,
            "recipients": 7,
        }
        _fits(page)
        shoot(page, "console-broadcast-report.png", full_page=True)

        page.click("header nav.menu-wide a:has-text('联盟广播')")
        expect(page.locator("table tbody tr").first).to_contain_text("已完成")
        _fits(page)
        shoot(page, "console-broadcast-list.png", full_page=True)

        page.click("header nav.menu-wide a:has-text('平台订单')")
        expect(page.locator("table.waiting")).to_contain_text(
            "乳山鲜活生蚝 特大号 5斤装 顺丰冷链包邮"
        )
        expect(page.locator(".suggest.has").first).to_contain_text("建议 RS-LIVE-XL-5")
        expect(page.locator(".suggest.none").first).to_contain_text("没有等级或重量")
        code = page.locator("code.short-code[title='LAOWANG-HAOSHENG-TEDA-5J-0001']")
        expect(code).to_have_text("LAOWANG-HA…0001")
        # badges stay on one line: one line of 12 px text is under 24 px high
        for badge in page.locator("table.waiting .badge").all():
            assert badge.bounding_box()["height"] < 24
        _fits(page)
        shoot(page, "console-platform-orders.png", full_page=True)

        page.locator(".map-form button").first.click()
        expect(page.locator(".flash.success")).to_contain_text("已映射")
