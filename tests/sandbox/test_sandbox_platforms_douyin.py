"""The Douyin shop stand-in, driven by a small client written from docs/platforms.md."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import requests

SHOP = "4463798"


class Douyin:
    def __init__(self, url: str, app_key: str, secret: str):
        self.base = url + "/platforms/douyin"
        self.app_key = app_key
        self.secret = secret

    def call(
        self,
        method: str,
        params: dict,
        access_token: str | None = None,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        app_key: str | None = None,
        param_json: str | None = None,
        timeout: float = 10,
    ) -> requests.Response:
        secret = secret or self.secret
        app_key = app_key or self.app_key
        if param_json is None:
            param_json = json.dumps(
                params, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )
        ts = str(int(time.time()) if timestamp is None else timestamp)
        pattern = (
            f"{secret}app_key{app_key}method{method}param_json{param_json}timestamp{ts}v2{secret}"
        )
        query = {
            "app_key": app_key,
            "method": method,
            "timestamp": ts,
            "v": "2",
            "sign_method": "hmac-sha256",
            "sign": hmac.new(secret.encode(), pattern.encode(), hashlib.sha256).hexdigest(),
        }
        if access_token:
            query["access_token"] = access_token
        return requests.post(
            f"{self.base}/{method.replace('.', '/')}",
            params=query,
            data=param_json.encode("utf-8"),
            headers={"Content-Type": "application/json"},
            timeout=timeout,
        )

    def search(self, token: str, start: int, end: int, page: int = 0, size: int = 100, **more):
        params = {
            "update_time_start": start,
            "update_time_end": end,
            "order_by": "update_time",
            "order_asc": False,
            "page": page,
            "size": size,
            **more,
        }
        return self.call("order.searchList", params, token).json()

    def pager(self, token: str, start: int, end: int, size: int):
        def page(number: int) -> tuple[list[str], int]:
            data = self.search(token, start, end, number - 1, size)["data"]
            return [o["order_id"] for o in data["shop_order_list"]], data["total"]

        return page


@pytest.fixture
def kit(platform_kit):
    return platform_kit("douyin")


@pytest.fixture
def client(sandbox, env) -> Douyin:
    return Douyin(sandbox.url, env["DOUYIN_APP_KEY"], env["DOUYIN_APP_SECRET"])


@pytest.fixture
def token(kit) -> str:
    return kit.shop(SHOP, name="乳山海之蚝旗舰店")["access_token"]


def test_search_answers_in_douyin_format(kit, client, token):
    now = int(time.time())
    items = [{"outer_id": "RS-LIVE-XL-5", "quantity": 2, "unit_price_fen": 13800, "title": "生蚝"}]
    made = kit.order(SHOP, "PAID", update_time=now - 60, post_fee_fen=1000, items=items)
    body = client.search(token, now - 3600, now)
    assert body["code"] == 10000 and body["msg"] == "success" and body["log_id"]
    data = body["data"]
    assert (data["page"], data["size"], data["total"]) == (0, 100, 1)
    (order,) = data["shop_order_list"]
    assert order["order_id"] == made["order_id"] and isinstance(order["order_id"], str)
    assert order["order_status"] in (2, 105) and order["shop_id"] == int(SHOP)
    assert order["update_time"] == now - 60 and order["pay_time"] > 0
    assert order["create_time"] <= order["pay_time"]
    assert (order["order_amount"], order["pay_amount"], order["post_amount"]) == (28600,) * 2 + (
        1000,
    )
    assert order["encrypt_post_tel"].startswith("#") and order["encrypt_post_tel"].count("#") >= 3
    assert order["post_addr"]["province"]["name"] and order["post_addr"]["encrypt_detail"]
    (sku,) = order["sku_order_list"]
    assert sku["out_sku_id"] == "RS-LIVE-XL-5" and sku["item_num"] == 2
    assert sku["origin_amount"] == 27600 and sku["parent_order_id"] == made["order_id"]
    assert order["after_sale_info"] == {"after_sale_status": 0, "refund_status": 0}
    assert order["logistics_info"] == []


def test_status_model(kit, client, token):
    now = int(time.time())
    ids = {
        status: kit.order(SHOP, status, update_time=now - 100)["order_id"]
        for status in ("UNPAID", "SHIPPED", "COMPLETED", "CANCELLED", "REFUNDING", "REFUNDED")
    }
    rows = client.search(token, now - 200, now)["data"]["shop_order_list"]
    by_id = {row["order_id"]: row for row in rows}
    status = {
        s: (by_id[i]["order_status"], by_id[i]["after_sale_info"]["refund_status"])
        for s, i in ids.items()
    }
    assert status["UNPAID"] == (1, 0) and by_id[ids["UNPAID"]]["pay_time"] == 0
    assert status["SHIPPED"] == (3, 0) and by_id[ids["SHIPPED"]]["logistics_info"][0]["tracking_no"]
    assert status["COMPLETED"] == (5, 0)
    assert status["CANCELLED"] == (4, 0) and by_id[ids["CANCELLED"]]["pay_time"] == 0
    assert status["REFUNDING"][1] == 1 and status["REFUNDED"] == (4, 3)
    assert by_id[ids["REFUNDED"]]["pay_time"] > 0


def test_signature_checks(client, token):
    now = int(time.time())
    params = {"update_time_start": now - 60, "update_time_end": now, "page": 0, "size": 10}
    answer = client.call("order.searchList", params, token, secret="0" * 36).json()
    assert (answer["code"], answer["sub_code"]) == (40004, "isv.signature-invalid")
    # signed over the keys as written, not sorted: the gateway re-sorts, so the sign is wrong
    loose = json.dumps({"update_time_start": now - 60, "update_time_end": now, "size": 10})
    answer = client.call("order.searchList", {}, token, param_json=loose).json()
    assert answer["code"] == 40004
    # non-ASCII must stay as is: escaping it changes the bytes signed
    escaped = json.dumps({**params, "remark": "生蚝"}, sort_keys=True, separators=(",", ":"))
    assert client.call("order.searchList", {}, token, param_json=escaped).json()["code"] == 40004
    answer = client.call("order.searchList", {**params, "remark": "生蚝"}, token).json()
    assert answer["code"] == 10000
    answer = client.call("order.searchList", params, token, app_key="7300000000000000000").json()
    assert answer["sub_code"] == "isv.app-key-invalid"


def test_timestamp_skew(client, token):
    now = int(time.time())
    params = {"update_time_start": now - 60, "update_time_end": now}
    for skew, code in ((-590, 10000), (590, 10000), (-620, 40005), (620, 40005)):
        answer = client.call("order.searchList", params, token, timestamp=now + skew).json()
        assert answer["code"] == code, skew
    assert answer["sub_code"] == "isv.timestamp-invalid"


def test_token_expiry_and_refresh(kit, client, token):
    shop = kit.shop("9900001")
    now = int(time.time())
    kit.post("/tokens/expire", {"shop_id": "9900001"})
    answer = client.search(shop["access_token"], now - 60, now)
    assert (answer["code"], answer["sub_code"]) == (30001, "isv.access-token-expired")
    assert client.search("no-such-token", now - 60, now)["code"] == 30001
    assert (
        client.call("order.searchList", {"update_time_start": 1, "update_time_end": 2}).json()[
            "code"
        ]
        == 30001
    )  # no access_token at all
    refresh = {"grant_type": "refresh_token", "refresh_token": shop["refresh_token"]}
    data = client.call("token.refresh", refresh).json()["data"]
    assert data["expires_in"] == 86400 and data["shop_id"] == 9900001
    assert data["access_token"] != shop["access_token"]
    assert data["refresh_token"] != shop["refresh_token"]
    assert client.search(data["access_token"], now - 60, now)["code"] == 10000
    again = client.call("token.refresh", refresh).json()
    assert (again["code"], again["sub_code"]) == (40003, "isv.refresh-token-invalid")
    assert client.search(token, now - 60, now)["code"] == 10000  # other shops unaffected


def test_window_and_page_size(kit, client, token):
    now = int(time.time())
    assert client.search(token, now - 86400, now)["code"] == 10000
    answer = client.search(token, now - 86401, now)
    assert (answer["code"], answer["sub_code"]) == (40003, "isv.parameter-invalid")
    assert client.search(token, now, now - 1)["code"] == 40003
    assert client.search(token, now - 60, now, size=101)["code"] == 40003
    assert client.search(token, now - 60, now, page=-1)["code"] == 40003
    kit.config(max_window_seconds=3600)
    assert client.search(token, now - 3601, now)["code"] == 40003
    assert client.search(token, now - 3600, now)["code"] == 10000


def test_newest_first_and_pages_from_zero(kit, client, token):
    base = int(time.time()) - 1000
    ids = kit.orders(SHOP, [base + i for i in range(5)])
    pages = [client.search(token, base, base + 10, page, 2)["data"] for page in range(4)]
    assert [[o["order_id"] for o in p["shop_order_list"]] for p in pages] == [
        [ids[4], ids[3]],
        [ids[2], ids[1]],
        [ids[0]],
        [],
    ]
    assert {p["total"] for p in pages} == {5}
    rows = client.search(token, base, base + 10, 0, 5, order_asc=True)["data"]["shop_order_list"]
    assert [o["order_id"] for o in rows] == ids


def test_backward_paging_loses_nothing_while_orders_move(kit, client):
    now = int(time.time())
    start, end = now - 4000, now - 1000  # the window's end fixed in the past
    kit.config(mutate_while_paging=True)
    for shop, pull, complete in (
        ("70001", kit.pull_backward, True),
        ("70002", kit.pull_forward, False),
    ):
        token = kit.shop(shop)["access_token"]
        made = set(kit.orders(shop, [start + 10 * i for i in range(230)]))
        seen = set(pull(client.pager(token, start, end, 50), 50))
        later_end = int(time.time()) + 1
        later = set(kit.pull_backward(client.pager(token, end + 1, later_end, 100), 100))
        assert later and later <= made  # the orders touched while paging moved to now
        assert (seen | later == made) is complete, shop
    assert kit.stats()["touched"] > 0


def test_late_update_lands_in_its_window(kit, client, token):
    now = int(time.time())
    early, before, after = kit.orders(SHOP, [now - 7200, now - 1900, now - 1700])
    kit.status(early, "SHIPPED", update_time=now - 1800)
    rows = client.search(token, now - 2000, now - 1500)["data"]["shop_order_list"]
    assert [r["order_id"] for r in rows] == [after, early, before]
    assert rows[1]["order_status"] == 3 and rows[1]["update_time"] == now - 1800
    assert client.search(token, now - 7300, now - 3600)["data"]["total"] == 0
    assert client.search(token, now - 1499, now)["data"]["total"] == 0


def test_ship_write_back(kit, client, token):
    now = int(time.time())
    paid = kit.order(SHOP, "PAID", update_time=now - 600)["order_id"]
    unpaid = kit.order(SHOP, "UNPAID", update_time=now - 600)["order_id"]
    ship = {"order_id": paid, "company_code": "zhongtong", "logistics_code": "ZT7700001"}
    answer = client.call("order.logisticsAdd", ship, token).json()
    assert (answer["code"], answer["data"]) == (10000, {})
    truth = kit.truth(SHOP)[paid]
    assert truth["status"] == "SHIPPED" and truth["tracking_no"] == "ZT7700001"
    assert truth["update_time"] >= now
    (shipment,) = kit.get("/shipments", shop_id=SHOP)["shipments"]
    assert shipment["order_id"] == paid and shipment["tracking_no"] == "ZT7700001"
    row = client.search(token, now - 60, int(time.time()))["data"]["shop_order_list"][0]
    assert row["order_status"] == 3 and row["logistics_info"][0]["tracking_no"] == "ZT7700001"
    for order_id in (paid, unpaid, "6918000000000000000"):
        answer = client.call("order.logisticsAdd", {**ship, "order_id": order_id}, token).json()
        assert (answer["code"], answer["sub_code"]) == (40003, "isv.business-failed")


def test_faults_in_douyin_shape(kit, client, token):
    now = int(time.time())
    kit.order(SHOP, "PAID", update_time=now - 30)
    for kind, code in (("rate_limit", 50002), ("server_error", 50001), ("token_expired", 30001)):
        kit.fault(kind=kind, times=1)
        assert client.search(token, now - 60, now)["code"] == code
    assert client.search(token, now - 60, now)["code"] == 10000
    kit.fault(kind="http_500", times=1)
    response = client.call(
        "order.searchList", {"update_time_start": now - 60, "update_time_end": now}, token
    )
    assert response.status_code == 500 and "<html>" in response.text
    kit.fault(kind="malformed", times=2)
    params = {"update_time_start": now - 60, "update_time_end": now}
    with pytest.raises(ValueError):
        client.call("order.searchList", params, token).json()
    missing = client.call("order.searchList", params, token).json()
    assert missing["code"] == 10000 and "shop_order_list" not in missing["data"]
    stats = kit.stats()
    assert stats["faults"] == {
        "http_500": 1,
        "malformed": 2,
        "rate_limit": 1,
        "server_error": 1,
        "token_expired": 1,
    }
    assert stats["by_outcome"]["rate_limited"] == 1
