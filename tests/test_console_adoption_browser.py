"""The 认养 section in a real headless Chromium at a staff screen's size (1366×900): staff open it
from the menu, read the demo's two rafts on the grid, lay out a new raft from the form in 元
and 斤, and find it on the grid; read the harvest calendar; a host puts a raft on screen in a
live room. Screenshots go to $HELI_SCREENSHOTS."""

from __future__ import annotations

from datetime import timedelta

from backend.adoption.units import today
from tests.helpers import SQLITE_RUN_ONLY, STAFF_SCREEN, go_live, room_body, shoot
from tests.test_adoption import _adopt, _unit_id, adopt_and_pay
from tests.test_adoption_harvest import _adopt as adopt_for_harvest
from tests.test_adoption_harvest import _day as day
from tests.test_adoption_harvest import _plan as plan
from tests.test_console_live_browser import _browser_or_fail, staff_page

pytestmark = SQLITE_RUN_ONLY


def test_staff_open_the_grid_and_lay_out_a_raft(app, store, shopper, other_shopper):
    _browser_or_fail()
    from playwright.sync_api import expect

    base = app.config["PUBLIC_BASE_URL"]
    day = today()
    adopt_and_pay(shopper, _unit_id(app, 3, 12))  # cage 12 on raft 3: adopted
    assert _adopt(other_shopper, unit_id=_unit_id(app, 3, 13)).status_code == 201  # paying
    with staff_page(base, STAFF_SCREEN) as page:
        typhoon = {"unit_ids": [_unit_id(app, 5, p) for p in range(19, 25)], "reason": "台风"}
        lost = page.request.post(f"{base}/console/api/adoption/losses", data=typhoon)
        assert lost.status == 201 and lost.json()["units"] == 6
        page.click("header nav.menu-wide a:has-text('认养')")
        expect(page.locator("h1")).to_have_text("认养总览")
        shoot(page, "console-adoption-home.png")
        page.click("nav.section-tabs a:has-text('单元与状态')")
        expect(page.locator("h1")).to_have_text("认养单元与状态")
        expect(page.locator(".units a")).to_have_count(48)
        states = page.eval_on_selector_all(".units a", "cells => cells.map(c => c.dataset.state)")
        assert [states.count(s) for s in ("FREE", "HELD", "ADOPTED", "LOST")] == [40, 1, 1, 6]
        expect(page.locator("header nav.menu-wide a.active")).to_have_text("认养")
        # a raft of 24 fits one row of the grid at this width
        tops = page.eval_on_selector_all(
            "#raft-1-3 .units a", "cells => new Set(cells.map(c => c.offsetTop)).size"
        )
        assert tops == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= STAFF_SCREEN["width"]
        shoot(page, "console-adoption-grid.png")

        page.click("nav.section-tabs a:has-text('新建单元')")
        page.select_option("select[name=sea_area_code]", "RS-HYS-02")
        page.select_option("select[name=farm_id]", label="王家滩合作社")
        page.fill("input[name=raft]", "7")
        page.fill("input[name=positions]", "1-30")
        page.select_option("select[name=kind]", "rope")
        page.fill("input[name=adopt_until]", (day + timedelta(days=20)).isoformat())
        page.fill("input[name=harvest_from]", (day + timedelta(days=60)).isoformat())
        page.fill("input[name=harvest_to]", (day + timedelta(days=90)).isoformat())
        page.fill("input[name=price_yuan]", "288")
        page.fill("input[name=yield_jin]", "8")
        assert page.evaluate("document.documentElement.scrollWidth") <= STAFF_SCREEN["width"]
        shoot(page, "console-adoption-new-units.png")
        page.click("button:has-text('新建单元')")

        expect(page.locator(".flash.success")).to_contain_text("已新建 30 个认养单元")
        expect(page.locator(".units a[data-state=FREE]")).to_have_count(30)
        page.click(".units a >> nth=11")
        expect(page.locator("h1")).to_contain_text("7号筏 12号绳")
        expect(page.locator("dl.facts")).to_contain_text("¥288.00")
        expect(page.locator("dl.facts")).to_contain_text("8.0 斤")
        shoot(page, "console-adoption-unit.png")


def test_staff_read_the_harvest_calendar_and_a_host_puts_a_raft_on_screen(
    app, sandbox, staff_client, store, shopper
):
    _browser_or_fail()
    from playwright.sync_api import expect

    base = app.config["PUBLIC_BASE_URL"]
    adoption = adopt_for_harvest(app, shopper, raft=3, position=12, harvest_now=True)
    planned = plan(shopper, adoption["id"], [{"deliver_on": day(1)}, {"deliver_on": day(8)}])
    assert planned.status_code == 200, planned.json
    room = staff_client.post("/console/api/live/rooms", json=room_body()).json
    go_live(sandbox, staff_client, room["id"])
    with staff_page(base, STAFF_SCREEN) as page:
        page.goto(f"{base}/console/adoption-harvest")
        expect(page.locator("h1")).to_have_text("认养收获日历")
        parcels = page.locator("tr[id^=delivery-]")
        expect(parcels).to_have_count(2)
        expect(parcels.first).to_contain_text(adoption["number"])
        expect(parcels.first).to_contain_text("第 1 / 2 包")
        expect(page.locator(f"#day-{day(1)} h3")).to_have_text("于家养殖户")
        # the first parcel is due within 3 days: its lift can be recorded from here
        expect(parcels.first.locator("input[name=harvested_g]")).to_be_visible()
        expect(parcels.nth(1)).to_contain_text("收货日前 3 天内可采收")
        assert page.evaluate("document.documentElement.scrollWidth") <= STAFF_SCREEN["width"]
        shoot(page, "console-adoption-harvest.png")

        page.goto(f"{base}/console/live/rooms/{room['id']}")
        raft = page.locator("#adoption-where option", has_text="3号筏")
        page.select_option("#adoption-where", value=raft.get_attribute("value"))
        page.fill("#adoption-form input[name=pay_minutes]", "20")
        page.once("dialog", lambda dialog: dialog.accept())  # 确定认养上屏？
        page.click("#adoption-start")
        expect(page.locator("#adoption-running")).to_be_visible()
        expect(page.locator("#adoption-title")).to_contain_text("3号筏")
        expect(page.locator("#adoption-free")).to_have_text("23")  # cage 12 is adopted
        expect(page.locator("#adoption-pay-minutes")).to_have_text("20")
        expect(page.locator("#adoption-household")).to_have_text("于家养殖户")
        assert page.evaluate("document.documentElement.scrollWidth") <= STAFF_SCREEN["width"]
        page.locator("#adoption-card").scroll_into_view_if_needed()
        shoot(page, "console-live-adoption-on-screen.png")
