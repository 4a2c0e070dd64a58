"""The Taobao / Tmall TOP stand-in, driven by a small client written from docs/platforms.md."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

SHOP = "2200771234"
CHINA = timezone(timedelta(hours=8))
INCREMENT = "taobao.trades.sold.increment.get"
FIELDS = "tid,status,created,modified,pay_time,payment,post_fee,orders"


def china(unix: float) -> str:
    return datetime.fromtimestamp(unix, CHINA).strftime("%Y-%m-%d %H:%M:%S")


class Taobao:
    def __init__(self, url: str, app_key: str, secret: str):
        self.url = url + "/platforms/taobao/router/rest"
        self.app_key = app_key
        self.secret = secret

    def call(
        self,
        method: str,
        business: dict,
        session: str | None = None,
        *,
        timestamp: float | None = None,
        secret: str | None = None,
        sign_method: str = "md5",
    ) -> dict:
        secret = secret or self.secret
        params = {
            "method": method,
            "app_key": self.app_key,
            "timestamp": china(time.time() if timestamp is None else timestamp),
            "v": "2.0",
            "sign_method": sign_method,
            "format": "json",
        }
        if session:
            params["session"] = session
        params.update(
            {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in business.items()}
        )
        joined = "".join(k + params[k] for k in sorted(params))
        if sign_method == "md5":
            sign = hashlib.md5((secret + joined + secret).encode()).hexdigest()
        else:
            digest = hashlib.sha256 if sign_method == "hmac-sha256" else hashlib.md5
            sign = hmac.new(secret.encode(), joined.encode(), digest).hexdigest()
        params["sign"] = sign.upper()
        return requests.post(self.url, data=params, timeout=10).json()

    def increment(self, session: str, start: float, end: float, page_no=1, page_size=100, **more):
        business = {
            "fields": FIELDS,
            "start_modified": china(start),
            "end_modified": china(end),
            "page_no": page_no,
            "page_size": page_size,
            "use_has_next": True,
            **more,
        }
        return self.call(INCREMENT, business, session)

    def pager(self, session: str, start: float, end: float, size: int):
        def page(number: int) -> tuple[list[str], int]:
            answer = self.increment(session, start, end, number, size)
            answer = answer["trades_sold_increment_get_response"]
            return [str(t["tid"]) for t in answer["trades"]["trade"]], answer["total_results"]

        return page


def error(answer: dict) -> tuple:
    body = answer["error_response"]
    return body["code"], body.get("sub_code")


@pytest.fixture
def kit(platform_kit):
    return platform_kit("taobao")


@pytest.fixture
def client(sandbox, env) -> Taobao:
    return Taobao(sandbox.url, env["TAOBAO_APP_KEY"], env["TAOBAO_APP_SECRET"])


@pytest.fixture
def session(kit) -> str:
    return kit.shop(SHOP, name="乳山蚝情天猫店")["access_token"]


def test_increment_answers_in_top_format(kit, client, session):
    now = int(time.time())
    items = [
        {"outer_id": "RS-LIVE-XL-5", "quantity": 2, "unit_price_fen": 13800},
        {"outer_id": "RS-GIFT-L-8", "quantity": 1, "unit_price_fen": 26800},
    ]
    made = kit.order(SHOP, "PAID", update_time=now - 60, post_fee_fen=800, items=items)
    answer = client.increment(session, now - 3600, now)["trades_sold_increment_get_response"]
    assert answer["total_results"] == 1 and answer["has_next"] is False
    (trade,) = answer["trades"]["trade"]
    assert trade["tid"] == int(made["order_id"]) and trade["status"] == "WAIT_SELLER_SEND_GOODS"
    assert trade["modified"] == china(now - 60) and trade["pay_time"]
    assert (trade["payment"], trade["post_fee"]) == ("552.00", "8.00")
    assert trade["receiver_mobile"].count("*") == 4 and "*" in trade["receiver_name"]
    lines = trade["orders"]["order"]
    assert [(o["outer_sku_id"], o["outer_iid"], o["num"], o["price"]) for o in lines] == [
        ("RS-LIVE-XL-5", "RS-LIVE", 2, "138.00"),
        ("RS-GIFT-L-8", "RS-GIFT", 1, "268.00"),
    ]
    assert [o["payment"] for o in lines] == ["276.00", "268.00"]
    assert {o["refund_status"] for o in lines} == {"NO_REFUND"}


def test_status_model(kit, client, session):
    now = int(time.time())
    statuses = ("UNPAID", "SHIPPED", "COMPLETED", "CANCELLED", "REFUNDING", "REFUNDED")
    ids = {s: kit.order(SHOP, s, update_time=now - 100)["order_id"] for s in statuses}
    trades = client.increment(session, now - 200, now)["trades_sold_increment_get_response"]
    by_tid = {str(t["tid"]): t for t in trades["trades"]["trade"]}
    shown = {
        s: (by_tid[i]["status"], by_tid[i]["orders"]["order"][0]["refund_status"])
        for s, i in ids.items()
    }
    assert shown == {
        "UNPAID": ("WAIT_BUYER_PAY", "NO_REFUND"),
        "SHIPPED": ("WAIT_BUYER_CONFIRM_GOODS", "NO_REFUND"),
        "COMPLETED": ("TRADE_FINISHED", "NO_REFUND"),
        "CANCELLED": ("TRADE_CLOSED_BY_TAOBAO", "NO_REFUND"),
        "REFUNDING": ("WAIT_SELLER_SEND_GOODS", "WAIT_SELLER_AGREE"),
        "REFUNDED": ("TRADE_CLOSED", "SUCCESS"),
    }
    assert "pay_time" not in by_tid[ids["UNPAID"]]


def test_signature_checks(client, session):
    now = time.time()
    business = {"fields": FIELDS, "start_modified": china(now - 60), "end_modified": china(now)}
    assert error(client.call(INCREMENT, business, session, secret="0" * 32)) == (25, None)
    for sign_method in ("md5", "hmac", "hmac-sha256"):
        answer = client.call(
            INCREMENT, {**business, "buyer_nick": "蚝客"}, session, sign_method=sign_method
        )
        assert "trades_sold_increment_get_response" in answer, sign_method
    answer = Taobao(client.url.rsplit("/platforms", 1)[0], "12345678", client.secret).call(
        INCREMENT, business, session
    )
    assert error(answer)[0] == 29


def test_timestamp_skew(client, session):
    now = time.time()
    business = {"fields": FIELDS, "start_modified": china(now - 60), "end_modified": china(now)}
    assert "error_response" not in client.call(INCREMENT, business, session, timestamp=now - 590)
    assert error(client.call(INCREMENT, business, session, timestamp=now - 610))[0] == 43
    assert error(client.call(INCREMENT, business, session, timestamp=now + 610))[0] == 43


def test_token_expiry_and_refresh(kit, client):
    shop = kit.shop("2200770001")
    now = time.time()
    kit.post("/tokens/expire", {"shop_id": "2200770001"})
    assert error(client.increment(shop["access_token"], now - 60, now)) == (
        27,
        "invalid-sessionkey",
    )
    answer = client.call("taobao.top.auth.token.refresh", {"refresh_token": shop["refresh_token"]})
    token = json.loads(answer["top_auth_token_refresh_response"]["token_result"])
    assert token["taobao_user_id"] == "2200770001" and token["expires_in"] == 86400
    assert token["refresh_token"] != shop["refresh_token"]
    assert "error_response" not in client.increment(token["access_token"], now - 60, now)
    again = client.call("taobao.top.auth.token.refresh", {"refresh_token": shop["refresh_token"]})
    assert error(again) == (15, "isv.refresh-token-invalid")


def test_window_and_page_size(client, session):
    now = time.time()
    assert "error_response" not in client.increment(session, now - 86400, now)
    assert error(client.increment(session, now - 86401, now)) == (41, "isv.invalid-parameter")
    assert error(client.increment(session, now - 60, now, page_size=101))[0] == 41
    assert error(client.increment(session, now - 60, now, page_no=0))[0] == 41
    assert error(client.call(INCREMENT, {"start_modified": china(now - 60)}, session))[0] == 40


def test_newest_first_and_pages_from_one(kit, client, session):
    base = int(time.time()) - 1000
    ids = kit.orders(SHOP, [base + i for i in range(5)])
    pages = [
        client.increment(session, base, base + 10, n, 2)["trades_sold_increment_get_response"]
        for n in (1, 2, 3, 4)
    ]
    assert [[str(t["tid"]) for t in p["trades"]["trade"]] for p in pages] == [
        [ids[4], ids[3]],
        [ids[2], ids[1]],
        [ids[0]],
        [],
    ]
    assert [p["has_next"] for p in pages] == [True, True, False, False]
    assert {p["total_results"] for p in pages} == {5}


def test_backward_paging_loses_nothing_while_orders_move(kit, client):
    now = int(time.time())
    start, end = now - 4000, now - 1000
    kit.config(mutate_while_paging=True)
    for shop, pull, complete in (("71", kit.pull_backward, True), ("72", kit.pull_forward, False)):
        session = kit.shop(shop)["access_token"]
        made = set(kit.orders(shop, [start + 10 * i for i in range(230)]))
        seen = set(pull(client.pager(session, start, end, 50), 50))
        later_end = int(time.time()) + 1
        later = set(kit.pull_backward(client.pager(session, end + 1, later_end, 100), 100))
        assert later and later <= made
        assert (seen | later == made) is complete, shop


def test_late_update_lands_in_its_window(kit, client, session):
    now = int(time.time())
    early, before, after = kit.orders(SHOP, [now - 7200, now - 1900, now - 1700])
    kit.status(early, "COMPLETED", update_time=now - 1800)
    page = client.increment(session, now - 2000, now - 1500)["trades_sold_increment_get_response"]
    trades = page["trades"]["trade"]
    assert [str(t["tid"]) for t in trades] == [after, early, before]
    assert trades[1]["status"] == "TRADE_FINISHED" and trades[1]["modified"] == china(now - 1800)
    old = client.increment(session, now - 7300, now - 3600)["trades_sold_increment_get_response"]
    assert old["total_results"] == 0


def test_ship_write_back(kit, client, session):
    now = int(time.time())
    paid = kit.order(SHOP, "PAID", update_time=now - 600)["order_id"]
    refunding = kit.order(SHOP, "REFUNDING", update_time=now - 600)["order_id"]
    send = {"tid": paid, "out_sid": "SF1400000000099", "company_code": "SF"}
    answer = client.call("taobao.logistics.offline.send", send, session)
    assert answer["logistics_offline_send_response"]["shipping"] == {"is_success": True}
    assert kit.truth(SHOP)[paid]["status"] == "SHIPPED"
    assert kit.get("/shipments", shop_id=SHOP)["shipments"][0]["tracking_no"] == "SF1400000000099"
    for tid in (paid, refunding):
        answer = client.call("taobao.logistics.offline.send", {**send, "tid": tid}, session)
        assert error(answer) == (15, "isv.logistics-offline-service-error")


def test_faults_in_top_shape(kit, client, session):
    now = time.time()
    kit.fault(kind="rate_limit", times=1)
    answer = client.increment(session, now - 60, now)
    assert error(answer) == (7, "accesscontrol.limited-by-app-access-count")
    kit.fault(kind="server_error", times=1)
    assert error(client.increment(session, now - 60, now)) == (
        15,
        "isp.top-remote-connection-timeout",
    )
    kit.fault(kind="token_expired", times=1)
    assert error(client.increment(session, now - 60, now))[0] == 27
    kit.fault(kind="malformed", times=1, variant="missing_list")
    answer = client.increment(session, now - 60, now)["trades_sold_increment_get_response"]
    assert "trades" not in answer and answer["total_results"] == 0
    assert "trades_sold_increment_get_response" in client.increment(session, now - 60, now)
