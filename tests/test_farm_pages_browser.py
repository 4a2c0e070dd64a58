"""A farming household's member on a phone (Chromium at 390×844, WeChat's user agent): staff
hand out a bind code, the member opens /farm/ from WeChat, is authorised through the sandbox's
Official Account, enters a wrong code and then the right one, sees the rafts with their adopters,
posts a growth update for raft 3 with a photo (a water temperature out of range is refused
first), and finds it among their posts; the adopter of cage 12 is told. Screenshots go to
$HELI_SCREENSHOTS when it is set."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests

from backend.adoption import growth
from backend.adoption.models import GrowthUpdate
from backend.extensions import db
from tests.helpers import SQLITE_RUN_ONLY, png, run_jobs, shoot
from tests.test_adoption_growth import _grant, _sent, _unit, adopt
from tests.test_console_live_browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, _browser_or_fail
from tests.test_seller_pages_browser import PHONE, WECHAT_UA

pytestmark = SQLITE_RUN_ONLY

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CODE = re.compile(r'id="bind-code">(\d{8})<')


def _bind_code(app, staff_client) -> str:
    """Staff issue a bind code for 于大海 of 于家养殖户 on the console's growth page."""
    _, farm_id, _ = _unit(app, 3, 12)
    page = staff_client.get("/console/growth-updates")
    form = {"csrf_token": TOKEN.search(page.text).group(1), "farm_id": farm_id, "name": "于大海"}
    issued = staff_client.post("/console/farm-members/bind-code", data=form)
    assert issued.status_code == 200
    return CODE.search(issued.text).group(1)


def test_a_household_member_binds_their_wechat_and_posts_an_update_with_a_photo(
    app, client, sandbox, store, staff_client, tmp_path
):
    sync_playwright = _browser_or_fail()
    from playwright.sync_api import expect

    base = app.config["PUBLIC_BASE_URL"]
    code = _bind_code(app, staff_client)
    cage12, _, _ = _unit(app, 3, 12)
    adopter, _ = adopt(app, client, sandbox, "o-adopter-cage12", cage12)
    _grant(sandbox, adopter.openid)
    requests.post(f"{sandbox.url}/sandbox/wx/oauth/user", json={"openid": "oa-farm-yu"}, timeout=5)
    photo = tmp_path / "oysters.png"
    photo.write_bytes(png(640, 480, "#4f7f6a"))

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
            page.goto(f"{base}/farm/")  # → login → WeChat authorisation → the bind code
            expect(page.locator("h1")).to_have_text("绑定您的微信")
            page.fill("#code", "00000000")
            page.click("button:has-text('绑定并登录')")
            expect(page.locator(".flash.error")).to_contain_text("绑定码错误或已过期")
            page.fill("#code", code)
            page.click("button:has-text('绑定并登录')")
            page.wait_for_url(lambda url: urlsplit(url).path == "/farm/")  # where it began
            expect(page.locator("header")).to_contain_text("于家养殖户 · 于大海")
            expect(page.locator(".card", has_text="3号筏")).to_contain_text("1 位认养人")
            shoot(page, "farm-units.png", full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

            page.click("a.btn:has-text('为 3号筏发布生长动态')")
            expect(page.locator("h1")).to_have_text("发布生长动态")
            page.set_input_files("#album", str(photo))
            page.fill("#size_mm", "62")
            page.fill("#water_temp_c", "80")
            page.fill("#salinity_permille", "31.2")
            page.fill("#note", "今天风浪小，牡蛎长势好")
            page.click("button:has-text('发布')")
            expect(page.locator(".flash.error")).to_contain_text("水温 80℃ 不在合理范围")
            shoot(page, "farm-post-refused.png", full_page=True)
            assert page.locator("#note").input_value() == "今天风浪小，牡蛎长势好"

            page.set_input_files("#album", str(photo))  # a browser never keeps a chosen file
            page.fill("#water_temp_c", "14.5")
            page.click("button:has-text('发布')")
            page.wait_for_url(lambda url: urlsplit(url).path == "/farm/updates")
            expect(page.locator(".flash.ok")).to_contain_text("已发布到 24 个单元")
            card = page.locator(".card").first
            expect(card).to_contain_text("壳长 62毫米 · 水温 14.5℃ · 盐度 31.2‰")
            expect(card).to_contain_text("等 24 个单元")
            thumb = card.locator(".photos img").first
            expect(thumb).to_be_visible()
            assert page.evaluate("(img) => img.naturalWidth", thumb.element_handle()) == 200
            shoot(page, "farm-updates.png", full_page=True)
        finally:
            browser.close()

    run_jobs(app)
    [message] = _sent(sandbox, adopter.openid)
    assert message["data"]["thing1"]["value"] == "3号筏 12号笼"
    with app.app_context():
        rows = db.session.scalars(db.select(GrowthUpdate)).all()
        assert len(rows) == 24 and {row.posted_by for row in rows} == {"于大海"}
        assert len(growth.timeline(db.session, unit_id=cage12)) == 1
        db.session.remove()
