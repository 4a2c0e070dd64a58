"""The catalogue page in a real headless Chromium at a staff screen's size (1366×900): staff
change the price of the 大 grade and upload its picture, the mini-program's API shows both as
soon as the change is saved, and the audit page shows who did it. Screenshots go to
$HELI_SCREENSHOTS."""

from __future__ import annotations

from backend.catalogue.models import Sku
from backend.extensions import db
from backend.staff.models import Staff
from tests.helpers import SQLITE_RUN_ONLY, STAFF_SCREEN, png, shoot
from tests.test_console_live_browser import _browser_or_fail, staff_page

pytestmark = SQLITE_RUN_ONLY

BIG = "RS-LIVE-L-5"


def test_staff_reprice_the_big_grade_and_upload_its_picture(app, store, tmp_path):
    _browser_or_fail()
    from playwright.sync_api import expect

    with app.app_context():
        sku = db.session.scalar(db.select(Sku).where(Sku.code == BIG))
        sku_id, product_id = sku.id, sku.product_id
        admin = db.session.scalar(db.select(Staff).where(Staff.username == "admin")).display_name
        db.session.remove()
    picture = tmp_path / "big-oysters.png"
    picture.write_bytes(png(900, 900, "#8a9a5b"))
    base = app.config["PUBLIC_BASE_URL"]

    with staff_page(base, STAFF_SCREEN) as page:
        page.click("header nav.menu-wide a:has-text('商品价格')")
        expect(page.locator("h1")).to_have_text("商品与价格")

        row = page.locator(f"#sku-{sku_id}")
        row.locator("input[name=price]").fill("96.00")
        row.locator("button:has-text('改价')").click()
        expect(page.locator(".flash.success")).to_contain_text("¥96.00")
        # the store answers the new price as soon as the page says saved: the catalogue
        # cache's version moves when the change commits
        shown = page.request.get(f"{base}/api/v1/products/{product_id}").json()
        assert next(s["price"] for s in shown["skus"] if s["id"] == sku_id) == 9600

        card = page.locator(f"#product-{product_id}")
        card.locator("input[type=file]").set_input_files(str(picture))
        card.locator("button:has-text('上传图片')").click()
        expect(page.locator(".flash.success")).to_contain_text("图片已更新")
        shown = page.request.get(f"{base}/api/v1/products/{product_id}").json()
        assert shown["image_url"].startswith("/api/v1/pictures/")
        # the page shows the new picture, resized
        image = card.locator("img")
        expect(image).to_have_attribute("src", f"{shown['image_url']}?w=400")
        assert (
            page.evaluate("(img) => img.complete && img.naturalWidth", image.element_handle())
            == 400
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= STAFF_SCREEN["width"]
        shoot(page, "console-catalogue.png")

        page.click("header nav.menu-wide a:has-text('操作记录')")
        rows = page.locator("table tr")
        expect(rows.nth(1)).to_contain_text("上传商品图片")
        expect(rows.nth(2)).to_contain_text("修改价格")
        expect(rows.nth(2)).to_contain_text(admin)
        expect(rows.nth(2)).to_contain_text("¥96.00")
        assert page.evaluate("document.documentElement.scrollWidth") <= STAFF_SCREEN["width"]
        shoot(page, "console-audit.png")
