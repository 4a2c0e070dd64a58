"""The JD JOS stand-in, driven by a small client written from docs/platforms.md."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

SHOP = "10086001"
CHINA = timezone(timedelta(hours=8))
SEARCH = "jingdong.pop.order.search"
SHIPMENT = "jingdong.pop.order.shipment"
STATES = "WAIT_SELLER_STOCK_OUT,WAIT_GOODS_RECEIVE_CONFIRM,FINISHED_L,LOCKED,TRADE_CANCELED"


def china(unix: float) -> str:
    return datetime.fromtimestamp(unix, CHINA).strftime("%Y-%m-%d %H:%M:%S")


class Jd:
    def __init__(self, url: str, app_key: str, secret: str):
        self.base = url + "/platforms/jd"
        self.app_key = app_key
        self.secret = secret

    def call(
        self,
        method: str,
        business: dict,
        access_token: str,
        *,
        timestamp: float | None = None,
        secret: str | None = None,
        business_json: str | None = None,
    ) -> dict:
        secret = secret or self.secret
        params = {
            "method": method,
            "app_key": self.app_key,
            "access_token": access_token,
            "timestamp": china(time.time() if timestamp is None else timestamp),
            "v": "2.0",
            "360buy_param_json": business_json
            or json.dumps(business, separators=(",", ":"), ensure_ascii=False),
        }
        joined = "".join(k + params[k] for k in sorted(params))
        params["sign"] = hashlib.md5((secret + joined + secret).encode()).hexdigest().upper()
        return requests.post(f"{self.base}/routerjson", data=params, timeout=10).json()

    def search(self, token: str, start: float, end: float, page=1, page_size=100, **more) -> dict:
        business = {
            "start_date": china(start),
            "end_date": china(end),
            "order_state": STATES,
            "optional_fields": "orderId,orderState,modified,orderPayment,itemInfoList",
            "page": str(page),
            "page_size": str(page_size),
            "sortType": 1,
            "dateType": 0,
            **more,
        }
        return self.call(SEARCH, business, token)

    def result(self, token: str, start: float, end: float, page=1, page_size=100, **more) -> dict:
        answer = self.search(token, start, end, page, page_size, **more)
        return answer["jingdong_pop_order_search_responce"]["searchorderinfo_result"]

    def refresh(self, refresh_token: str, app_secret: str | None = None) -> requests.Response:
        query = {
            "app_key": self.app_key,
            "app_secret": app_secret or self.secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        return requests.post(f"{self.base}/oauth2/refresh_token", params=query, timeout=10)

    def pager(self, token: str, start: float, end: float, size: int):
        def page(number: int) -> tuple[list[str], int]:
            result = self.result(token, start, end, number, size)
            return [o["orderId"] for o in result["orderInfoList"]], result["orderTotal"]

        return page


def error(answer: dict) -> str:
    return answer["error_response"]["code"]


@pytest.fixture
def kit(platform_kit):
    return platform_kit("jd")


@pytest.fixture
def client(sandbox, env) -> Jd:
    return Jd(sandbox.url, env["JD_APP_KEY"], env["JD_APP_SECRET"])


@pytest.fixture
def token(kit) -> str:
    return kit.shop(SHOP)["access_token"]


def test_search_answers_in_jd_format(kit, client, token):
    now = int(time.time())
    made = kit.order(SHOP, "PAID", update_time=now - 60, post_fee_fen=1200)
    answer = client.search(token, now - 3600, now)["jingdong_pop_order_search_responce"]
    assert answer["code"] == "0"
    result = answer["searchorderinfo_result"]
    assert result["apiResult"]["success"] is True and result["orderTotal"] == 1
    (order,) = result["orderInfoList"]
    assert order["orderId"] == made["order_id"] and order["orderState"] == "WAIT_SELLER_STOCK_OUT"
    assert order["modified"] == china(now - 60) and order["paymentConfirmTime"]
    assert (order["orderPayment"], order["freightPrice"]) == ("288.00", "12.00")
    assert order["consigneeInfo"]["mobile"].count("*") == 4
    (item,) = order["itemInfoList"]
    assert (item["outerSkuId"], item["itemTotal"], item["jdPrice"]) == (
        "RS-LIVE-XL-5",
        "2",
        "138.00",
    )
    assert order["waybill"] == ""


def test_lists_only_paid_orders(kit, client, token):
    now = int(time.time())
    ids = {
        status: kit.order(SHOP, status, update_time=now - 100)["order_id"]
        for status in (
            "UNPAID",
            "CANCELLED",
            "PAID",
            "SHIPPED",
            "COMPLETED",
            "REFUNDING",
            "REFUNDED",
        )
    }
    rows = client.result(token, now - 200, now)["orderInfoList"]
    shown = {row["orderId"]: row["orderState"] for row in rows}
    assert shown == {
        ids["PAID"]: "WAIT_SELLER_STOCK_OUT",
        ids["SHIPPED"]: "WAIT_GOODS_RECEIVE_CONFIRM",
        ids["COMPLETED"]: "FINISHED_L",
        ids["REFUNDING"]: "LOCKED",
        ids["REFUNDED"]: "TRADE_CANCELED",
    }
    truth = kit.truth(SHOP)
    assert truth[ids["UNPAID"]]["listed"] is False and truth[ids["CANCELLED"]]["listed"] is False
    # paid later: listed from then on, in the window of its payment
    kit.status(ids["UNPAID"], "PAID", update_time=now - 50)
    result = client.result(token, now - 60, now)
    assert [o["orderId"] for o in result["orderInfoList"]] == [ids["UNPAID"]]
    only_locked = client.result(token, now - 200, now, order_state="LOCKED")
    assert [o["orderId"] for o in only_locked["orderInfoList"]] == [ids["REFUNDING"]]


def test_signature_checks(client, token):
    now = time.time()
    business = {"start_date": china(now - 60), "end_date": china(now), "optional_fields": "orderId"}
    assert error(client.call(SEARCH, business, token, secret="0" * 32)) == "14"
    # JD signs 360buy_param_json as sent: spaces and key order are the client's business
    loose = json.dumps(
        {"optional_fields": "orderId", "end_date": china(now), "start_date": china(now - 60)}
    )
    answer = client.call(SEARCH, {}, token, business_json=loose)
    assert "jingdong_pop_order_search_responce" in answer
    assert (
        error(
            Jd(client.base.rsplit("/platforms", 1)[0], "0" * 32, client.secret).call(
                SEARCH, business, token
            )
        )
        == "15"
    )


def test_timestamp_skew(client, token):
    now = time.time()
    business = {"start_date": china(now - 60), "end_date": china(now), "optional_fields": "orderId"}
    assert "error_response" not in client.call(SEARCH, business, token, timestamp=now + 590)
    assert error(client.call(SEARCH, business, token, timestamp=now - 610)) == "13"


def test_token_expiry_and_refresh(kit, client):
    shop = kit.shop("10086002")
    now = time.time()
    kit.post("/tokens/expire", {"shop_id": "10086002"})
    assert error(client.search(shop["access_token"], now - 60, now)) == "19"
    response = client.refresh(shop["refresh_token"])
    assert response.status_code == 200
    grant = response.json()
    assert grant["uid"] == "10086002" and grant["expires_in"] == 86400
    assert grant["refresh_token"] != shop["refresh_token"]
    assert "error_response" not in client.search(grant["access_token"], now - 60, now)
    assert client.refresh(shop["refresh_token"]).json()["code"] == 402
    assert client.refresh(grant["refresh_token"], app_secret="0" * 32).json()["code"] == 401


def test_window_and_page_size(client, token):
    now = time.time()
    assert "error_response" not in client.search(token, now - 31 * 86400, now)
    assert error(client.search(token, now - 31 * 86400 - 1, now)) == "67"
    assert error(client.search(token, now - 60, now, page_size=101)) == "67"
    assert error(client.search(token, now - 60, now, page=0)) == "67"


def test_newest_first_and_pages_from_one(kit, client, token):
    base = int(time.time()) - 1000
    ids = kit.orders(SHOP, [base + i for i in range(5)])
    pages = [client.result(token, base, base + 10, n, 2) for n in (1, 2, 3, 4)]
    assert [[o["orderId"] for o in p["orderInfoList"]] for p in pages] == [
        [ids[4], ids[3]],
        [ids[2], ids[1]],
        [ids[0]],
        [],
    ]
    assert {p["orderTotal"] for p in pages} == {5}
    ascending = client.result(token, base, base + 10, 1, 5, sortType=0)["orderInfoList"]
    assert [o["orderId"] for o in ascending] == ids


def test_backward_paging_loses_nothing_while_orders_move(kit, client):
    now = int(time.time())
    start, end = now - 4000, now - 1000
    kit.config(mutate_while_paging=True)
    for shop, pull, complete in (("81", kit.pull_backward, True), ("82", kit.pull_forward, False)):
        token = kit.shop(shop)["access_token"]
        made = set(kit.orders(shop, [start + 10 * i for i in range(230)]))
        seen = set(pull(client.pager(token, start, end, 50), 50))
        later_end = int(time.time()) + 1
        later = set(kit.pull_backward(client.pager(token, end + 1, later_end, 100), 100))
        assert later and later <= made
        assert (seen | later == made) is complete, shop


def test_late_update_lands_in_its_window(kit, client, token):
    now = int(time.time())
    early, before, after = kit.orders(SHOP, [now - 7200, now - 1900, now - 1700])
    kit.status(early, "REFUNDING", update_time=now - 1800)
    rows = client.result(token, now - 2000, now - 1500)["orderInfoList"]
    assert [r["orderId"] for r in rows] == [after, early, before]
    assert rows[1]["orderState"] == "LOCKED"
    assert client.result(token, now - 7300, now - 3600)["orderTotal"] == 0


def test_ship_write_back(kit, client, token):
    now = int(time.time())
    paid = kit.order(SHOP, "PAID", update_time=now - 600)["order_id"]
    unpaid = kit.order(SHOP, "UNPAID", update_time=now - 600)["order_id"]
    ship = {"order_id": paid, "logi_coprId": "463", "logi_no": "JDV000111222"}
    answer = client.call(SHIPMENT, ship, token)
    assert (
        answer["jingdong_pop_order_shipment_responce"]["sopjosshipment_result"]["success"] is True
    )
    truth = kit.truth(SHOP)[paid]
    assert truth["status"] == "SHIPPED" and truth["platform_status"] == "WAIT_GOODS_RECEIVE_CONFIRM"
    assert kit.get("/shipments")["shipments"][0]["company"] == "463"
    for order_id in (paid, unpaid):
        answer = client.call(SHIPMENT, {**ship, "order_id": order_id}, token)
        result = answer["jingdong_pop_order_shipment_responce"]["sopjosshipment_result"]
        assert result["success"] is False and result["chineseErrCode"]
    assert kit.stats()["by_outcome"]["business"] == 2


def test_faults_in_jd_shape(kit, client, token):
    now = time.time()
    for kind, code in (("rate_limit", "70"), ("server_error", "66"), ("token_expired", "19")):
        kit.fault(kind=kind, times=1)
        assert error(client.search(token, now - 60, now)) == code
    kit.fault(kind="malformed", times=1, variant="missing_list")
    result = client.result(token, now - 60, now)
    assert "orderInfoList" not in result and result["orderTotal"] == 0
    kit.fault(kind="server_error", times=1)
    shop = kit.shop("10086003")
    assert client.refresh(shop["refresh_token"]).json()["code"] == 500  # the OAuth host too
    assert "access_token" in client.refresh(shop["refresh_token"]).json()
