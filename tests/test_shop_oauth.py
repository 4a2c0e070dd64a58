"""Sellers connect shops through each platform's own authorisation (OAuth2 authorisation code)
against the sandbox's stand-ins: our /seller/shops pages → the platform's authorise page → our
callback with code and state → the code exchanged → the shop registered and pulled."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from backend.clients.platforms import client_for
from backend.extensions import db
from backend.platforms import vault
from backend.platforms.models import ACTIVE, AUTH_BROKEN, Shop
from backend.sellers import service as sellers
from tests.test_platform_orders import Platform, pull, rows

PLATFORMS = ("douyin", "taobao", "jd", "pdd", "youzan")
OAUTH_PATHS = {
    "DOUYIN_OAUTH_BASE": "/platforms/douyin/fuwu",
    "TAOBAO_OAUTH_BASE": "/platforms/taobao/oauth",
    "JD_OAUTH_BASE": "/platforms/jd",
    "PDD_OAUTH_BASE": "/platforms/pdd/fuwu",
    "YOUZAN_OAUTH_BASE": "/platforms/youzan",
}
SHOP_KEY = {"douyin": "4463798", "taobao": "2207", "jd": "10086", "pdd": "778899", "youzan": "4461"}


@pytest.fixture(autouse=True)
def oauth(app, sandbox):
    """Our app sends sellers to the stand-ins' authorise pages; Douyin's service has our
    callback registered (its authorise URL carries none)."""
    for setting, path in OAUTH_PATHS.items():
        app.config[setting] = sandbox.url + path
    callback = app.config["PUBLIC_BASE_URL"] + "/seller/shops/callback/douyin"
    Platform(sandbox, "douyin").call("POST", "/config", redirect_uri=callback)


def _seller(app, name: str) -> dict:
    """A seller with a seller-API token (what identifies a seller here until the sellers'
    web session arrives): {"id", "headers"}."""
    with app.app_context():
        seller = sellers.create_seller(db.session, name=name)
        db.session.commit()
        token, _ = sellers.issue_api_token(db.session, seller_id=seller.id, days=1)
        seller_id = seller.id
        db.session.remove()
    return {"id": seller_id, "headers": {"Authorization": f"Bearer {token}"}}


@pytest.fixture
def seller(app):
    return _seller(app, "乳山口老王海鲜")


@pytest.fixture
def other_seller(app):
    return _seller(app, "白沙滩小李")


class Flow:
    """One seller's trip: our connect page → the platform's page → back to our callback."""

    def __init__(self, client, sandbox, code: str):
        self.client, self.platform, self.code = client, Platform(sandbox, code), code

    def log_in_at_platform(self, shop_id: str, decision: str = "allow") -> None:
        name = f"{self.code}牡蛎旗舰店"
        self.platform.call("POST", "/authorize-as", shop_id=shop_id, name=name, decision=decision)

    def to_platform(self, seller, path: str | None = None) -> str:
        res = self.client.get(
            path or f"/seller/shops/connect/{self.code}", headers=seller["headers"]
        )
        assert res.status_code == 302, res.get_data(as_text=True)
        return res.location

    def back_from_platform(self, authorise_url: str) -> str:
        page = requests.get(authorise_url, allow_redirects=False, timeout=10)
        assert page.status_code == 302, page.text
        return page.headers["Location"]

    def callback(self, url: str):
        parts = urlsplit(url)
        assert parts.path == f"/seller/shops/callback/{self.code}"
        return self.client.get(f"{parts.path}?{parts.query}")

    def connect(self, seller, shop_id: str, decision: str = "allow"):
        self.log_in_at_platform(shop_id, decision)
        return self.callback(self.back_from_platform(self.to_platform(seller)))


def _shops(app) -> list[Shop]:
    with app.app_context():
        found = list(db.session.scalars(db.select(Shop).order_by(Shop.id)))
        db.session.expunge_all()
        db.session.remove()
    return found


def _text(res) -> str:
    return res.get_data(as_text=True)


@pytest.mark.parametrize("code", PLATFORMS)
def test_a_connected_shop_is_registered_with_sealed_tokens_and_its_orders_pull(
    app, client, sandbox, seller, code
):
    flow = Flow(client, sandbox, code)
    order_id = flow.platform.order(SHOP_KEY[code])
    authorise_url = flow.to_platform(seller)
    assert authorise_url.startswith(sandbox.url + OAUTH_PATHS[f"{code.upper()}_OAUTH_BASE"])
    flow.log_in_at_platform(SHOP_KEY[code])
    back = flow.back_from_platform(authorise_url)
    sent, returned = parse_qs(urlsplit(authorise_url).query), parse_qs(urlsplit(back).query)
    assert returned["state"] == sent["state"] and returned["code"]
    res = flow.callback(back)
    assert res.status_code == 200 and "店铺已连接" in _text(res), _text(res)

    [shop] = _shops(app)
    assert (shop.seller_id, shop.platform, shop.shop_key) == (seller["id"], code, SHOP_KEY[code])
    assert shop.status == ACTIVE
    # Youzan's answer names no shop: ours names it after the platform and the kdt_id
    assert shop.name == (f"有赞店铺{SHOP_KEY[code]}" if code == "youzan" else f"{code}牡蛎旗舰店")
    with app.app_context():
        token = vault.unseal(shop.access_token)
    assert token.startswith(f"{code[:2]}_at_") and token not in shop.access_token

    assert pull(app, shop.id)["orders"] == 1
    assert [row.order_no for row in rows(app, shop.id)] == [order_id]


@pytest.mark.parametrize("code", PLATFORMS)
def test_a_code_works_once(app, client, sandbox, seller, code):
    flow = Flow(client, sandbox, code)
    flow.log_in_at_platform(SHOP_KEY[code])
    first = flow.back_from_platform(flow.to_platform(seller))
    assert flow.callback(first).status_code == 200
    # the same code again, under a fresh state of ours: the platform refuses it
    fresh_state = parse_qs(urlsplit(flow.to_platform(seller)).query)["state"][0]
    used_code = parse_qs(urlsplit(first).query)["code"][0]
    res = client.get(f"/seller/shops/callback/{code}?code={used_code}&state={fresh_state}")
    assert res.status_code == 422 and "授权码无效、已使用或已过期" in _text(res), _text(res)
    assert len(_shops(app)) == 1


@pytest.mark.parametrize("code", PLATFORMS)
def test_an_expired_code_is_refused(app, client, sandbox, seller, code):
    flow = Flow(client, sandbox, code)
    flow.platform.call("POST", "/config", code_ttl_seconds=0)
    res = flow.connect(seller, SHOP_KEY[code])
    assert res.status_code == 422 and "店铺未能连接" in _text(res), _text(res)
    assert _shops(app) == []


@pytest.mark.parametrize("code", PLATFORMS)
def test_a_state_that_is_forged_used_or_of_another_platform_is_refused(
    app, client, sandbox, seller, code
):
    flow = Flow(client, sandbox, code)
    flow.log_in_at_platform(SHOP_KEY[code])
    back = flow.back_from_platform(flow.to_platform(seller))
    query = parse_qs(urlsplit(back).query)
    forged = client.get(f"/seller/shops/callback/{code}?code={query['code'][0]}&state=forged")
    assert forged.status_code == 400 and "授权链接无效" in _text(forged)
    other = "jd" if code != "jd" else "pdd"
    elsewhere = client.get(f"/seller/shops/callback/{other}?{urlsplit(back).query}")
    assert elsewhere.status_code == 400 and "授权链接无效" in _text(elsewhere)
    assert _shops(app) == []  # no code was exchanged for a bad state
    # the state was spent by the wrong platform's callback: the right one is refused now too
    assert flow.callback(back).status_code == 400
    # a good one, used once
    flow.log_in_at_platform(SHOP_KEY[code])
    back = flow.back_from_platform(flow.to_platform(seller))
    assert flow.callback(back).status_code == 200
    again = flow.callback(back)
    assert again.status_code == 400 and "授权链接无效" in _text(again)


@pytest.mark.parametrize("code", PLATFORMS)
def test_a_merchant_who_refuses_connects_nothing(app, client, sandbox, seller, code):
    flow = Flow(client, sandbox, code)
    flow.log_in_at_platform(SHOP_KEY[code], decision="deny")
    back = flow.back_from_platform(flow.to_platform(seller))
    assert "code" not in parse_qs(urlsplit(back).query)
    res = flow.callback(back)
    assert res.status_code == 200 and "取消了授权" in _text(res), _text(res)
    assert _shops(app) == []
    assert flow.callback(back).status_code == 400  # the state is spent


@pytest.mark.parametrize("code", PLATFORMS)
def test_a_shop_another_seller_registered_is_refused(
    app, client, sandbox, seller, other_seller, code
):
    flow = Flow(client, sandbox, code)
    assert flow.connect(seller, SHOP_KEY[code]).status_code == 200
    res = flow.connect(other_seller, SHOP_KEY[code])
    assert res.status_code == 409 and "该店铺已由其他卖家登记" in _text(res), _text(res)
    [shop] = _shops(app)
    assert shop.seller_id == seller["id"]


@pytest.mark.parametrize("code", PLATFORMS)
def test_a_broken_shop_is_authorised_again_and_pulls_again(
    app, client, sandbox, seller, other_seller, code
):
    flow = Flow(client, sandbox, code)
    assert flow.connect(seller, SHOP_KEY[code]).status_code == 200
    [shop] = _shops(app)
    with app.app_context():  # its authorisation broke (as a refused refresh marks it)
        db.session.get(Shop, shop.id).status = AUTH_BROKEN
        db.session.commit()
        db.session.remove()
    assert pull(app, shop.id)["windows"] == 0  # a broken shop is not pulled
    order_id = flow.platform.order(SHOP_KEY[code])

    # another seller cannot start it; logged in as another shop at the platform: refused
    path = f"/seller/shops/{shop.id}/authorize"
    assert client.get(path, headers=other_seller["headers"]).status_code == 404
    flow.log_in_at_platform("99999")
    res = flow.callback(flow.back_from_platform(flow.to_platform(seller, path)))
    assert res.status_code == 422 and "授权的不是这家店铺" in _text(res), _text(res)

    flow.log_in_at_platform(SHOP_KEY[code])
    res = flow.callback(flow.back_from_platform(flow.to_platform(seller, path)))
    assert res.status_code == 200 and "店铺已连接" in _text(res), _text(res)
    shops = _shops(app)
    assert [(s.id, s.status) for s in shops if s.platform == code] == [(shop.id, ACTIVE)]
    assert pull(app, shop.id)["orders"] == 1
    assert [row.order_no for row in rows(app, shop.id)] == [order_id]


def test_connecting_needs_a_seller_and_a_known_platform(client, seller):
    browser = client.get("/seller/shops/connect/pdd")  # no login: the phone pages log in first
    assert browser.status_code == 302 and "/seller/login" in browser.headers["Location"]
    bad_token = client.get("/seller/shops/connect/pdd", headers={"Authorization": "Bearer x.y"})
    assert bad_token.status_code == 401
    assert client.get("/seller/shops/connect/amazon", headers=seller["headers"]).status_code == 404
    assert client.get("/seller/shops/999/authorize", headers=seller["headers"]).status_code == 404


def test_the_platform_page_checks_the_app_and_its_redirect(app, client, sandbox, seller):
    flow = Flow(client, sandbox, "taobao")
    url = flow.to_platform(seller)
    wrong_app = requests.get(url.replace("client_id=", "client_id=x"), timeout=10)
    assert wrong_app.status_code == 400 and "client_id" in wrong_app.text
    flow.platform.call("POST", "/config", redirect_uri="https://elsewhere.example/cb")
    assert requests.get(url, timeout=10).status_code == 400
    flow.platform.call("DELETE", "/authorize-as")
    flow.platform.call("POST", "/config", redirect_uri="")
    login = requests.get(url, allow_redirects=False, timeout=10)
    assert login.status_code == 200 and 'name="shop_id"' in login.text  # nobody logged in
    chosen = requests.post(
        url, data={"shop_id": "2207", "decision": "allow"}, allow_redirects=False, timeout=10
    )
    assert chosen.status_code == 302
    assert flow.callback(chosen.headers["Location"]).status_code == 200


AUTHORISE = {  # api-facts §7.4: each platform's page and its parameters
    "douyin": ("/platforms/douyin/fuwu/authorize", {"service_id", "state"}),
    "taobao": (
        "/platforms/taobao/oauth/authorize",
        {"response_type", "client_id", "redirect_uri", "state", "view"},
    ),
    "jd": (
        "/platforms/jd/oauth2/to_login",
        {"app_key", "response_type", "redirect_uri", "state", "scope"},
    ),
    "pdd": (
        "/platforms/pdd/fuwu/service-market/auth",
        {"response_type", "client_id", "redirect_uri", "state"},
    ),
    "youzan": (
        "/platforms/youzan/oauth/authorize",
        {"client_id", "response_type", "redirect_uri", "state"},
    ),
}


@pytest.mark.parametrize("code", PLATFORMS)
def test_each_client_builds_its_platforms_authorise_address(app, sandbox, code):
    with app.app_context():
        url = client_for(code).authorize_url(redirect_uri="https://heli.example/cb", state="S1")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    path, names = AUTHORISE[code]
    assert parts.path == urlsplit(sandbox.url).path + path and set(query) == names
    assert query["state"] == "S1"
    assert query.get("redirect_uri", "https://heli.example/cb") == "https://heli.example/cb"
    assert query.get("response_type", "code") == "code"
