"""The sellers' phone pages (/seller): logging in through the sandbox's OA web authorisation, a
one-time code sent to the bound WeChat, a staff-issued link; sessions; and every page and action
checked against the logged-in seller."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from backend.extensions import db
from backend.notices import service as notices
from backend.officialaccount.models import OAFollower
from backend.onboarding.models import LicenceRenewal
from backend.platforms.models import PlatformOrder, Shop
from backend.sellers import service as sellers
from backend.timeutil import utcnow
from backend.trace.models import PrintRun
from tests.test_seller_notices import messages, seller_headers


def make_seller(app, sandbox, name: str, *, phone: str, bound: bool = True) -> dict:
    """A seller with one self-fulfilled shop and a paid order, bound to WeChat openid
    `oa-<phone>`: {"id", "openid", "shop_id", "order_id"}."""
    openid = f"oa-{phone}"
    with app.app_context():
        seller = sellers.create_seller(db.session, name=name, phone=phone)
        db.session.flush()
        if bound:
            requests.post(
                f"{sandbox.url}/sandbox/oa/users",
                json={"openid": openid, "follow": True, "push": False},
                timeout=5,
            )
            # (the OA callback may already know this openid: the sandbox reports template
            # messages of an earlier test to it after that test's cleanup)
            follower = db.session.scalar(
                db.select(OAFollower).where(OAFollower.openid == openid)
            ) or OAFollower(openid=openid)
            follower.seller_id, follower.following = seller.id, True
            db.session.add(follower)
        shop = Shop(
            seller_id=seller.id,
            platform="pdd",
            shop_key=f"pdd-{phone}",
            name=f"{name}拼多多店",
            access_token="sealed",
            token_expires_at=utcnow() + timedelta(days=1),
            self_fulfilled=True,
        )
        db.session.add(shop)
        db.session.flush()
        order = PlatformOrder(
            platform="pdd",
            order_no=f"PDD{phone}",
            shop_id=shop.id,
            seller_id=seller.id,
            status="PAID",
            platform_status="1",
            placed_at=utcnow(),
            platform_updated_at=utcnow(),
            paid_at=utcnow(),
            total=19600,
            lines=[{"sku_code": "RS-LIVE-L-5", "title": "乳山牡蛎 L 5斤", "quantity": 2}],
            receiver={},
        )
        db.session.add(order)
        db.session.commit()
        found = {"id": seller.id, "openid": openid, "shop_id": shop.id, "order_id": order.id}
        db.session.remove()
    return found


@pytest.fixture
def two(app, sandbox):
    return (
        make_seller(app, sandbox, "老于家牡蛎", phone="13900000001"),
        make_seller(app, sandbox, "海阳所小王", phone="13900000002"),
    )


def authorise(client, sandbox, openid: str, next_path: str = "/seller/today") -> tuple[str, str]:
    """The phone's WeChat (this openid) authorises at the sandbox: our callback path and query."""
    requests.post(f"{sandbox.url}/sandbox/wx/oauth/user", json={"openid": openid}, timeout=5)
    res = client.get("/seller/login/wechat", query_string={"next": next_path})
    assert res.status_code == 302
    authorize = res.headers["Location"]
    assert authorize.startswith(f"{sandbox.url}/connect/oauth2/authorize?")
    assert "scope=snsapi_base" in authorize and authorize.endswith("#wechat_redirect")
    back = requests.get(authorize.split("#")[0], allow_redirects=False, timeout=5)
    assert back.status_code == 302, back.text
    parts = urlsplit(back.headers["Location"])
    assert parts.path == "/seller/login/wechat/done"
    return parts.path, parts.query


def log_in(client, sandbox, openid: str, next_path: str = "/seller/today"):
    path, query = authorise(client, sandbox, openid, next_path)
    return client.get(f"{path}?{query}")


def test_wechat_authorisation_logs_the_bound_seller_in_and_returns_to_the_page(
    app, client, sandbox, two
):
    mine, _ = two
    res = client.get(f"/seller/orders/{mine['order_id']}")
    assert res.status_code == 302 and "/seller/login" in res.headers["Location"]
    res = log_in(client, sandbox, mine["openid"], f"/seller/orders/{mine['order_id']}")
    assert res.status_code == 302
    assert res.headers["Location"].endswith(f"/seller/orders/{mine['order_id']}")
    cookie = res.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookie if c.startswith("heli_seller="))
    assert "HttpOnly" in session_cookie and "Secure" in session_cookie
    assert "Max-Age" in session_cookie  # it expires
    page = client.get(f"/seller/orders/{mine['order_id']}")
    assert page.status_code == 200
    assert f"PDD{13900000001}" in page.text and "确认发货" in page.text


def test_a_code_used_before_is_refused_with_wechats_40163(app, client, sandbox, two):
    mine, _ = two
    path, query = authorise(client, sandbox, mine["openid"])
    code = parse_qs(query)["code"][0]
    # someone (a proxy, a crawler) spent the code at WeChat first
    spent = requests.get(
        f"{sandbox.url}/sns/oauth2/access_token",
        params={
            "appid": app.config["WECHAT_OA_APPID"],
            "secret": app.config["WECHAT_OA_SECRET"],
            "code": code,
            "grant_type": "authorization_code",
        },
        timeout=5,
    ).json()
    assert spent["openid"] == mine["openid"]
    res = client.get(f"{path}?{query}")
    assert res.status_code == 401 and "已使用" in res.text
    assert client.get("/seller/today").status_code == 302  # not logged in
    # and the same callback again never reaches WeChat a second time
    again = client.get(f"{path}?{query}")
    assert again.status_code == 401


def test_an_expired_code_is_refused(app, client, sandbox, two):
    mine, _ = two
    path, query = authorise(client, sandbox, mine["openid"])
    requests.post(f"{sandbox.url}/sandbox/clock", json={"advance": 301}, timeout=5)
    res = client.get(f"{path}?{query}")
    assert res.status_code == 401 and "无效" in res.text
    assert client.get("/seller/today").status_code == 302


def test_a_state_from_another_browser_is_refused(app, sandbox, two):
    mine, _ = two
    victim, attacker = app.test_client(), app.test_client()
    path, query = authorise(attacker, sandbox, mine["openid"])
    victim.get("/seller/login/wechat")  # the victim started a login of their own
    res = victim.get(f"{path}?{query}")
    assert res.status_code == 401 and "登录已失效" in res.text
    # and a browser that started none
    res = app.test_client().get(f"{path}?{query}")
    assert res.status_code == 401


def test_an_openid_bound_to_nobody_is_told_how_to_bind(app, client, sandbox, two):
    res = log_in(client, sandbox, "oa-stranger")
    assert res.status_code == 403
    assert "绑定码" in res.text and "还没有绑定" in res.text
    assert client.get("/seller/today").status_code == 302


def test_logout_ends_the_session_even_for_a_copied_cookie(app, client, sandbox, two):
    mine, _ = two
    log_in(client, sandbox, mine["openid"])
    copied = client.get_cookie("heli_seller", path="/seller").value
    page = client.get("/seller/me")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/seller/logout", data={}).status_code == 400  # no CSRF token: refused
    assert client.post("/seller/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/seller/today").status_code == 302
    other = app.test_client()
    other.set_cookie("heli_seller", copied, path="/seller")
    assert other.get("/seller/today").status_code == 302


def test_a_session_expires(app, client, sandbox, two, monkeypatch):
    mine, _ = two
    log_in(client, sandbox, mine["openid"])
    assert client.get("/seller/today").status_code == 200
    # the server side ends with its Redis key's time to live ...
    redis = app.extensions["heli_redis"]
    for key in redis.scan_iter("heli:seller-login:session:*"):
        redis.pexpire(key, 1)
    time.sleep(0.01)
    assert client.get("/seller/today").status_code == 302
    # ... and the signed cookie carries its own age
    log_in(client, sandbox, mine["openid"])
    monkeypatch.setitem(app.config, "SELLER_SESSION_HOURS", 0)
    time.sleep(1.05)
    assert client.get("/seller/today").status_code == 302


def _csrf(client, path: str) -> str:
    return client.get(path).text.split('name="csrf_token" value="')[1].split('"')[0]


def test_a_one_time_code_reaches_the_bound_wechat_and_works_once(app, client, sandbox, two):
    mine, _ = two
    token = _csrf(client, "/seller/login?next=/seller/notices")
    res = client.post(
        "/seller/login/code",
        data={"csrf_token": token, "phone": "139 0000 0001", "next": "/seller/notices"},
    )
    assert res.status_code == 200 and "验证码已发送" in res.text
    sent = messages(sandbox, mine["openid"])
    assert len(sent) == 1
    code = next(v["value"] for v in sent[0]["data"].values() if "验证码 " in v["value"])
    code = code.split("验证码 ")[1][:6]
    wrong = client.post(
        "/seller/login/code/check",
        data={
            "csrf_token": token,
            "phone": "13900000001",
            "code": "000000"[:6] if code != "000000" else "111111",
        },
    )
    assert wrong.status_code == 401
    ok = client.post(
        "/seller/login/code/check",
        data={"csrf_token": token, "phone": "13900000001", "code": code, "next": "/seller/notices"},
    )
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/seller/notices")
    again = app.test_client()
    token2 = _csrf(again, "/seller/login")
    reused = again.post(
        "/seller/login/code/check",
        data={"csrf_token": token2, "phone": "13900000001", "code": code},
    )
    assert reused.status_code == 401
    # asking again at once is refused (rate-limited per number)
    res = client.post("/seller/login/code", data={"csrf_token": token, "phone": "13900000001"})
    assert res.status_code == 429


def test_a_code_expires(app, client, sandbox, two, monkeypatch):
    monkeypatch.setitem(app.config, "SELLER_CODE_TTL_SECONDS", 1)
    mine, _ = two
    token = _csrf(client, "/seller/login")
    client.post("/seller/login/code", data={"csrf_token": token, "phone": "13900000001"})
    body = messages(sandbox, mine["openid"])[0]["data"]
    code = next(v["value"] for v in body.values() if "验证码 " in v["value"]).split("验证码 ")[1][
        :6
    ]
    time.sleep(1.2)
    res = client.post(
        "/seller/login/code/check", data={"csrf_token": token, "phone": "13900000001", "code": code}
    )
    assert res.status_code == 401


def test_a_staff_login_link_works_once(app, client, staff_client, sandbox, two):
    mine, _ = two
    res = staff_client.post(f"/console/api/sellers/{mine['id']}/login-links", json={})
    assert res.status_code == 201, res.json
    path = urlsplit(res.json["url"]).path
    assert client.get(path).status_code == 200  # a preview spends nothing
    token = _csrf(client, path)
    assert client.post(path, data={"csrf_token": token}).status_code == 302
    assert "老于家牡蛎" in client.get("/seller/today").text
    other = app.test_client()
    token = _csrf(other, path)
    assert other.post(path, data={"csrf_token": token}).status_code == 401
    assert (
        app.test_client()
        .post(f"/console/api/sellers/{mine['id']}/login-links", json={})
        .status_code
        == 401
    )


def test_every_object_of_another_seller_is_not_found(app, client, sandbox, two, licensed):
    mine, theirs = two
    with app.app_context():
        notice_ok = notices.notify(
            db.session,
            seller_id=theirs["id"],
            kind="X",
            title="他的通知",
            body="机密",
            dedupe_key="x1",
        )
        db.session.commit()
        their_notice = db.session.scalar(db.select(db.func.max(notices.SellerNotice.id)))
        run = PrintRun(
            lot_id=licensed["lot_id"], seller_id=licensed["seller_id"], licence_id=1, quantity=1
        )
        db.session.add(run)
        db.session.commit()
        run_id = run.id
        db.session.remove()
    assert notice_ok
    log_in(client, sandbox, mine["openid"])
    for path in (
        f"/seller/orders/{theirs['order_id']}",
        f"/seller/shops/{theirs['shop_id']}",
        f"/seller/shops/{theirs['shop_id']}/authorize",
        f"/seller/notices/{their_notice}",
        f"/seller/codes/{run_id}/labels.zip",
        "/seller/broadcasts/999",
    ):
        res = client.get(path)
        assert res.status_code == 404, path
        assert "PDD13900000002" not in res.text and "机密" not in res.text
    token = _csrf(client, "/seller/me")
    res = client.post(
        f"/seller/orders/{theirs['order_id']}/ship",
        data={"csrf_token": token, "carrier": "SF", "tracking_no": "SF1234567890"},
    )
    assert res.status_code == 404
    assert "PDD13900000002" not in client.get("/seller/orders").text
    with app.app_context():
        assert db.session.get(PlatformOrder, theirs["order_id"]).tracking_no is None
        db.session.remove()


def test_ship_refuses_an_unknown_courier_and_a_tracking_number_used_before(
    app, client, sandbox, two
):
    mine, theirs = two
    log_in(client, sandbox, mine["openid"])
    token = _csrf(client, "/seller/me")
    url = f"/seller/orders/{mine['order_id']}/ship"
    res = client.post(url, data={"csrf_token": token, "carrier": "NOPE", "tracking_no": "SF123456"})
    assert res.status_code == 400 and "快递公司" in res.text
    with app.app_context():
        row = db.session.get(PlatformOrder, theirs["order_id"])
        row.carrier, row.tracking_no = "SF", "SF7777777777"
        db.session.commit()
        db.session.remove()
    res = client.post(
        url, data={"csrf_token": token, "carrier": "SF", "tracking_no": "sf7777777777"}
    )
    assert res.status_code == 409 and "已被使用" in res.text
    res = client.post(
        url, data={"csrf_token": token, "carrier": "SF", "tracking_no": "SF8888888888"}
    )
    assert res.status_code == 302
    page = client.get(f"/seller/orders/{mine['order_id']}").text
    assert "SF8888888888" in page and "确认发货" not in page


def test_pages_render_and_licence_renewal_is_recorded_once(app, client, sandbox, two, store):
    mine, _ = two
    with app.app_context():
        products = list(db.session.scalars(db.select(sellers.Product.id)))
        sellers.grant_licence(
            db.session,
            seller_id=mine["id"],
            product_ids=products,
            valid_from=sellers.today() - timedelta(days=300),
            valid_until=sellers.today() + timedelta(days=20),
            staff_id=None,
        )
        db.session.remove()
    log_in(client, sandbox, mine["openid"])
    today = client.get("/seller/today").text
    assert "需我发货" in today and "剩 20 天" in today
    for path in (
        "/seller/orders?status=TO_SHIP",
        "/seller/notices",
        "/seller/shops",
        f"/seller/shops/{mine['shop_id']}",
        "/seller/codes",
        "/seller/statements",
        "/seller/licence",
        "/seller/me",
    ):
        assert client.get(path).status_code == 200, path
    reauthorise = client.get(f"/seller/shops/{mine['shop_id']}/authorize")
    assert reauthorise.status_code == 302  # off to the platform's own authorisation page
    assert "还没有对账单" in client.get("/seller/statements").text
    token = _csrf(client, "/seller/licence")
    for _ in range(2):
        assert client.post("/seller/licence/renewal", data={"csrf_token": token}).status_code == 302
    assert "等待联盟审核" in client.get("/seller/licence").text
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(LicenceRenewal)) == 1
        db.session.remove()


def test_sandbox_authorize_page_errors(app, sandbox):
    base = f"{sandbox.url}/connect/oauth2/authorize"
    good = {
        "appid": app.config["WECHAT_OA_APPID"],
        "redirect_uri": "http://127.0.0.1/cb",
        "response_type": "code",
        "scope": "snsapi_base",
        "state": "abc",
    }
    requests.post(f"{sandbox.url}/sandbox/wx/oauth/user", json={"openid": "o1"}, timeout=5)
    cases = [
        ({"appid": ""}, 10012),
        ({"redirect_uri": ""}, 10011),
        ({"scope": ""}, 10010),
        ({"scope": "snsapi_login"}, 10005),
        ({"state": ""}, 10013),
        ({"appid": "wxunknown"}, 40013),
    ]
    for change, errcode in cases:
        res = requests.get(base, params={**good, **change}, allow_redirects=False, timeout=5)
        assert res.headers.get("X-WeChat-Errcode") == str(errcode), change
    requests.post(
        f"{sandbox.url}/sandbox/wx/oauth/config", json={"domains": ["example.com"]}, timeout=5
    )
    res = requests.get(base, params=good, allow_redirects=False, timeout=5)
    assert res.headers.get("X-WeChat-Errcode") == "10003"
    requests.post(f"{sandbox.url}/sandbox/wx/oauth/config", json={"domains": None}, timeout=5)
    # userinfo on a snsapi_base token: 48001; sns/auth answers ok; refresh keeps working
    res = requests.get(base, params=good, allow_redirects=False, timeout=5)
    code = parse_qs(urlsplit(res.headers["Location"]).query)["code"][0]
    creds = {"appid": good["appid"], "secret": app.config["WECHAT_OA_SECRET"]}
    grant = requests.get(
        f"{sandbox.url}/sns/oauth2/access_token",
        params={**creds, "code": code, "grant_type": "authorization_code"},
        timeout=5,
    ).json()
    pair = {"access_token": grant["access_token"], "openid": "o1"}
    assert (
        requests.get(f"{sandbox.url}/sns/userinfo", params=pair, timeout=5).json()["errcode"]
        == 48001
    )
    assert requests.get(f"{sandbox.url}/sns/auth", params=pair, timeout=5).json()["errcode"] == 0
    refreshed = requests.get(
        f"{sandbox.url}/sns/oauth2/refresh_token",
        params={
            "appid": good["appid"],
            "grant_type": "refresh_token",
            "refresh_token": grant["refresh_token"],
        },
        timeout=5,
    ).json()
    assert refreshed["openid"] == "o1"
    bad = requests.get(
        f"{sandbox.url}/sns/oauth2/access_token",
        params={**creds, "appid": "wxnope", "code": code, "grant_type": "authorization_code"},
        timeout=5,
    ).json()
    assert bad["errcode"] == 40013


def test_an_order_the_seller_ships_shows_shipped_at_once_and_is_shipped_once_the_platform_has_it(
    app, client, sandbox, staff_client, store
):
    from tests.helpers import run_jobs
    from tests.test_platform_orders import Platform, pull, register, rows

    seller = make_seller(app, sandbox, "白沙滩老孙", phone="13900000003")
    platform = Platform(sandbox, "pdd")
    headers = seller_headers(staff_client, seller["id"])
    shop = register(client, {"id": seller["id"], "headers": headers}, platform, "pdd-sun-1")
    with app.app_context():
        db.session.get(Shop, shop["id"]).self_fulfilled = True
        db.session.commit()
        db.session.remove()
    order_no = platform.order("pdd-sun-1", "PAID")
    pull(app, shop["id"])
    [row] = [r for r in rows(app, shop["id"]) if r.order_no == order_no]
    log_in(client, sandbox, seller["openid"])
    token = _csrf(client, "/seller/me")
    res = client.post(
        f"/seller/orders/{row.id}/ship",
        data={"csrf_token": token, "carrier": "ZTO", "tracking_no": "ZT55501"},
    )
    assert res.status_code == 302
    # before the tracking number reached the platform: shipped, on its way back
    assert "已发货 · 回传平台中" in client.get(f"/seller/orders/{row.id}").text
    run_jobs(app, "default")  # the write-back job
    page = client.get(f"/seller/orders/{row.id}").text
    assert "已发货" in page and "回传平台中" not in page and "待发货" not in page
    [sent] = platform.shipments("pdd-sun-1")
    assert sent["tracking_no"] == "ZT55501"
    with app.app_context():
        assert db.session.get(PlatformOrder, row.id).status == "SHIPPED"
        db.session.remove()
    # the next pull agrees and changes nothing back
    pull(app, shop["id"])
    assert [r.status for r in rows(app, shop["id"]) if r.order_no == order_no] == ["SHIPPED"]
