"""The operations pages in a real headless Chromium at a staff screen's size (1366×900): the
admin opens 运维 from the menu, sees a failed job, the periodic jobs and the sandbox, opens the
job dashboard and retries the failed job there; /metrics answers the same session.
Screenshots go to $HELI_SCREENSHOTS."""

from __future__ import annotations

from rq import Queue
from rq.registry import FailedJobRegistry

from backend.ops import runs
from tests.helpers import SQLITE_RUN_ONLY, STAFF_SCREEN, shoot
from tests.test_console_live_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WAIT_MS,
    _browser_or_fail,
    sign_in,
)
from tests.test_ops import failed_job

pytestmark = SQLITE_RUN_ONLY


def test_admin_walks_the_ops_pages_and_retries_a_failed_job(app, store):
    sync_playwright = _browser_or_fail()
    from playwright.sync_api import expect

    job_id = failed_job(app)
    redis = app.extensions["heli_redis"]
    runs.started(redis, "persist-scans", job_id="j1")
    runs.finished(redis, "persist-scans", outcome=runs.OK)
    runs.started(redis, "sweep-notices", job_id="j2")
    runs.finished(redis, "sweep-notices", outcome=runs.FAILED, error="OperationalError: 数据库忙")
    base = app.config["PUBLIC_BASE_URL"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=STAFF_SCREEN, locale="zh-CN")
            page.set_default_timeout(WAIT_MS)
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            sign_in(page, base)
            page.click("header nav.menu-wide a:has-text('运维')")
            expect(page.locator("h1")).to_have_text("运维")
            expect(page.locator("#failed-total")).to_have_text("1")
            expect(page.locator("#queue-default")).to_contain_text("1")
            expect(page.locator("#periodic-persist-scans")).to_contain_text("成功")
            expect(page.locator("#periodic-sweep-notices")).to_contain_text("数据库忙")
            expect(page.locator("#connection-1")).to_contain_text("沙箱")
            assert page.evaluate("document.documentElement.scrollWidth") <= STAFF_SCREEN["width"]
            # no badge squeezed to one character a line
            badge_heights = page.eval_on_selector_all(
                ".ops .badge", "els => els.map(e => e.getBoundingClientRect().height)"
            )
            assert badge_heights and max(badge_heights) < 30, badge_heights
            shoot(page, "console-ops.png")
            page.locator("#scheduled").scroll_into_view_if_needed()
            shoot(page, "console-ops-full.png", full_page=True)

            page.click("a:has-text('打开任务面板')")
            page.wait_for_url(f"{base}/console/ops/rq/")
            failed_link = page.locator("a[href*='/view/jobs/default/failed/']").first
            expect(failed_link).to_have_text("1")
            shoot(page, "console-ops-rq.png")

            failed_link.click()
            row = page.locator(f"tr[data-job-id='{job_id}']")
            expect(row).to_contain_text("broken_job")
            shoot(page, "console-ops-rq-failed.png")
            row.locator("[data-role=requeue-job-btn]").click()
            expect(row).to_have_count(0)
            assert Queue("default", connection=redis).job_ids == [job_id]
            assert FailedJobRegistry("default", connection=redis).get_job_ids() == []

            scrape = page.request.get(f"{base}/metrics")
            assert scrape.status == 200
            assert 'heli_queue_jobs{queue="default",state="queued"} 1.0' in scrape.text()
            assert errors == []
        finally:
            browser.close()

    page_audit = app.test_client()
    assert page_audit.get("/console/ops/rq/").status_code == 302  # and nobody else gets in
