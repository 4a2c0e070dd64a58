"""Seller-API tokens expire and can be listed and revoked; a shop is registered only with a token
its platform takes, so nobody squats another seller's shop with a made-up token."""

from __future__ import annotations

from datetime import timedelta

import requests

from backend.extensions import db
from backend.platforms.models import Shop
from backend.sellers import service as sellers
from backend.sellers.models import SellerToken
from backend.timeutil import utcnow


def new_seller(app, name: str) -> int:
    with app.app_context():
        seller_id = sellers.create_seller(db.session, name=name).id
        db.session.commit()
        db.session.remove()
    return seller_id


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def authorise(sandbox, shop_key: str) -> dict:
    """The shop's owner authorises our app on the platform (the sandbox's Douyin)."""
    res = requests.post(
        f"{sandbox.url}/sandbox/platforms/douyin/shops", json={"shop_id": shop_key}, timeout=30
    )
    assert res.status_code in (200, 201), res.text
    return res.json()


def register(client, token: str, shop_key: str, access_token: str, refresh_token=None):
    return client.post(
        "/api/seller/v1/shops",
        headers=bearer(token),
        json={
            "platform": "douyin",
            "shop_key": shop_key,
            "access_token": access_token,
            "refresh_token": refresh_token,
            "expires_in": 86400,
        },
    )


def test_a_made_up_token_registers_no_shop_and_the_owner_still_can(
    app, client, sandbox, staff_client
):
    squatter = staff_client.post(
        f"/console/api/sellers/{new_seller(app, '抢注的')}/api-tokens", json={}
    ).json["token"]
    owner = staff_client.post(
        f"/console/api/sellers/{new_seller(app, '店主')}/api-tokens", json={}
    ).json["token"]
    squat = register(client, squatter, "dy-owned", "garbage-token")
    assert (squat.status_code, squat.json["code"]) == (422, "SHOP_TOKEN_REJECTED")
    grant = authorise(sandbox, "dy-owned")
    mine = register(client, owner, "dy-owned", grant["access_token"], grant["refresh_token"])
    assert mine.status_code == 201, mine.json
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Shop)) == 1
        db.session.remove()


def test_the_platform_being_down_is_a_503_not_a_refusal(app, client, sandbox, staff_client):
    token = staff_client.post(
        f"/console/api/sellers/{new_seller(app, '老王')}/api-tokens", json={}
    ).json["token"]
    grant = authorise(sandbox, "dy-down")
    fault = requests.post(
        f"{sandbox.url}/sandbox/platforms/douyin/faults",
        json={"kind": "server_error", "times": 10},
        timeout=30,
    )
    assert fault.status_code in (200, 201), fault.text
    res = register(client, token, "dy-down", grant["access_token"], grant["refresh_token"])
    assert (res.status_code, res.json["code"]) == (503, "PLATFORM_UNAVAILABLE")


def test_tokens_expire_and_can_be_listed_and_revoked(app, client, staff_client):
    seller_id = new_seller(app, "海阳所老于")
    base = f"/console/api/sellers/{seller_id}/api-tokens"
    issued = staff_client.post(base, json={"name": "ERP 对接", "days": 30})
    assert issued.status_code == 201
    first = issued.json
    assert first["active"] and first["name"] == "ERP 对接" and first["expires_at"]
    second = staff_client.post(base, json={}).json  # the default lifetime: SELLER_TOKEN_DAYS
    assert client.get("/api/seller/v1/shops", headers=bearer(first["token"])).status_code == 200

    listed = staff_client.get(base).json["items"]
    assert [row["id"] for row in listed] == [second["id"], first["id"]]
    assert "token" not in listed[0] and listed[1]["last_used_at"] is not None

    revoked = staff_client.post(f"{base}/{first['id']}/revoke", json={})
    assert revoked.status_code == 200 and not revoked.json["active"]
    assert client.get("/api/seller/v1/shops", headers=bearer(first["token"])).status_code == 401

    with app.app_context():
        db.session.get(SellerToken, second["id"]).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        db.session.remove()
    assert client.get("/api/seller/v1/shops", headers=bearer(second["token"])).status_code == 401
    other = new_seller(app, "别人")
    elsewhere = staff_client.post(
        f"/console/api/sellers/{other}/api-tokens/{second['id']}/revoke", json={}
    )
    assert (elsewhere.status_code, elsewhere.json["code"]) == (404, "TOKEN_NOT_FOUND")
