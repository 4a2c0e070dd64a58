"""A host runs a show from the console in a real headless Chromium, at a phone's (390×844), a
tablet's (820×1180) and a staff screen's (1366×900) size: the room list opens on the room that
starts soonest, then on the live one; the room's status follows WeChat with no one pressing sync;
a product card waiting for WeChat's audit says so and is pushed once when the audit passes; a
sale is two taps from the list; the sale's figures and the show's figures move without a reload,
and the sale's result stays on the page after it ends. No page ever scrolls sideways.

Screenshots go to $HELI_SCREENSHOTS when it is set."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import requests

from backend.extensions import db
from backend.live import rooms, summary
from backend.live.models import LiveRoom
from backend.queue import redis_client
from backend.staff import service as staff_service
from backend.timeutil import utcnow
from jobs import scheduler
from tests.helpers import (
    ADDRESS,
    SQLITE_RUN_ONLY,
    STAFF_PASSWORD,
    Shopper,
    run_jobs,
    shoot,
    wait_for,
)
from tests.test_console_live_browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, _browser_or_fail

pytestmark = SQLITE_RUN_ONLY

SCREENS = {
    "phone": {"width": 390, "height": 844},
    "tablet": {"width": 820, "height": 1180},
    "desktop": {"width": 1366, "height": 900},
}
ROOM_NAME = "乳山牡蛎开海直播"


def _periodic(app, entry_id: str) -> None:
    """One tick of a periodic job, as the scheduler process enqueues it and a worker runs it."""
    entry = next(entry for entry in scheduler.SCHEDULE if entry.id == entry_id)
    with app.app_context():
        for guard in redis_client().scan_iter(f"heli:periodic:{entry_id}:*"):
            redis_client().delete(guard)  # this test's ticks come faster than the clock's
        assert scheduler.enqueue_periodic(entry)
    run_jobs(app)


def _host_and_rooms(app) -> tuple[str, int]:
    """A host and the rooms they scheduled at WeChat (the sandbox): tonight's, starting in 20
    minutes, and tomorrow's."""
    username = f"host-{uuid.uuid4().hex[:6]}"
    with app.app_context():
        host = staff_service.create_staff(
            db.session,
            username=username,
            password=STAFF_PASSWORD,
            display_name="海阳所小于",
            role="host",
        )
        tonight = rooms.create_room(
            db.session,
            name=ROOM_NAME,
            anchor_name="小于",
            anchor_wechat="heli_anchor",
            starts_at=utcnow() + timedelta(minutes=20),
            ends_at=utcnow() + timedelta(minutes=140),
            staff_id=host.id,
        )
        rooms.create_room(
            db.session,
            name="明晚牡蛎专场直播",
            anchor_name="小于",
            anchor_wechat="heli_anchor",
            starts_at=utcnow() + timedelta(hours=26),
            ends_at=utcnow() + timedelta(hours=28),
            staff_id=host.id,
        )
        room_id = tonight.id
        db.session.remove()
    return username, room_id


def _external_id(app, room_id: int) -> str:
    with app.app_context():
        external = db.session.get(LiveRoom, room_id).external_id
        db.session.remove()
    return external


def _pushes(sandbox, external: str) -> list[dict]:
    res = requests.get(f"{sandbox.url}/sandbox/live/pushes", params={"roomId": external}, timeout=5)
    return res.json()["pushes"]


def _no_sideways_scroll(page, screen: dict, where: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    body = page.evaluate("document.body.scrollWidth")
    assert max(width, body) <= screen["width"], f"{where}: {max(width, body)} px wide"


def _viewer(app, sandbox, n: int) -> Shopper:
    viewer = Shopper.login(app.test_client(), sandbox, f"o_host_viewer_{n}_{uuid.uuid4().hex[:4]}")
    return viewer


def _claim(viewer: Shopper, sale_id: int, quantity: int) -> None:
    res = viewer.post(
        f"/api/v1/flash-sales/{sale_id}/claims",
        json={"quantity": quantity},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert res.status_code == 202, res.json


def _their_order(viewer: Shopper) -> dict:
    return viewer.get("/api/v1/orders").json["items"][0]


@pytest.mark.parametrize("screen_name", list(SCREENS))
def test_a_host_runs_a_show_one_handed(app, sandbox, store, screen_name):
    sync_playwright = _browser_or_fail()
    from playwright.sync_api import expect

    screen = SCREENS[screen_name]
    width = screen["width"]
    narrow = width < 1024
    base = app.config["PUBLIC_BASE_URL"]
    username, room_id = _host_and_rooms(app)
    external = _external_id(app, room_id)
    sku_id = store["RS-LIVE-XL-5"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport=screen, locale="zh-CN", is_mobile=narrow, has_touch=narrow
            )
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(f"{base}/console/login")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", STAFF_PASSWORD)
            page.click("button:has-text('登录')")
            page.wait_for_url(f"{base}/console/")
            _no_sideways_scroll(page, screen, "dashboard")

            # Nothing live yet: the list opens on tonight's room, the one starting soonest.
            page.goto(f"{base}/console/live")
            expect(page.locator("nav.tabs a.active")).to_have_text("即将开播（2）")
            expect(page.locator("ul.rooms a.room").first).to_contain_text(ROOM_NAME)
            _no_sideways_scroll(page, screen, "room list")
            if narrow:  # the menu is one toggle, not columns over the page
                expect(page.locator("nav.menu-wide")).to_be_hidden()
                page.click("details.menu-narrow summary")
                expect(page.locator("details.menu-narrow nav a:has-text('直播间')")).to_be_visible()
                _no_sideways_scroll(page, screen, "open menu")
                shoot(page, f"host-{width}-menu.png", full_page=True)
                page.click("details.menu-narrow summary")
            else:
                expect(page.locator("nav.menu-wide a.active")).to_have_text("直播间")
            shoot(page, f"host-{width}-rooms-upcoming.png", full_page=True)

            page.click(f"ul.rooms a.room:has-text('{ROOM_NAME}')")
            expect(page.locator("h1")).to_have_text(f"直播控制台 · {ROOM_NAME}")
            expect(page.locator("#room-status")).to_have_text("未开始")
            page.evaluate("window.__notReloaded = true")

            # The host starts the stream on the phone; the scheduler's next tick follows it.
            res = requests.post(
                f"{sandbox.url}/sandbox/live/rooms/{external}/status",
                json={"live_status": 101},
                timeout=5,
            )
            assert res.status_code == 200, res.text
            _periodic(app, "sync-live-rooms")
            expect(page.locator("#room-status")).to_have_text("直播中")
            expect(page.locator("#following")).to_contain_text("上次同步")
            assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"

            # A product new to WeChat's goods library: its card waits for the audit, honestly.
            page.select_option("#on-screen-select", str(sku_id))
            page.click("button:has-text('推送讲解商品')")
            expect(page.locator(".flash.warning")).to_contain_text("商品卡片正在审核")
            expect(page.locator("#card-state")).to_contain_text("微信审核中")
            expect(page.locator("#card-state")).to_have_class("badge warn")
            assert _pushes(sandbox, external) == []
            _no_sideways_scroll(page, screen, "card under audit")
            shoot(page, f"host-{width}-card-auditing.png", full_page=True)
            page.evaluate("window.__notReloaded = true")

            # The audit passes at WeChat (the sandbox's clock); the follower pushes the card once.
            requests.post(f"{sandbox.url}/sandbox/clock", json={"advance": 61}, timeout=5)
            _periodic(app, "follow-goods-audits")
            expect(page.locator("#card-state")).to_have_text("已推送给观众")
            _periodic(app, "follow-goods-audits")
            _periodic(app, "sync-live-rooms")
            assert len(_pushes(sandbox, external)) == 1
            assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"

            # Two taps from the list to a running sale: the room, then 开始秒杀 (and confirm).
            page.goto(f"{base}/console/live")
            expect(page.locator("nav.tabs a.active")).to_have_text("直播中（1）")
            _no_sideways_scroll(page, screen, "room list, live")
            shoot(page, f"host-{width}-rooms-live.png", full_page=True)
            page.click(f"ul.rooms a.room:has-text('{ROOM_NAME}')")  # tap 1
            expect(page.locator("#sale-sku")).to_have_value(str(sku_id))  # what is on screen
            expect(page.locator("input[name=units]")).to_have_value("50")
            expect(page.locator("input[name=price]")).to_have_value("138.00")
            expect(page.locator("#sale-more-summary")).to_contain_text("限时 5 分钟")
            _no_sideways_scroll(page, screen, "control room")
            shoot(page, f"host-{width}-room-ready.png", full_page=True)
            asked = []
            page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
            page.click("#sale-start")  # tap 2
            expect(page.locator("#sale-running")).to_be_visible()
            assert "50 份，每份 ¥138.00" in asked[0]
            expect(page.locator("#sale-form")).to_be_hidden()
            expect(page.locator("#sale-remaining")).to_have_text("50")
            page.evaluate("window.__notReloaded = true")

            # Viewers claim and pay: the sale's and the show's figures move without a reload.
            sale_id = int(page.locator("#stop-sale-id").input_value())
            payer, dawdler = _viewer(app, sandbox, 1), _viewer(app, sandbox, 2)
            _claim(payer, sale_id, 2)
            _claim(dawdler, sale_id, 2)
            run_jobs(app)  # the claim writer the claims kicked
            expect(page.locator("#sale-held")).to_have_text("4")
            expect(page.locator("#sale-remaining")).to_have_text("46")
            expect(page.locator("#sale-claims")).to_have_text("2")
            order = _their_order(payer)
            payer.put(f"/api/v1/orders/{order['id']}/address", json=ADDRESS)
            payer.confirm_payment(payer.pay(order["id"]))
            wait_for(lambda: payer.get(f"/api/v1/orders/{order['id']}").json["status"] == "PAID")
            with app.app_context():  # the co-host bot counts a viewer's question
                pipe = redis_client().pipeline()
                summary.record_comment(
                    pipe,
                    room_id,
                    customer_id=1,
                    text="多少钱一斤",
                    questions=["price"],
                    unanswered=False,
                )
                pipe.execute()
            expect(page.locator("#sale-paid")).to_have_text("2")
            expect(page.locator("#sum-paid-orders")).to_have_text("1")
            expect(page.locator("#sum-gmv")).not_to_have_text("¥0.00")
            expect(page.locator("#sum-comments")).to_have_text("1")
            expect(page.locator("#sum-viewers")).to_have_text("1")
            expect(page.locator("#sum-top")).to_have_text("价格（1）")
            assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
            _no_sideways_scroll(page, screen, "sale running")
            shoot(page, f"host-{width}-sale-running.png", full_page=True)

            # The host stops it: the result stays on the page and follows late changes.
            page.once("dialog", lambda dialog: dialog.accept())
            page.click("button:has-text('停止秒杀')")
            expect(page.locator(".flash.success")).to_contain_text("秒杀已停止")
            expect(page.locator("#sale-result")).to_be_visible()
            expect(page.locator("#sale-form")).to_be_visible()
            expect(page.locator("#result-sold")).to_have_text("4")
            expect(page.locator("#result-claims")).to_have_text("2")
            expect(page.locator("#result-paid")).to_have_text("2")
            expect(page.locator("#result-held")).to_have_text("2")
            expect(page.locator("#result-returned")).to_have_text("46")
            page.evaluate("window.__notReloaded = true")
            late = _their_order(dawdler)
            assert dawdler.post(f"/api/v1/orders/{late['id']}/cancel").status_code == 200
            expect(page.locator("#result-released")).to_have_text("2")
            expect(page.locator("#result-held")).to_have_text("0")
            expect(page.locator("#result-sold")).to_have_text("2")
            expect(page.locator("#result-returned")).to_have_text("48")
            assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
            _no_sideways_scroll(page, screen, "sale result")
            shoot(page, f"host-{width}-sale-result.png", full_page=True)
            page.reload()  # kept, not a flash message
            expect(page.locator("#result-paid")).to_have_text("2")
            expect(page.locator("#result-released")).to_have_text("2")
        finally:
            browser.close()
