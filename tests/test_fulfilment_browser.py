"""The warehouse desk in a real headless Chromium at a staff screen's size (1366×900): find the
paid order on the desk, open its packing page, scan its trace codes into the form, confirm, and
print the slip with the courier's label. Screenshots go to $HELI_SCREENSHOTS when it is set."""

from __future__ import annotations

from tests.helpers import SQLITE_RUN_ONLY, STAFF_SCREEN, run_codes, run_jobs, shoot
from tests.test_console_live_browser import _browser_or_fail, staff_page

pytestmark = SQLITE_RUN_ONLY


def test_staff_pack_and_ship_an_order_from_the_desk(
    app, sandbox, shopper, store, licensed, monkeypatch
):
    _browser_or_fail()
    from playwright.sync_api import expect

    monkeypatch.setitem(app.config, "STORE_SELLER_ID", licensed["seller_id"])
    order = shopper.buy([(store["RS-LIVE-XL-5"], 2)])
    base = app.config["PUBLIC_BASE_URL"]

    with staff_page(base, STAFF_SCREEN) as page:
        # an admin's whole menu fits the staff screen: no sideways scroll, 退出 in view
        assert page.evaluate("document.documentElement.scrollWidth") <= STAFF_SCREEN["width"]
        logout = page.locator("header button:has-text('退出')").bounding_box()
        assert logout["x"] + logout["width"] <= STAFF_SCREEN["width"]

        page.goto(f"{base}/console/fulfilment")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("button:has-text('立即成波')")
        expect(page.locator(".flash.success")).to_contain_text("已生成波次")
        expect(page.locator("h2").first).to_have_text("拣货单（按批次，先到期先拣）")
        shoot(page, "fulfilment-wave.png", full_page=True)

        page.goto(f"{base}/console/fulfilment?q={order['number']}")
        expect(page.locator("table tr")).to_have_count(2)
        shoot(page, "fulfilment-desk.png", full_page=True)
        page.click(f"a:has-text('{order['number']}')")
        expect(page.locator("h1")).to_contain_text(order["number"])

        codes = run_codes(app, print_run_for(app, licensed))
        page.fill("input[name=code]", "NOT-A-REAL-CODE")
        page.keyboard.press("Enter")
        expect(page.locator(".flash.error")).to_contain_text("防伪码不存在")
        for code in codes[:2]:
            page.fill("input[name=code]", code)
            page.keyboard.press("Enter")
            expect(page.locator(".flash.success")).to_contain_text(f"已绑定 {code}")
        expect(page.locator("h2#scan")).to_have_text("防伪码（2/2）")
        page.click("button:has-text('打包完成，申请面单')")
        expect(page.locator(".flash.success")).to_contain_text("打包完成")
        run_jobs(app)
        page.reload()
        expect(page.locator("h1 .badge")).to_have_text("已发货")
        shoot(page, "fulfilment-parcel.png", full_page=True)

        with page.expect_popup() as popup:
            page.click("a:has-text('打印面单和装箱单')")
        slip = popup.value
        slip.wait_for_load_state()
        label = slip.locator("img.label")
        expect(label).to_be_visible()
        assert slip.evaluate("document.querySelector('img.label').naturalWidth") > 0
        shoot(slip, "fulfilment-slip.png", full_page=True)

        # The buyer claims dead oysters with a photo; staff open the after-sales desk.
        item = shopper.get(f"/api/v1/orders/{order['id']}").json["items"][0]
        claim = shopper.post(
            f"/api/v1/orders/{order['id']}/after-sales",
            json={
                "type": "DEAD_ON_ARRIVAL",
                "reason": "开箱有三只死的",
                "photos": shopper.photo_keys(1),
                "dead_count": 3,
                "order_item_id": item["id"],
            },
        )
        assert claim.status_code == 201, claim.json
        page.goto(f"{base}/console/after-sales")
        expect(page.locator("table tr").nth(1)).to_contain_text("死货理赔")
        expect(page.locator("a:has-text('照片1')")).to_be_visible()
        shoot(page, "after-sales.png", full_page=True)


def print_run_for(app, licensed) -> int:
    """A print run of 2 codes for the licensed lot, issued as staff would."""
    from backend.extensions import db
    from backend.trace import service as trace

    with app.app_context():
        run = trace.create_print_run(
            db.session,
            seller_id=licensed["seller_id"],
            lot_id=licensed["lot_id"],
            quantity=2,
            staff_id=None,
        )
        run_id = run.id
        db.session.remove()
    return run_id
