"""The console refuses state changes from other origins: the JSON API takes only JSON bodies,
and any request a browser marks as coming from another site or another port is refused (the
cookie's SameSite=Lax lets another port of the same host through). A real Chromium run of the
same attacks is in test_console_csrf_browser.py."""

from __future__ import annotations

import pytest

from backend.extensions import db
from backend.sellers.models import BrandLicence, SellerToken
from tests.test_console_pages import csrf_token, text

OWN = "http://localhost"  # the test client's origin


def licence_of(app, seller_id: int) -> tuple[int, str]:
    with app.app_context():
        row = db.session.scalars(
            db.select(BrandLicence).where(BrandLicence.seller_id == seller_id)
        ).one()
        db.session.remove()
        return row.id, row.status


def tokens(app) -> int:
    with app.app_context():
        count = db.session.scalar(db.select(db.func.count()).select_from(SellerToken))
        db.session.remove()
    return count


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("text/plain", '{"note": "x"}'),
        ("application/x-www-form-urlencoded", "note=x"),
        ("multipart/form-data; boundary=b", '--b\r\nContent-Disposition: form-data; name="note"'),
        (None, ""),
    ],
)
def test_the_console_api_changes_nothing_without_a_json_body(
    app, staff_client, licensed, content_type, body
):
    licence_id, _ = licence_of(app, licensed["seller_id"])
    headers = {"Content-Type": content_type} if content_type else {}
    suspend = staff_client.post(
        f"/console/api/licences/{licence_id}/suspend", data=body, headers=headers
    )
    assert suspend.status_code == 415 and suspend.json["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "请以 JSON 格式提交" in suspend.json["message"]
    token = staff_client.post(
        f"/console/api/sellers/{licensed['seller_id']}/api-tokens", data=body, headers=headers
    )
    assert token.status_code == 415
    assert licence_of(app, licensed["seller_id"])[1] == "ACTIVE" and tokens(app) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://localhost:8081"},  # another port of the same host
        {"Origin": "null"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:8081"},
    ],
)
def test_the_console_api_refuses_other_origins_and_ports(app, staff_client, licensed, headers):
    licence_id, _ = licence_of(app, licensed["seller_id"])
    suspend = staff_client.post(
        f"/console/api/licences/{licence_id}/suspend", json={"note": "x"}, headers=headers
    )
    assert suspend.status_code == 403 and suspend.json["code"] == "CROSS_SITE_REFUSED"
    token = staff_client.post(
        f"/console/api/sellers/{licensed['seller_id']}/api-tokens", json={}, headers=headers
    )
    assert token.status_code == 403
    assert licence_of(app, licensed["seller_id"])[1] == "ACTIVE" and tokens(app) == 0


def test_the_console_api_takes_json_from_its_own_origin(app, staff_client, licensed):
    licence_id, _ = licence_of(app, licensed["seller_id"])
    own = {"Origin": OWN, "Sec-Fetch-Site": "same-origin"}
    suspend = staff_client.post(
        f"/console/api/licences/{licence_id}/suspend", json={"note": "核查"}, headers=own
    )
    assert suspend.status_code == 200 and suspend.json["status"] == "SUSPENDED"


def test_signing_in_from_another_origin_is_refused(app, client, store):
    body = {"username": "admin", "password": "heli-demo"}
    foreign = client.post("/console/api/login", json=body, headers={"Origin": "http://evil.x"})
    assert foreign.status_code == 403
    assert client.get("/console/").status_code == 302


def test_a_page_form_from_another_port_is_refused_even_with_a_token(app, client, licensed):
    form = {"csrf_token": csrf_token(client), "username": "admin", "password": "heli-demo"}
    assert client.post("/console/login", data=form).status_code == 302
    licence_id, _ = licence_of(app, licensed["seller_id"])
    token = csrf_token(client, "/console/licences")
    path = f"/console/licences/{licence_id}/suspend"
    refused = client.post(
        path,
        data={"csrf_token": token, "note": "x"},
        headers={"Origin": "http://localhost:8081", "Sec-Fetch-Site": "same-site"},
    )
    assert refused.status_code == 403 and "拒绝来自其他网站的请求" in text(refused)
    assert licence_of(app, licensed["seller_id"])[1] == "ACTIVE"
    done = client.post(path, data={"csrf_token": token, "note": "x"}, headers={"Origin": OWN})
    assert done.status_code == 302 and licence_of(app, licensed["seller_id"])[1] == "SUSPENDED"
