"""Business-flow limits (OWASP API6) at their real settings: one account cannot hold the stock
hostage with unpaid orders, one address cannot mint accounts or sweep a flash sale, and every
door — the store, flash-sale claims, the co-host bot's holds — answers 429 with Retry-After or
409/422 with a Chinese message when a limit is reached."""

from __future__ import annotations

import uuid

import pytest
import requests

from backend.config import Config
from backend.extensions import db
from backend.live.models import LiveClaim
from bots.cohost.bot import CoHost
from tests.helpers import (
    ADDRESS,
    DEMO_STOCK,
    Shopper,
    go_live,
    limit_stock,
    login_code,
    room_body,
    run_jobs,
    sku_stock,
)

LIMITS = (
    "MAX_UNPAID_ORDERS_PER_CUSTOMER",
    "MAX_HELD_UNITS_PER_CUSTOMER",
    "MAX_HELD_UNITS_PER_SKU_PER_CUSTOMER",
    "ORDER_RATE_PER_CUSTOMER",
    "ORDER_RATE_PER_IP",
    "CLAIM_RATE_PER_CUSTOMER",
    "CLAIM_RATE_PER_IP",
    "CLAIMS_PER_IP_PER_SALE",
    "LOGIN_RATE_PER_IP",
)


@pytest.fixture(autouse=True)
def real_limits(app, monkeypatch):
    """The shipped defaults (the suite opens the per-address ones: all its phones share
    127.0.0.1)."""
    defaults = Config()
    for name in LIMITS:
        monkeypatch.setitem(app.config, name, getattr(defaults, name))
    assert app.config["MAX_UNPAID_ORDERS_PER_CUSTOMER"] == 5
    assert app.config["MAX_HELD_UNITS_PER_CUSTOMER"] == 50


def phone(client, sandbox, openid: str, ip: str = "127.0.0.1") -> Shopper:
    """A consumer logged in from `ip`."""
    res = _login(client, sandbox, openid, ip)
    assert res.status_code == 200, res.json
    return Shopper(client, sandbox, res.json["token"], openid)


def _login(client, sandbox, openid: str, ip: str):
    return client.post(
        "/api/v1/auth/login",
        json={"code": login_code(sandbox, openid)},
        environ_base={"REMOTE_ADDR": ip},
    )


def order_from(shopper: Shopper, items, ip: str):
    return shopper.post(
        "/api/v1/orders",
        json={"items": [{"sku_id": s, "quantity": q} for s, q in items], "address": ADDRESS},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        environ_base={"REMOTE_ADDR": ip},
    )


def claim_from(shopper: Shopper, sale_id: int, ip: str, quantity: int = 1):
    return shopper.post(
        f"/api/v1/flash-sales/{sale_id}/claims",
        json={"quantity": quantity},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        environ_base={"REMOTE_ADDR": ip},
    )


def assert_too_many(res, message: str) -> None:
    assert res.status_code == 429, res.json
    assert res.json["code"] == "TOO_MANY_REQUESTS" and message in res.json["message"]
    assert 1 <= int(res.headers["Retry-After"]) <= 60
    assert res.json["details"]["retry_after"] == int(res.headers["Retry-After"])


def start_sale(staff_client, sku_id: int, units: int, per_person_limit: int, **extra) -> dict:
    res = staff_client.post(
        "/console/api/flash-sales",
        json={
            "sku_id": sku_id,
            "units": units,
            "price": 5900,
            "seconds": 600,
            "per_person_limit": per_person_limit,
            **extra,
        },
    )
    assert res.status_code == 201, res.json
    return res.json


def test_one_account_cannot_hold_more_than_five_unpaid_orders(app, client, sandbox, store):
    """The finding: 49 unpaid orders from one account locked every unit. Now the sixth is
    refused and someone else can still buy the last units."""
    sku = store["RS-LIVE-XL-5"]
    limit_stock(app, sku, 6)
    hoarder, buyer = phone(client, sandbox, "o_hoarder"), phone(client, sandbox, "o_buyer")
    for _ in range(5):
        assert hoarder.order([(sku, 1)]).status_code == 201
    refused = hoarder.order([(sku, 1)])
    assert refused.status_code == 409 and refused.json["code"] == "UNPAID_ORDERS_LIMIT"
    assert refused.json["message"] == "您已有 5 笔待支付订单，请先支付或取消后再下单"
    assert buyer.order([(sku, 1)]).status_code == 201
    assert sku_stock(app, sku)[1] == 6  # 5 held by the hoarder, 1 by the buyer, none refused


def test_a_cancelled_order_makes_room_for_a_new_one(app, client, sandbox, store):
    sku = store["RS-LIVE-M-5"]
    hoarder = phone(client, sandbox, "o_hoarder")
    first = hoarder.order([(sku, 1)]).json
    for _ in range(4):
        hoarder.order([(sku, 1)])
    assert hoarder.order([(sku, 1)]).status_code == 409
    assert hoarder.post(f"/api/v1/orders/{first['id']}/cancel").status_code == 200
    assert hoarder.order([(sku, 1)]).status_code == 201


def test_units_held_are_capped_per_sku_and_in_total(app, client, sandbox, store):
    hoarder = phone(client, sandbox, "o_hoarder")
    xl, large, medium = (store[c] for c in ("RS-LIVE-XL-5", "RS-LIVE-L-5", "RS-LIVE-M-5"))
    # The finding's order: a line of 99 units of every SKU.
    lines = [(store[code], 99) for code in DEMO_STOCK]
    whole = hoarder.order(lines)
    assert whole.status_code == 409 and whole.json["code"] == "SKU_HELD_UNITS_LIMIT"
    assert "同一商品待支付的数量最多 20 份" in whole.json["message"]
    assert hoarder.order([(xl, 20)]).status_code == 201
    one_more = hoarder.order([(xl, 1)])
    assert one_more.status_code == 409 and one_more.json["code"] == "SKU_HELD_UNITS_LIMIT"
    assert one_more.json["details"]["left_for_you"] == {str(xl): 0}
    assert hoarder.order([(large, 20)]).status_code == 201
    over_total = hoarder.order([(medium, 11)])
    assert over_total.status_code == 409 and over_total.json["code"] == "HELD_UNITS_LIMIT"
    assert "待支付的商品最多 50 份" in over_total.json["message"]
    assert over_total.json["details"]["left_for_you"] == 10
    assert hoarder.order([(medium, 10)]).status_code == 201
    assert sku_stock(app, medium)[1] == 10


def test_orders_are_rate_limited_per_account_with_retry_after(app, client, sandbox, store):
    sku = store["RS-LIVE-M-5"]
    hoarder = phone(client, sandbox, "o_hoarder")
    answers = [hoarder.order([(sku, 1)]).status_code for _ in range(10)]
    assert answers == [201] * 5 + [409] * 5  # refused attempts count too
    assert_too_many(hoarder.order([(sku, 1)]), "下单太频繁")


def test_orders_are_rate_limited_per_address(app, client, sandbox, store):
    """Seven accounts behind one address: its 31st order in a minute waits; others don't."""
    sku = store["RS-LIVE-M-5"]
    accounts = [phone(client, sandbox, f"o_farm_{n}", ip=f"10.0.0.{n}") for n in range(7)]
    answers = [order_from(a, [(sku, 1)], "203.0.113.9").status_code for a in accounts * 5]
    assert answers.count(201) == 30 and answers[-1] == 429
    assert_too_many(order_from(accounts[6], [(sku, 1)], "203.0.113.9"), "当前网络下单太频繁")
    elsewhere = phone(client, sandbox, "o_elsewhere", ip="198.51.100.7")
    assert order_from(elsewhere, [(sku, 1)], "198.51.100.7").status_code == 201


def test_login_code_exchange_is_rate_limited_per_address(app, client, sandbox):
    """Fresh accounts cost a login each: ten a minute from one address."""
    for n in range(10):
        assert _login(client, sandbox, f"o_fresh_{n}", "203.0.113.9").status_code == 200
    assert_too_many(_login(client, sandbox, "o_fresh_10", "203.0.113.9"), "登录太频繁")
    assert _login(client, sandbox, "o_fresh_11", "198.51.100.7").status_code == 200


def test_behind_the_proxy_each_client_address_is_counted(app, client, sandbox):
    """gunicorn listens on 127.0.0.1 behind one proxy (PROXY_HOPS=1): X-Forwarded-For says who
    is calling, so one busy address does not lock everyone else out."""
    assert app.config["PROXY_HOPS"] == 1

    def login(openid: str, address: str):
        return client.post(
            "/api/v1/auth/login",
            json={"code": login_code(sandbox, openid)},
            headers={"X-Forwarded-For": address},
        )

    for n in range(10):
        assert login(f"o_busy_{n}", "203.0.113.9").status_code == 200
    assert_too_many(login("o_busy_10", "203.0.113.9"), "登录太频繁")
    assert login("o_other", "198.51.100.7").status_code == 200


def test_many_accounts_from_one_address_cannot_sweep_a_flash_sale(
    app, client, sandbox, staff_client, store
):
    """The finding: 40 fresh accounts from one address took 49 of 50 units. Now that address
    gets 5 and a buyer elsewhere still gets hers."""
    sale = start_sale(staff_client, store["RS-LIVE-L-5"], units=50, per_person_limit=2)
    farm = [phone(client, sandbox, f"o_farm_{n}", ip=f"10.0.{n}.1") for n in range(12)]
    answers = [claim_from(a, sale["id"], "203.0.113.9") for a in farm]
    assert [a.status_code for a in answers] == [202] * 5 + [422] * 7
    refused = answers[-1].json
    assert refused["code"] == "OVER_IP_LIMIT"
    assert refused["message"] == "同一网络本场秒杀最多抢 5 份，当前网络还能抢 0 份"
    elsewhere = phone(client, sandbox, "o_elsewhere", ip="198.51.100.7")
    assert claim_from(elsewhere, sale["id"], "198.51.100.7").status_code == 202
    run_jobs(app)
    view = client.get(f"/api/v1/flash-sales/{sale['id']}").json
    assert (view["remaining"], view["held"]) == (44, 6)


def test_flash_sale_claims_are_rate_limited_per_account(app, client, sandbox, staff_client, store):
    sale = start_sale(staff_client, store["RS-LIVE-L-5"], units=50, per_person_limit=1)
    tapper = phone(client, sandbox, "o_tapper")
    answers = [claim_from(tapper, sale["id"], "127.0.0.1").status_code for _ in range(30)]
    assert answers == [202] + [422] * 29  # the person's limit, then taps that count
    assert_too_many(claim_from(tapper, sale["id"], "127.0.0.1"), "抢购太频繁")


def test_a_claim_past_what_the_buyer_holds_gives_its_unit_back(
    app, client, sandbox, staff_client, store
):
    hoarder = phone(client, sandbox, "o_hoarder")
    for _ in range(5):
        assert hoarder.order([(store["RS-LIVE-M-5"], 1)]).status_code == 201
    sale = start_sale(staff_client, store["RS-LIVE-L-5"], units=10, per_person_limit=2)
    key = "past-holdings-1"
    won = hoarder.post(
        f"/api/v1/flash-sales/{sale['id']}/claims",
        json={"quantity": 1},
        headers={"Idempotency-Key": key},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert won.status_code == 202  # the race is won in Redis; the writer applies the holdings
    assert client.get(f"/api/v1/flash-sales/{sale['id']}").json["remaining"] == 9
    run_jobs(app)
    refused = hoarder.get(f"/api/v1/flash-sales/{sale['id']}/claims/{key}")
    assert refused.status_code == 200 and refused.json["status"] == "REFUSED"
    assert refused.json["code"] == "UNPAID_ORDERS_LIMIT" and refused.json["order"] is None
    assert refused.json["message"] == "您已有 5 笔待支付订单，请先支付或取消后再下单"
    assert client.get(f"/api/v1/flash-sales/{sale['id']}").json["remaining"] == 10
    # its unit, its place in the person's limit and the address's count all came back, once
    run_jobs(app)
    again = claim_from(hoarder, sale["id"], "203.0.113.9", quantity=2)
    assert again.status_code == 202
    with app.app_context():
        from backend.live import flash_sales

        assert flash_sales.reconcile(db.session, sale_id=sale["id"])["balanced"] is True
        db.session.remove()


@pytest.fixture
def live_room(app, sandbox, staff_client, store, monkeypatch):
    """A live room with 1号 特大 and 2号 大 on its shelf."""
    room = staff_client.post("/console/api/live/rooms", json=room_body()).json
    go_live(sandbox, staff_client, room["id"])
    for code in ("RS-LIVE-XL-5", "RS-LIVE-L-5"):
        res = staff_client.post(
            f"/console/api/live/rooms/{room['id']}/shelf", json={"sku_id": store[code]}
        )
        assert res.status_code == 201, res.json
    monkeypatch.setitem(app.config, "LIVE_COMMENT_RATE", "1000 per 5 seconds")
    return room["id"]


def test_the_bots_comment_claims_are_capped_too(
    app, client, sandbox, staff_client, store, live_room
):
    """A viewer who already holds five unpaid orders: "扣1" (a store hold) and "2号要1份" (a
    flash-sale claim) are refused in the chat with the same message, and hold nothing."""
    viewer = phone(client, sandbox, "o_viewer")
    requests.post(f"{sandbox.url}/sandbox/wx/visit", json={"openid": "o_viewer"}, timeout=5)
    for _ in range(5):
        assert viewer.order([(store["RS-LIVE-M-5"], 1)]).status_code == 201
    sale = start_sale(
        staff_client, store["RS-LIVE-L-5"], units=3, per_person_limit=2, room_id=live_room
    )
    said = {
        text: viewer.post(f"/api/v1/live/rooms/{live_room}/comments", json={"text": text}).json
        for text in ("1号要1份", "2号要1份")
    }
    with app.app_context():
        bot = CoHost(app, "test-bot")
        for _ in range(3):
            bot.due_now()
            bot.step(block_ms=20)
        held = db.session.scalar(db.select(db.func.count()).select_from(LiveClaim))
        db.session.remove()
    items = client.get(f"/api/v1/live/rooms/{live_room}/comments?limit=200").json["items"]
    for comment in said.values():
        [reply] = [i for i in items if i["bot"] and i.get("reply_to") == comment["id"]]
        assert "您已有 5 笔待支付订单，请先支付或取消后再下单" in reply["text"]
    assert held == 0
    assert client.get(f"/api/v1/flash-sales/{sale['id']}").json["remaining"] == 3
