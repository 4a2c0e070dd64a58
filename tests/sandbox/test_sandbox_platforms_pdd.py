"""The Pinduoduo stand-in, driven by a small client written from docs/platforms.md."""

from __future__ import annotations

import hashlib
import time

import pytest
import requests

SHOP = "734019"
INCREMENT = "pdd.order.number.list.increment.get"
SEND = "pdd.logistics.online.send"


class Pdd:
    def __init__(self, url: str, client_id: str, secret: str):
        self.url = url + "/platforms/pdd/api/router"
        self.client_id = client_id
        self.secret = secret

    def call(
        self,
        api_type: str,
        business: dict,
        access_token: str | None = None,
        *,
        timestamp: float | None = None,
        secret: str | None = None,
        timeout: float = 10,
    ) -> requests.Response:
        secret = secret or self.secret
        params = {
            "type": api_type,
            "client_id": self.client_id,
            "timestamp": str(int(time.time() if timestamp is None else timestamp)),
            "data_type": "JSON",
            "version": "V1",
        }
        if access_token:
            params["access_token"] = access_token
        params.update(
            {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in business.items()}
        )
        joined = "".join(k + params[k] for k in sorted(params))
        params["sign"] = hashlib.md5((secret + joined + secret).encode()).hexdigest().upper()
        return requests.post(self.url, data=params, timeout=timeout)

    def increment(self, token: str, start: int, end: int, page=1, page_size=100, **more) -> dict:
        business = {
            "start_updated_at": start,
            "end_updated_at": end,
            "order_status": 5,
            "refund_status": 5,
            "is_lucky_flag": 0,
            "page": page,
            "page_size": page_size,
            "use_has_next": True,
            **more,
        }
        return self.call(INCREMENT, business, token).json()

    def answer(self, token: str, start: int, end: int, page=1, page_size=100, **more) -> dict:
        return self.increment(token, start, end, page, page_size, **more)[
            "order_sn_increment_get_response"
        ]

    def pager(self, token: str, start: int, end: int, size: int):
        def page(number: int) -> tuple[list[str], int]:
            answer = self.answer(token, start, end, number, size)
            return [o["order_sn"] for o in answer["order_sn_list"]], answer["total_count"]

        return page


def error(answer: dict) -> int:
    return answer["error_response"]["error_code"]


@pytest.fixture
def kit(platform_kit):
    return platform_kit("pdd")


@pytest.fixture
def client(sandbox, env) -> Pdd:
    return Pdd(sandbox.url, env["PDD_CLIENT_ID"], env["PDD_CLIENT_SECRET"])


@pytest.fixture
def token(kit) -> str:
    return kit.shop(SHOP)["access_token"]


def test_increment_answers_in_pdd_format(kit, client, token):
    now = int(time.time())
    items = [{"outer_id": "RS-LIVE-S-5", "quantity": 3, "unit_price_fen": 1990}]
    made = kit.order(SHOP, "PAID", update_time=now - 60, post_fee_fen=0, items=items)
    answer = client.answer(token, now - 600, now)
    assert answer["total_count"] == 1 and answer["has_next"] is False
    (order,) = answer["order_sn_list"]
    assert order["order_sn"] == made["order_id"] and "-" in order["order_sn"]
    assert (order["order_status"], order["refund_status"]) == (1, 1)
    assert order["pay_amount"] == 59.7 and order["goods_amount"] == 59.7
    assert order["postage"] == 0.0 and isinstance(order["postage"], float)
    assert order["receiver_phone"].count("*") == 4
    (item,) = order["item_list"]
    assert (item["outer_id"], item["goods_count"], item["goods_price"]) == ("RS-LIVE-S-5", 3, 19.9)
    assert order["tracking_number"] == ""


def test_lists_only_paid_orders_and_filters(kit, client, token):
    now = int(time.time())
    statuses = ("UNPAID", "CANCELLED", "PAID", "SHIPPED", "COMPLETED", "REFUNDING", "REFUNDED")
    ids = {s: kit.order(SHOP, s, update_time=now - 100)["order_id"] for s in statuses}
    rows = client.answer(token, now - 200, now)["order_sn_list"]
    shown = {row["order_sn"]: (row["order_status"], row["refund_status"]) for row in rows}
    assert set(shown) == {ids[s] for s in statuses[2:]}
    assert shown[ids["PAID"]] == (1, 1) and shown[ids["SHIPPED"]] == (2, 1)
    assert shown[ids["COMPLETED"]] == (3, 1) and shown[ids["REFUNDED"]][1] == 4
    assert shown[ids["REFUNDING"]][1] in (2, 3)
    shipped = client.answer(token, now - 200, now, order_status=2)["order_sn_list"]
    assert [o["order_sn"] for o in shipped] == [ids["SHIPPED"]]
    refunded = client.answer(token, now - 200, now, refund_status=4)["order_sn_list"]
    assert [o["order_sn"] for o in refunded] == [ids["REFUNDED"]]


def test_signature_and_timestamp(kit, client, token):
    now = int(time.time())
    business = {
        "start_updated_at": now - 60,
        "end_updated_at": now,
        "order_status": 5,
        "refund_status": 5,
    }
    assert error(client.call(INCREMENT, business, token, secret="0" * 40).json()) == 10016
    assert error(client.call(INCREMENT, business, token, timestamp=now - 601).json()) == 10035
    assert (
        "error_response" not in client.call(INCREMENT, business, token, timestamp=now - 590).json()
    )
    stranger = Pdd(client.url.rsplit("/platforms", 1)[0], "0" * 32, client.secret)
    assert error(stranger.call(INCREMENT, business, token).json()) == 10001


def test_token_expiry_and_refresh(kit, client):
    shop = kit.shop("734020")
    now = int(time.time())
    kit.post("/tokens/expire", {"shop_id": "734020"})
    assert error(client.increment(shop["access_token"], now - 60, now)) == 10019
    refresh = {"refresh_token": shop["refresh_token"]}
    grant = client.call("pdd.pop.auth.token.refresh", refresh).json()[
        "pop_auth_token_refresh_response"
    ]
    assert grant["owner_id"] == "734020" and grant["expires_in"] == 86400
    assert grant["refresh_token"] != shop["refresh_token"]
    assert "error_response" not in client.increment(grant["access_token"], now - 60, now)
    again = client.call("pdd.pop.auth.token.refresh", refresh).json()["error_response"]
    assert again["error_code"] == 10000 and again["sub_code"] == "refresh_token_invalid"


def test_window_and_page_size(client, token):
    now = int(time.time())
    assert "error_response" not in client.increment(token, now - 1800, now)
    assert error(client.increment(token, now - 1801, now)) == 10000
    assert error(client.increment(token, now - 60, now, page_size=101)) == 10000
    assert error(client.increment(token, now - 60, now, page=0)) == 10000
    assert error(client.increment(token, now - 60, now, order_status=4)) == 10000


def test_newest_first_and_pages_from_one(kit, client, token):
    base = int(time.time()) - 1000
    ids = kit.orders(SHOP, [base + i for i in range(5)])
    pages = [client.answer(token, base, base + 10, n, 2) for n in (1, 2, 3, 4)]
    assert [[o["order_sn"] for o in p["order_sn_list"]] for p in pages] == [
        [ids[4], ids[3]],
        [ids[2], ids[1]],
        [ids[0]],
        [],
    ]
    assert [p["has_next"] for p in pages] == [True, True, False, False]


def test_backward_paging_loses_nothing_while_orders_move(kit, client):
    now = int(time.time())
    start, end = now - 1800, now - 300  # PDD windows are at most 30 minutes
    kit.config(mutate_while_paging=True)
    for shop, pull, complete in (("91", kit.pull_backward, True), ("92", kit.pull_forward, False)):
        token = kit.shop(shop)["access_token"]
        made = set(kit.orders(shop, [start + 6 * i for i in range(230)]))
        seen = set(pull(client.pager(token, start, end, 50), 50))
        later_end = int(time.time()) + 1
        later = set(kit.pull_backward(client.pager(token, end + 1, later_end, 100), 100))
        assert later and later <= made
        assert (seen | later == made) is complete, shop


def test_late_update_lands_in_its_window(kit, client, token):
    now = int(time.time())
    early, before, after = kit.orders(SHOP, [now - 7200, now - 1200, now - 1000])
    kit.status(early, "REFUNDED", update_time=now - 1100)
    rows = client.answer(token, now - 1300, now - 900)["order_sn_list"]
    assert [r["order_sn"] for r in rows] == [after, early, before]
    assert rows[1]["refund_status"] == 4
    assert client.answer(token, now - 7300, now - 7000)["total_count"] == 0


def test_ship_write_back(kit, client, token):
    now = int(time.time())
    paid = kit.order(SHOP, "PAID", update_time=now - 600)["order_id"]
    unpaid = kit.order(SHOP, "UNPAID", update_time=now - 600)["order_id"]
    send = {"order_sn": paid, "logistics_id": 44, "tracking_number": "YT9000000001"}
    answer = client.call(SEND, send, token).json()
    assert answer["logistics_online_send_response"]["is_success"] is True
    row = client.answer(token, now - 60, int(time.time()))["order_sn_list"][0]
    assert (row["order_status"], row["tracking_number"], row["logistics_id"]) == (
        2,
        "YT9000000001",
        44,
    )
    for order_sn in (paid, unpaid):
        assert error(client.call(SEND, {**send, "order_sn": order_sn}, token).json()) == 10000


def test_faults_in_pdd_shape(kit, client, token):
    now = int(time.time())
    for kind, code in (("rate_limit", 70031), ("server_error", 50000), ("token_expired", 10019)):
        kit.fault(kind=kind, times=1)
        assert error(client.increment(token, now - 60, now)) == code
    kit.fault(kind="malformed", times=1, variant="truncated")
    response = client.call(
        INCREMENT,
        {
            "start_updated_at": now - 60,
            "end_updated_at": now,
            "order_status": 5,
            "refund_status": 5,
        },
        token,
    )
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
