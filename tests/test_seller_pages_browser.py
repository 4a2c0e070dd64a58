"""A seller on a phone (Chromium at 390×844, WeChat's user agent): taps the link of a new-order
push the sandbox's Official Account received, logs in through the sandbox's web authorisation,
sees the order with its tracking, reads a typhoon broadcast's full text, connects a Pinduoduo
shop through the platform's authorisation page, downloads the monthly statement, and finds
nothing of another seller's. Screenshots go to $HELI_SCREENSHOTS when it is set."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlsplit

import requests

from backend.extensions import db
from backend.platforms.models import PlatformOrder, Shop
from backend.settlement import prices
from backend.settlement import service as settlement
from backend.workspace import service as workspace
from tests.helpers import SQLITE_RUN_ONLY, run_jobs, shoot
from tests.test_console_live_browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, _browser_or_fail
from tests.test_platform_orders import Platform, pull, register, rows
from tests.test_seller_notices import make_sellers, messages, seller_headers, typhoon
from tests.test_shop_oauth import OAUTH_PATHS

pytestmark = SQLITE_RUN_ONLY

PHONE = {"width": 390, "height": 844}
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI"
)


def _statement_of_the_connected_shop(app, sandbox, staff_client, store, shop_key: str) -> str:
    """An order of the newly connected (drop-shipped) shop, pulled and shipped by the warehouse,
    which books its wholesale cost on the seller's statement: its order number."""
    with app.app_context():
        tier_id = prices.default_tier(db.session).id
        db.session.commit()
        db.session.remove()
    staff_client.put(
        "/console/api/wholesale-prices",
        json={"sku_id": store["RS-LIVE-L-5"], "tier_id": tier_id, "price": 6800},
    )
    order_no = Platform(sandbox, "pdd").order(shop_key, "PAID")
    with app.app_context():
        shop = db.session.scalar(db.select(Shop).where(Shop.shop_key == shop_key))
        shop_id = shop.id
        db.session.remove()
    pull(app, shop_id)
    [row] = [r for r in rows(app, shop_id) if r.order_no == order_no]
    with app.app_context():  # what the fulfilment desk books as the parcel ships
        settlement.record_shipped_cost(db.session, db.session.get(PlatformOrder, row.id))
        db.session.commit()
        db.session.remove()
    return order_no


def test_a_seller_taps_a_new_order_push_logs_in_and_reads_a_typhoon_warning(
    app, client, sandbox, staff_client, store, oa, tmp_path
):
    sync_playwright = _browser_or_fail()
    from playwright.sync_api import expect

    for setting, path in OAUTH_PATHS.items():
        app.config[setting] = sandbox.url + path
    base = app.config["PUBLIC_BASE_URL"]
    [seller_id, their_id] = make_sellers(app, sandbox, 2)
    their_platform = Platform(sandbox, "douyin")
    theirs = register(
        client,
        {"id": their_id, "headers": seller_headers(staff_client, their_id)},
        their_platform,
        "dy-neighbour-1",
    )
    their_order_no = their_platform.order("dy-neighbour-1", "PAID")
    pull(app, theirs["id"])
    [their_order] = [r.id for r in rows(app, theirs["id"])]
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
    [row] = rows(app, shop["id"])
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
            shoot(page, "seller-order.png", full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

            page.click("nav.tabs a:has-text('消息')")
            page.click("a.row:has-text('台风')")
            expect(page.locator(".body")).to_have_text(typhoon()["body"])
            shoot(page, "seller-broadcast.png", full_page=True)

            page.goto(typhoon_push["url"])  # the broadcast's own push opens the same text
            expect(page.locator(".body")).to_have_text(typhoon()["body"])

            page.click("nav.tabs a:has-text('今日')")
            expect(page.locator(".tiles")).to_contain_text("需我发货")
            shoot(page, "seller-today.png", full_page=True)
            box = page.locator("nav.tabs a").first.bounding_box()
            assert box["height"] >= 44  # a thumb's target

            # connect a Pinduoduo shop through Pinduoduo's own authorisation page
            page.click("nav.tabs a:has-text('店铺')")
            page.click("a.btn:has-text('连接拼多多店铺')")
            pdd_page = sandbox.url + OAUTH_PATHS["PDD_OAUTH_BASE"]
            page.wait_for_url(lambda url: url.startswith(pdd_page))
            page.fill("input[name=shop_id]", "pdd-phone-2")
            page.click("button:has-text('授权')")
            expect(page.locator("body")).to_contain_text("店铺已连接")
            page.goto(f"{base}/seller/shops")
            expect(page.locator("a.row", has_text="pdd-phone-2")).to_contain_text("正常")
            shoot(page, "seller-shops.png", full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

            # the warehouse ships one of its orders: the month's statement, downloaded
            statement_order = _statement_of_the_connected_shop(
                app, sandbox, staff_client, store, "pdd-phone-2"
            )
            page.click("nav.tabs a:has-text('我的')")
            page.click("a.row:has-text('对账单')")
            expect(page.locator(".card").first).to_contain_text("应结 ¥136.00")
            shoot(page, "seller-statements.png", full_page=True)
            with page.expect_download() as download:
                page.click("a.btn:has-text('下载 CSV')")
            saved = tmp_path / "statement.csv"
            download.value.save_as(saved)
            lines = list(csv.reader(io.StringIO(saved.read_bytes().decode("utf-8-sig"))))
            assert any(statement_order in line for line in lines)
            assert ["应付金额（元）", "136.00"] in lines

            # nothing of another seller's
            page.goto(f"{base}/seller/orders/{their_order}")
            expect(page.locator("body")).to_contain_text("页面或记录不存在")
            assert their_order_no not in page.content()
            page.goto(f"{base}/seller/orders")
            assert their_order_no not in page.content()
        finally:
            browser.close()
