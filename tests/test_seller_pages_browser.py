"""A seller on a phone (Chromium at 390×844, WeChat's user agent): taps the link of a new-order
push the sandbox's Official Account received, logs in through the sandbox's web authorisation,
sees the order with its tracking, and reads a typhoon broadcast's full text. Screenshots go to
$HELI_SCREENSHOTS when it is set."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from backend.extensions import db
from backend.platforms.models import Shop
from backend.workspace import service as workspace
from tests.helpers import run_jobs
from tests.test_console_live_browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, _browser_or_fail
from tests.test_fulfilment_browser import _keep
from tests.test_platform_orders import Platform, pull, register, rows
from tests.test_seller_notices import make_sellers, messages, seller_headers, typhoon

PHONE = {"width": 390, "height": 844}
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI"
)


def test_a_seller_taps_a_new_order_push_logs_in_and_reads_a_typhoon_warning(
    app, client, sandbox, staff_client, store, oa, tmp_path
):
    sync_playwright = _browser_or_fail()
    from playwright.sync_api import expect

    [seller_id] = make_sellers(app, sandbox, 1)
    openid = f"oa-seller-{seller_id}"
    seller = {"id": seller_id, "headers": seller_headers(staff_client, seller_id)}
    platform = Platform(sandbox, "pdd")
    shop = register(client, seller, platform, "pdd-phone-1")
    with app.app_context():
        db.session.get(Shop, shop["id"]).self_fulfilled = True
        db.session.commit()
        db.session.remove()
    order_no = platform.order("pdd-phone-1", "PAID")
    pull(app, shop["id"])
    [row] = rows(app)
    with app.app_context():  # the seller shipped it from their own stock
        workspace.ship(
            db.session, seller_id=seller_id, order_id=row.id, carrier="ZTO", tracking_no="ZT7001"
        )
        db.session.remove()
    assert staff_client.post("/console/api/broadcasts", json=typhoon()).status_code == 201
    run_jobs(app)
    pushes = messages(sandbox, openid)
    [order_push] = [m for m in pushes if "新订单" in str(m["data"])]
    [typhoon_push] = [m for m in pushes if "台风" in str(m["data"])]
    assert urlsplit(order_push["url"]).path == f"/seller/orders/{row.id}"
    assert urlsplit(typhoon_push["url"]).path.startswith("/seller/broadcasts/")
    # the phone's WeChat is this seller's
    requests.post(f"{sandbox.url}/sandbox/wx/oauth/user", json={"openid": openid}, timeout=5)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport=PHONE,
                user_agent=WECHAT_UA,
                locale="zh-CN",
                device_scale_factor=2,
                is_mobile=True,
                has_touch=True,
            )
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(order_push["url"])  # → login → WeChat authorisation → back to the order
            # (the browser keeps the authorise URL's #wechat_redirect through the redirects)
            page.wait_for_url(lambda url: urlsplit(url).path == f"/seller/orders/{row.id}")
            expect(page.locator("h1")).to_contain_text("拼多多订单")
            expect(page.locator("body")).to_contain_text(order_no)
            expect(page.locator("#tracking")).to_contain_text("中通快递 ZT7001")
            shot = tmp_path / "order.png"
            page.screenshot(path=str(shot), full_page=True)
            _keep(shot, "seller-order.png")
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

            page.click("nav.tabs a:has-text('消息')")
            page.click("a.row:has-text('台风')")
            expect(page.locator(".body")).to_have_text(typhoon()["body"])
            shot = tmp_path / "notice.png"
            page.screenshot(path=str(shot), full_page=True)
            _keep(shot, "seller-broadcast.png")

            page.goto(typhoon_push["url"])  # the broadcast's own push opens the same text
            expect(page.locator(".body")).to_have_text(typhoon()["body"])

            page.click("nav.tabs a:has-text('今日')")
            expect(page.locator(".tiles")).to_contain_text("需我发货")
            shot = tmp_path / "today.png"
            page.screenshot(path=str(shot), full_page=True)
            _keep(shot, "seller-today.png")
            box = page.locator("nav.tabs a").first.bounding_box()
            assert box["height"] >= 44  # a thumb's target
        finally:
            browser.close()
