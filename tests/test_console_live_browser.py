"""The host's control room in a real headless Chromium (Playwright): log in through the form,
start a flash sale through the form, let simulated viewers claim every unit through the API, and
watch the page (never reloaded) turn to 已抢光.

Debian's chromium and the playwright package are required, not optional: CI installs both
(.ci/run, requirements-dev.txt), so their absence fails the test instead of skipping it."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.helpers import SQLITE_RUN_ONLY, Shopper, run_jobs, sku_stock
from tests.test_console_live_pages import add_comment, make_room

pytestmark = SQLITE_RUN_ONLY

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
UNITS, PER_PERSON, VIEWERS = 6, 2, 4  # three viewers get 2 units each, the fourth is too late
WAIT_MS = 15_000


def sign_in(page, base: str, username: str = "admin", password: str = "heli-demo") -> None:
    """Sign in to the console as staff do, and land on its home page."""
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('登录')")
    page.wait_for_url(f"{base}/console/")


def _browser_or_fail():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the Python package `playwright` is missing: pip install -r requirements-dev.txt "
            "(do not run `playwright install`; the test drives Debian's chromium)",
            pytrace=False,
        )
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)",
            pytrace=False,
        )
    return sync_playwright


@contextmanager
def staff_page(base: str, viewport: dict) -> Iterator:
    """A page of headless Chromium at `viewport`, signed in to the console as admin."""
    sync_playwright = _browser_or_fail()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=viewport, locale="zh-CN")
            page.set_default_timeout(WAIT_MS)
            sign_in(page, base)
            yield page
        finally:
            browser.close()


def _claim_everything(app, sandbox, sale_id: int) -> list[int]:
    """Several viewers race for the sale through the mini-program API; answers the statuses."""
    viewers = [Shopper.login(app.test_client(), sandbox, f"o_viewer_{i}") for i in range(VIEWERS)]
    answers: list[int] = []

    def claim(viewer: Shopper) -> None:
        res = viewer.post(
            f"/api/v1/flash-sales/{sale_id}/claims",
            json={"quantity": PER_PERSON},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        answers.append(res.status_code)

    threads = [threading.Thread(target=claim, args=(viewer,)) for viewer in viewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_the_control_room_shows_a_sale_selling_out_live(app, sandbox, store, tmp_path):
    sync_playwright = _browser_or_fail()
    from playwright.sync_api import expect

    base = app.config["PUBLIC_BASE_URL"]
    room_id = make_room(app)
    sku_id = store["RS-LIVE-XL-5"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.set_default_timeout(WAIT_MS)

            sign_in(page, base)

            page.goto(f"{base}/console/live/rooms/{room_id}")
            expect(page.locator("h1")).to_have_text("直播控制台 · 乳山牡蛎开海直播")
            expect(page.locator("#sale-none")).to_be_visible()

            form = page.locator("#sale-form")
            form.locator("select[name=sku_id]").select_option(str(sku_id))
            form.locator("input[name=units]").fill(str(UNITS))
            form.locator("input[name=price]").fill("88.8")
            form.locator("#sale-more summary").click()  # the settings with defaults, folded
            form.locator("input[name=seconds]").fill("600")
            form.locator("input[name=per_person_limit]").fill(str(PER_PERSON))
            form.locator("input[name=pay_minutes]").fill("5")
            page.once("dialog", lambda dialog: dialog.accept())  # 确定开始秒杀？
            form.locator("button[type=submit]").click()

            expect(page.locator(".flash.success")).to_contain_text("秒杀已开始：6 份，每份 ¥88.80")
            expect(page.locator("#sale-remaining")).to_have_text(str(UNITS))
            expect(page.locator("#sale-price")).to_have_text("¥88.80")
            expect(page.locator("#sale-sold-out")).to_be_hidden()
            sale_id = int(page.locator("#stop-sale-id").input_value())
            page.evaluate("window.__notReloaded = true")

            answers = _claim_everything(app, sandbox, sale_id)
            assert sorted(answers) == [202, 202, 202, 409], answers  # won, orders being written
            run_jobs(app)  # the claim writer the claims kicked
            add_comment(app, room_id, "海边人", "抢到了！")

            expect(page.locator("#sale-sold-out")).to_be_visible()
            expect(page.locator("#sale-sold-out")).to_have_text("已抢光")
            expect(page.locator("#sale-remaining")).to_have_text("0")
            expect(page.locator("#sale-held")).to_have_text(str(UNITS))
            expect(page.locator("#sale-paid")).to_have_text("0")
            expect(page.locator("#comments li").last).to_have_text("海边人：抢到了！")
            assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
            assert page.locator("#sale-countdown").inner_text() != "—"

            shot = tmp_path / "control-room.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    picture = shot.read_bytes()
    assert len(picture) > 1000 and picture.startswith(b"\x89PNG\r\n\x1a\n")
    assert sku_stock(app, sku_id) == (200, UNITS)  # every unit held by a claim, none oversold
