"""Cross-site request forgery against the console, in a real headless Chromium (Playwright):
an administrator signed in to the console opens a page served from another port of the same
host (the same "site", so SameSite=Lax cookies travel with its requests) and one from another
site. Their scripts and forms try to issue a seller token and suspend a licence; nothing
happens. The console's own page still does both."""

from __future__ import annotations

import threading

from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from backend.extensions import db
from backend.sellers.models import BrandLicence, SellerToken
from tests.conftest import _Quiet
from tests.helpers import SQLITE_RUN_ONLY
from tests.test_console_live_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WAIT_MS,
    _browser_or_fail,
    sign_in,
)

pytestmark = SQLITE_RUN_ONLY

ATTACK = """<!doctype html><meta charset="utf-8"><title>抽奖</title>
<form id="form" method="post" enctype="text/plain"
      action="{console}/console/api/licences/{licence}/suspend">
  <input type="hidden" name='{{"note": "x", "pad": "' value='"}}'>
</form>
<script>
async function attack() {{
  const tries = [
    ["/console/api/sellers/{seller}/api-tokens", "text/plain", "{{}}"],
    ["/console/api/licences/{licence}/suspend", "text/plain", '{{"note": "x"}}'],
    ["/console/api/sellers/{seller}/api-tokens", "application/x-www-form-urlencoded", "a=1"],
    ["/console/api/licences/{licence}/suspend", "application/json", '{{"note": "x"}}'],
  ];
  for (const [path, type, body] of tries) {{
    for (const mode of ["no-cors", "cors"]) {{
      if (mode === "no-cors" && type === "application/json") continue;
      try {{
        await fetch("{console}" + path, {{method: "POST", mode, credentials: "include",
                                          headers: {{"Content-Type": type}}, body}});
      }} catch (refused) {{}}
    }}
  }}
  document.title = "sent";
}}
attack();
</script>"""


def _serve(html: str):
    """The attacker's page on a port of its own (127.0.0.1 and localhost both reach it)."""

    def page(environ, start_response):
        return Response(html, mimetype="text/html")(environ, start_response)

    server = make_server("127.0.0.1", 0, page, threaded=True, request_handler=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _state(app, seller_id: int) -> tuple[str, int]:
    with app.app_context():
        status = db.session.scalar(
            db.select(BrandLicence.status).where(BrandLicence.seller_id == seller_id)
        )
        count = db.session.scalar(db.select(db.func.count()).select_from(SellerToken))
        db.session.remove()
    return status, count


def test_pages_of_another_port_or_site_cannot_act_for_a_signed_in_admin(app, licensed):
    sync_playwright = _browser_or_fail()
    base = app.config["PUBLIC_BASE_URL"]
    seller = licensed["seller_id"]
    with app.app_context():
        licence = db.session.scalar(
            db.select(BrandLicence.id).where(BrandLicence.seller_id == seller)
        )
        db.session.remove()
    attacker = _serve(ATTACK.format(console=base, seller=seller, licence=licence))
    port = attacker.server_port
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(locale="zh-CN")
                page.set_default_timeout(WAIT_MS)
                sign_in(page, base)

                for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
                    page.goto(f"{origin}/")
                    page.wait_for_function("document.title === 'sent'")
                    with page.expect_navigation():
                        page.evaluate("document.getElementById('form').submit()")
                    assert _state(app, seller) == ("ACTIVE", 0), origin

                # The console's own page may do what the others could not.
                page.goto(f"{base}/console/")
                statuses = page.evaluate(
                    """async ([seller, licence]) => {
                        const post = (path, body) => fetch(path, {method: "POST",
                            headers: {"Content-Type": "application/json"}, body});
                        const token = await post(`/console/api/sellers/${seller}/api-tokens`, "{}");
                        const suspend = await post(`/console/api/licences/${licence}/suspend`,
                                                   '{"note": "核查"}');
                        return [token.status, suspend.status];
                    }""",
                    [seller, licence],
                )
                assert statuses == [201, 200]
                assert _state(app, seller) == ("SUSPENDED", 1)
            finally:
                browser.close()
    finally:
        attacker.shutdown()
