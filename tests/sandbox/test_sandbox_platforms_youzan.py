"""The Youzan stand-in, driven by a small client written from docs/platforms.md."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

SHOP = "91234567"
CHINA = timezone(timedelta(hours=8))


def china(unix: float) -> str:
    return datetime.fromtimestamp(unix, CHINA).strftime("%Y-%m-%d %H:%M:%S")


class Youzan:
    def __init__(self, url: str, client_id: str, secret: str):
        self.base = url + "/platforms/youzan"
        self.client_id = client_id
        self.secret = secret

    def token(self, kdt_id: str, refresh: bool = False, secret: str | None = None) -> dict:
        body = {
            "client_id": self.client_id,
            "client_secret": secret or self.secret,
            "authorize_type": "silent",
            "grant_id": kdt_id,
            "refresh": refresh,
        }
        return requests.post(f"{self.base}/auth/token", json=body, timeout=10).json()

    def api(self, name: str, version: str, body: dict, token: str, timeout: float = 10):
        return requests.post(
            f"{self.base}/api/{name}/{version}",
            params={"access_token": token},
            json=body,
            timeout=timeout,
        )

    def trades(self, token: str, start: float, end: float, page_no=1, page_size=100, **more):
        body = {
            "start_update": china(start),
            "end_update": china(end),
            "page_no": page_no,
            "page_size": page_size,
            **more,
        }
        return self.api("youzan.trades.sold.get", "4.0.4", body, token).json()

    def pager(self, token: str, start: float, end: float, size: int):
        def page(number: int) -> tuple[list[str], int]:
            data = self.trades(token, start, end, number, size)["data"]
            tids = [
                row["full_order_info"]["order_info"]["tid"] for row in data["full_order_info_list"]
            ]
            return tids, data["total_results"]

        return page


@pytest.fixture
def kit(platform_kit):
    return platform_kit("youzan")


@pytest.fixture
def client(sandbox, env) -> Youzan:
    return Youzan(sandbox.url, env["YOUZAN_CLIENT_ID"], env["YOUZAN_CLIENT_SECRET"])


@pytest.fixture
def token(kit, client) -> str:
    kit.shop(SHOP)
    return client.token(SHOP)["data"]["access_token"]


def test_trades_answer_in_youzan_format(kit, client, token):
    now = int(time.time())
    items = [{"outer_id": "RS-LIVE-L-5", "quantity": 1, "unit_price_fen": 12800}]
    made = kit.order(SHOP, "PAID", update_time=now - 60, post_fee_fen=1000, items=items)
    answer = client.trades(token, now - 3600, now)
    assert (answer["code"], answer["success"]) == (200, True) and answer["trace_id"]
    assert answer["data"]["total_results"] == 1
    (row,) = answer["data"]["full_order_info_list"]
    full = row["full_order_info"]
    info = full["order_info"]
    assert info["tid"] == made["order_id"] and info["tid"].startswith("E")
    assert info["status"] == "WAIT_SELLER_SEND_GOODS" and info["update_time"] == china(now - 60)
    assert row["refund_state"] == 0 == info["refund_state"]
    assert (full["pay_info"]["payment"], full["pay_info"]["post_fee"]) == ("138.00", "10.00")
    for key in ("receiver_name", "receiver_tel", "delivery_address"):
        value = full["address_info"][key]
        assert value.startswith("$") and value.endswith("$1$")
    (line,) = full["orders"]
    assert (line["outer_sku_id"], line["outer_item_id"], line["num"]) == (
        "RS-LIVE-L-5",
        "RS-LIVE",
        1,
    )
    assert (line["price"], line["payment"]) == ("128.00", "128.00")


def test_status_model(kit, client, token):
    now = int(time.time())
    statuses = ("UNPAID", "SHIPPED", "COMPLETED", "CANCELLED", "REFUNDING", "REFUNDED")
    ids = {s: kit.order(SHOP, s, update_time=now - 100)["order_id"] for s in statuses}
    rows = client.trades(token, now - 200, now)["data"]["full_order_info_list"]
    shown = {
        r["full_order_info"]["order_info"]["tid"]: (
            r["full_order_info"]["order_info"]["status"],
            r["refund_state"],
        )
        for r in rows
    }
    assert {s: shown[i] for s, i in ids.items()} == {
        "UNPAID": ("WAIT_BUYER_PAY", 0),
        "SHIPPED": ("WAIT_BUYER_CONFIRM_GOODS", 0),
        "COMPLETED": ("TRADE_SUCCESS", 0),
        "CANCELLED": ("TRADE_CLOSE", 0),
        "REFUNDING": ("WAIT_SELLER_SEND_GOODS", 1),
        "REFUNDED": ("TRADE_CLOSE", 2),
    }


def test_silent_token(kit, client):
    assert client.token("55550001")["code"] == 4202  # the shop never authorised the app
    shop = kit.shop("55550001")
    assert shop["refresh_token"] is None
    first = client.token("55550001")["data"]
    assert first["access_token"] == shop["access_token"]  # a valid token is handed out again
    assert first["expires"] == shop["expires_at"] * 1000
    assert client.token("55550001", secret="0" * 32)["code"] == 4201
    kit.post("/tokens/expire", {"shop_id": "55550001"})
    now = time.time()
    answer = client.trades(first["access_token"], now - 60, now)
    assert (answer["code"], answer["success"]) == (4203, False)
    assert answer["gw_err_resp"]["err_code"] == 4203
    second = client.token("55550001")["data"]
    assert second["access_token"] != first["access_token"]
    assert client.trades(second["access_token"], now - 60, now)["code"] == 200
    forced = client.token("55550001", refresh=True)["data"]
    assert forced["access_token"] != second["access_token"]


def test_window_and_page_size(client, token):
    now = time.time()
    assert client.trades(token, now - 365 * 86400, now)["code"] == 200
    answer = client.trades(token, now - 365 * 86400 - 1, now)
    assert answer["code"] == 106000001 and "一年" in answer["message"]
    assert client.trades(token, now - 60, now, page_size=101)["code"] == 106000002
    assert client.trades(token, now - 60, now, page_no=0)["code"] == 106000002
    answer = client.api("youzan.trades.sold.get", "9.9.9", {}, token).json()
    assert answer["code"] == 4004


def test_newest_first_and_pages_from_one(kit, client, token):
    base = int(time.time()) - 1000
    ids = kit.orders(SHOP, [base + i for i in range(5)])
    pages = [client.pager(token, base, base + 10, 2)(n) for n in (1, 2, 3, 4)]
    assert [p[0] for p in pages] == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]], []]
    assert {p[1] for p in pages} == {5}


def test_backward_paging_loses_nothing_while_orders_move(kit, client):
    now = int(time.time())
    start, end = now - 4000, now - 1000
    kit.config(mutate_while_paging=True)
    for shop, pull, complete in (("61", kit.pull_backward, True), ("62", kit.pull_forward, False)):
        kit.shop(shop)
        token = client.token(shop)["data"]["access_token"]
        made = set(kit.orders(shop, [start + 10 * i for i in range(230)]))
        seen = set(pull(client.pager(token, start, end, 50), 50))
        later_end = int(time.time()) + 1
        later = set(kit.pull_backward(client.pager(token, end + 1, later_end, 100), 100))
        assert later and later <= made
        assert (seen | later == made) is complete, shop


def test_late_update_lands_in_its_window(kit, client, token):
    now = int(time.time())
    early, before, after = kit.orders(SHOP, [now - 7200, now - 1900, now - 1700])
    kit.status(early, "SHIPPED", update_time=now - 1800)
    rows = client.pager(token, now - 2000, now - 1500, 10)(1)[0]
    assert rows == [after, early, before]
    assert client.pager(token, now - 7300, now - 3600, 10)(1) == ([], 0)


def test_ship_write_back(kit, client, token):
    now = int(time.time())
    paid = kit.order(SHOP, "PAID", update_time=now - 600)["order_id"]
    done = kit.order(SHOP, "COMPLETED", update_time=now - 600)["order_id"]
    body = {"tid": paid, "out_stype": "2", "out_sid": "YD3100000000001"}
    answer = client.api("youzan.logistics.online.confirm", "3.0.0", body, token).json()
    assert (answer["code"], answer["data"]) == (200, {"is_success": True})
    truth = kit.truth(SHOP)[paid]
    assert truth["status"] == "SHIPPED" and truth["platform_status"] == "WAIT_BUYER_CONFIRM_GOODS"
    for tid in (paid, done, "E20000101000000000000001"):
        answer = client.api("youzan.logistics.online.confirm", "3.0.0", {**body, "tid": tid}, token)
        assert answer.json()["success"] is False


def test_faults_in_youzan_shape(kit, client, token):
    now = time.time()
    for kind, code in (("rate_limit", 4003), ("server_error", 5000), ("token_expired", 4203)):
        kit.fault(kind=kind, times=1)
        assert client.trades(token, now - 60, now)["code"] == code
    kit.fault(kind="malformed", times=1, variant="missing_list")
    answer = client.trades(token, now - 60, now)
    assert answer["code"] == 200 and "full_order_info_list" not in answer["data"]
    kit.fault(kind="server_error", times=1)
    assert client.token(SHOP)["code"] == 5000  # /auth/token meets faults too
