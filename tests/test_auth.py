import pytest
import requests

from backend.customers.models import Customer
from backend.extensions import db
from tests.helpers import login_code


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


def test_missing_invalid_and_expired_tokens_are_refused(app, client, shopper):
    assert client.get("/api/v1/orders").status_code == 401
    bad = client.get("/api/v1/orders", headers={"Authorization": "Bearer forged-token"})
    assert bad.status_code == 401 and bad.json["message"] == "请先登录"
    with app.app_context():
        from backend.customers.models import AuthToken
        from backend.timeutil import utcnow

        db.session.execute(db.update(AuthToken).values(expires_at=utcnow()))
        db.session.commit()
    assert shopper.get("/api/v1/orders").status_code == 401


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
