import hashlib

import pytest
import requests
from sqlalchemy import event

from backend.customers import service as customers
from backend.customers.models import AuthToken, Customer
from backend.extensions import db
from backend.timeutil import utcnow
from tests.helpers import Shopper, login_code


def test_login_creates_the_customer_once_and_the_token_works(app, client, sandbox):
    for _ in range(2):
        res = client.post("/api/v1/auth/login", json={"code": login_code(sandbox, "o_login")})
        assert res.status_code == 200
        assert res.json["token"] and res.json["user"]["nickname"].startswith("微信用户")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Customer)) == 1
    cart = client.get("/api/v1/cart", headers={"Authorization": f"Bearer {res.json['token']}"})
    assert cart.status_code == 200 and cart.json == {"items": [], "total": 0, "amount": 0}


def test_a_login_code_works_once(client, sandbox):
    code = login_code(sandbox, "o_once")
    assert client.post("/api/v1/auth/login", json={"code": code}).status_code == 200
    again = client.post("/api/v1/auth/login", json={"code": code})
    assert again.status_code == 401
    assert again.json["code"] == "INVALID_LOGIN_CODE" and "重新登录" in again.json["message"]


def test_missing_or_bad_login_body(client):
    assert client.post("/api/v1/auth/login", json={}).json["code"] == "VALIDATION_ERROR"
    res = client.post("/api/v1/auth/login", data="not json", content_type="application/json")
    assert res.status_code == 400 and res.json["message"]


def _session_key(token: str) -> str:
    return f"heli:session:{hashlib.sha256(token.encode()).hexdigest()}"


def test_missing_invalid_and_expired_tokens_are_refused(app, client, shopper):
    assert client.get("/api/v1/orders").status_code == 401
    bad = client.get("/api/v1/orders", headers={"Authorization": "Bearer forged-token"})
    assert bad.status_code == 401 and bad.json["message"] == "请先登录"
    assert (
        client.get("/api/v1/orders", headers={"Authorization": "Bearer forged-token"}).json[
            "message"
        ]
        == "请先登录"
    )  # (then from the cache of unknown tokens)
    redis = app.extensions["heli_redis"]
    # The cached session ends with the token: Redis drops it at the token's expiry.
    ttl = redis.ttl(_session_key(shopper.token))
    assert app.config["TOKEN_TTL_HOURS"] * 3600 - 60 <= ttl <= app.config["TOKEN_TTL_HOURS"] * 3600
    with app.app_context():
        db.session.execute(db.update(AuthToken).values(expires_at=utcnow()))
        db.session.commit()
    redis.delete(_session_key(shopper.token))  # what the expiry does to the cache
    assert shopper.get("/api/v1/orders").status_code == 401


def test_a_session_is_checked_without_the_database_once_cached(app, shopper):
    """The cart's own queries are the same each time; checking the token adds one only when
    the cache does not know it."""
    statements = []

    def count(*_args):
        statements.append(1)

    def cart_statements() -> int:
        before = len(statements)
        assert shopper.get("/api/v1/cart").status_code == 200
        return len(statements) - before

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
    try:
        cached = cart_statements()  # login cached the session
        app.extensions["heli_redis"].delete(_session_key(shopper.token))  # Redis forgot it
        assert cart_statements() == cached + 1
        assert cart_statements() == cached  # filled again
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", count)


def test_logout_ends_the_session_at_once(app, client, sandbox, shopper):
    other = Shopper.login(client, sandbox, shopper.openid)  # the same buyer on another phone
    assert shopper.get("/api/v1/orders").status_code == 200  # cached
    out = shopper.post("/api/v1/auth/logout")
    assert out.status_code == 204
    refused = shopper.get("/api/v1/orders")
    assert refused.status_code == 401 and refused.json["message"] == "请先登录"
    assert shopper.post("/api/v1/auth/logout").status_code == 401
    assert other.get("/api/v1/orders").status_code == 200
    with app.app_context():
        left = db.session.scalar(db.select(db.func.count()).select_from(AuthToken))
        # a request that read the token before the logout cannot cache it again
        assert customers.authenticate(db.session, shopper.token) is None
        db.session.remove()
    assert left == 1


@pytest.mark.parametrize("errcode", [40001, 42001])
def test_wechat_answering_token_errors_forever_is_retried_a_bounded_number_of_times(
    client, sandbox, errcode
):
    code = login_code(sandbox, "o_loop")
    requests.post(
        f"{sandbox.url}/sandbox/faults",
        json={"wechat_errcode": errcode, "wechat_errcode_times": None},
        timeout=5,
    )
    res = client.post("/api/v1/auth/login", json={"code": code})
    assert res.status_code == 503 and res.json["code"] == "UPSTREAM_UNAVAILABLE"
    calls = requests.get(f"{sandbox.url}/sandbox/wx/token-calls", timeout=5).json()
    assert 1 <= calls["stable_token"] <= 3


def test_wechat_unreachable_gives_a_clear_503(app, client, sandbox, monkeypatch):
    code = login_code(sandbox, "o_down")
    monkeypatch.setitem(app.config, "WECHAT_API_BASE", "http://127.0.0.1:9/")
    res = client.post("/api/v1/auth/login", json={"code": code})
    assert res.status_code == 503 and "微信" in res.json["message"]
