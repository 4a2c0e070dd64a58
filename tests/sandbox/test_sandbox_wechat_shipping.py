"""The shipping information management stand-in (小程序发货信息管理服务), driven through wechatpy's
client (`wxa._post`, as api-facts §7.1 says) and wechatpayv3 for the payments: the documented error
codes, the per-payment states on the WeChat clock, frozen funds, the message pushes, reset."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from wechatpy.exceptions import WeChatClientException
from wechatpy.utils import check_signature
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

CST = timezone(timedelta(hours=8))
DAY = 24 * 3600
SETTLE = 3600  # receipt confirmed -> settled, in these tests
FAST_SHIPPING = {
    "wxa_push_retry_delays": [0.05, 0.1],
    "wxa_push_timeout": 2.0,
    "shipping_settlement_delay_seconds": SETTLE,
}
BUYER = "o_buyer_1"


class PushReceiver:
    """The mini-program's message URL: records pushes, answers scripted bodies ('success' after)."""

    def __init__(self, replies: list[str] | None = None):
        self.replies = list(replies or [])
        self.received: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}/wxa/message"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()

    def _app(self, environ, start_response):
        request = Request(environ)
        with self._changed:
            reply = self.replies.pop(0) if self.replies else "success"
            self.received.append({"args": dict(request.args), "raw": request.get_data()})
            self._changed.notify_all()
        return Response(reply)(environ, start_response)

    def wait_for(self, count: int, timeout: float = 5) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"got {len(self.received)} pushes, expected {count}"
                self._changed.wait(left)
            return list(self.received)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture
def sandbox_settings() -> dict:
    return FAST_SHIPPING


@pytest.fixture
def pushes(control):
    receiver = PushReceiver()
    control.post("/sandbox/wx/shipping/config", {"message_url": receiver.url})
    yield receiver
    receiver.stop()


@pytest.fixture
def pay(wxpay, place_order, control):
    """`pay(out_trade_no, total=100)` -> transaction_id of a paid order of BUYER."""

    def paid(out_trade_no: str, total: int = 100) -> str:
        place_order(wxpay, out_trade_no, total=total)
        return control.post(f"/sandbox/pay/out-trade-no/{out_trade_no}/confirm")["transaction_id"]

    return paid


def call(wx, path: str, body: Any) -> dict:
    """The API's answer; an errcode comes back as {"errcode": N} instead of an exception."""
    try:
        return wx.wxa._post(path, data=body)
    except WeChatClientException as exc:
        return {"errcode": exc.errcode, "errmsg": exc.errmsg}


def upload_body(out_trade_no: str, **changes: Any) -> dict:
    body = {
        "order_key": {"order_number_type": 1, "mchid": "1900000109", "out_trade_no": out_trade_no},
        "logistics_type": 1,
        "delivery_mode": 1,
        "shipping_list": [
            {
                "tracking_no": "SF1234567890",
                "express_company": "SF",
                "item_desc": "乳山生蚝 5斤装*1",
                "contact": {"receiver_contact": "189****1234"},
            }
        ],
        "upload_time": datetime.now(CST).isoformat(timespec="milliseconds"),
        "payer": {"openid": BUYER},
    }
    body.update(changes)
    return body


def upload(wx, out_trade_no: str, **changes: Any) -> int:
    path = "wxa/sec/order/upload_shipping_info"
    return call(wx, path, upload_body(out_trade_no, **changes))["errcode"]


def later(seconds: float) -> str:
    return (datetime.now(CST) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def get_order(wx, out_trade_no: str) -> dict:
    body = {"merchant_id": "1900000109", "merchant_trade_no": out_trade_no}
    return call(wx, "wxa/sec/order/get_order", body)


def shipping_orders(control) -> dict:
    return control.get("/sandbox/wx/shipping/orders")


def _push_log(control, count: int, seconds: float = 10) -> list[dict]:
    """The sandbox's push log once it holds `count` attempts: it logs an attempt when the reply
    is in, which on a loaded machine may come after our receiver has counted the push."""
    deadline = time.monotonic() + seconds
    while True:
        log = control.get("/sandbox/wx/shipping/pushes")["pushes"]
        if len(log) >= count or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def test_ship_confirm_settle_releases_the_funds_and_pushes_twice(wx, pay, control, pushes, env):
    transaction_id = pay("HL20261206001", total=12800)
    order = get_order(wx, "HL20261206001")["order"]
    assert (order["order_state"], order["shipping"], order["paid_amount"]) == (1, {}, 12800)
    assert order["transaction_id"] == transaction_id and order["openid"] == BUYER
    assert shipping_orders(control)["frozen_count"] == 1

    assert upload(wx, "HL20261206001") == 0
    order = call(wx, "wxa/sec/order/get_order", {"transaction_id": transaction_id})["order"]
    shipping = order["shipping"]
    assert order["order_state"] == 2
    assert (shipping["finish_shipping"], shipping["finish_shipping_count"]) == (True, 1)
    assert shipping["shipping_list"][0]["tracking_no"] == "SF1234567890"
    assert shipping["shipping_list"][0]["contact"] == {"receiver_contact": "189****1234"}
    listed = shipping_orders(control)
    assert listed["frozen_count"] == 1 and listed["orders"][0]["funds_frozen"] is True

    confirmed = control.post("/sandbox/wx/shipping/confirm", {"out_trade_no": "HL20261206001"})
    assert (confirmed["order_state"], confirmed["funds_frozen"]) == (3, True)
    assert confirmed["confirm_method"] == 2  # manual, as the doc numbers it
    control.post("/sandbox/wx/shipping/advance", {"seconds": SETTLE - 60})
    assert get_order(wx, "HL20261206001")["order"]["order_state"] == 3
    advanced = control.post("/sandbox/wx/shipping/advance", {"seconds": 60})
    assert (advanced["frozen_count"], advanced["frozen_amount"]) == (0, 0)
    assert get_order(wx, "HL20261206001")["order"]["order_state"] == 4

    shipped, settled = [json.loads(p["raw"]) for p in pushes.wait_for(2)]
    for push in pushes.received:
        args = push["args"]
        check_signature(
            env["WXA_MESSAGE_TOKEN"], args["signature"], args["timestamp"], args["nonce"]
        )
    assert shipped["Event"] == settled["Event"] == "trade_manage_order_settlement"
    assert shipped["MsgType"] == "event" and shipped["transaction_id"] == transaction_id
    assert (
        shipped["merchant_trade_no"] == "HL20261206001" and shipped["merchant_id"] == "1900000109"
    )
    assert shipped["estimated_settlement_time"] == shipped["shipped_time"] + 10 * DAY + SETTLE
    assert "settlement_time" not in shipped
    assert settled["confirm_receive_method"] == 2
    assert settled["settlement_time"] == settled["confirm_receive_time"] + SETTLE
    log = _push_log(control, 2)
    assert [(p["attempt"], p["ok"]) for p in log] == [(1, True), (1, True)]


def test_receipt_is_confirmed_automatically_after_the_period(wx, pay, control):
    pay("HL20261206002")
    assert upload(wx, "HL20261206002", logistics_type=1) == 0
    control.post("/sandbox/wx/shipping/advance", {"seconds": 10 * DAY - 120})
    assert get_order(wx, "HL20261206002")["order"]["order_state"] == 2
    control.post("/sandbox/wx/shipping/advance", {"seconds": 120})
    [row] = shipping_orders(control)["orders"]
    assert (row["order_state"], row["confirm_method"], row["funds_frozen"]) == (3, 1, True)
    assert row["confirmed_at"] == pytest.approx(row["shipped_at"] + 10 * DAY)
    control.post("/sandbox/wx/shipping/advance", {"seconds": SETTLE})
    assert shipping_orders(control)["frozen_count"] == 0


def test_one_reshipment_per_payment_and_none_after_receipt(wx, pay, control):
    pay("HL20261206003")
    assert upload(wx, "HL20261206003") == 0
    second = upload_body("HL20261206003", upload_time=later(1))
    second["shipping_list"][0]["tracking_no"] = "ZTO778899"
    second["shipping_list"][0]["express_company"] = "ZTO"
    assert call(wx, "wxa/sec/order/upload_shipping_info", second)["errcode"] == 0
    shipping = get_order(wx, "HL20261206003")["order"]["shipping"]
    assert shipping["finish_shipping_count"] == 2
    assert [p["tracking_no"] for p in shipping["shipping_list"]] == ["ZTO778899"]
    assert upload(wx, "HL20261206003", upload_time=later(2)) == 10060003
    control.post("/sandbox/wx/shipping/confirm", {"out_trade_no": "HL20261206003"})
    assert upload(wx, "HL20261206003", upload_time=later(3)) == 10060002


def test_upload_time_must_move_forward(wx, pay):
    pay("HL20261206004")
    first = later(0)
    assert upload(wx, "HL20261206004", upload_time=first) == 0
    assert upload(wx, "HL20261206004", upload_time=first) == 268485216


def test_split_delivery_ships_when_all_is_delivered(wx, pay):
    pay("HL20261206005")
    split = {"delivery_mode": 2, "is_all_delivered": False}
    assert upload(wx, "HL20261206005", **split) == 0
    order = get_order(wx, "HL20261206005")["order"]
    assert order["order_state"] == 1 and order["shipping"]["finish_shipping"] is False
    split["is_all_delivered"] = True
    assert upload(wx, "HL20261206005", upload_time=later(1), **split) == 0
    order = get_order(wx, "HL20261206005")["order"]
    assert order["order_state"] == 2 and len(order["shipping"]["shipping_list"]) == 2


def _item(**changes: Any) -> dict:
    item = {"tracking_no": "YT1", "express_company": "YTO", "item_desc": "生蚝*1"}
    return {**item, **changes}


UPLOAD_RULES = [
    ({"shipping_list": {"tracking_no": "SF1"}}, 47001),  # an object, not an array
    ({"logistics_type": 5}, 47001),
    ({"logistics_type": "1"}, 47001),
    ({"order_key": {"order_number_type": 3}}, 268485194),
    ({"order_key": {"order_number_type": 2}}, 268485195),
    ({"order_key": {"order_number_type": 1, "out_trade_no": "HL20261206006"}}, 268485196),
    ({"order_key": {"order_number_type": 1, "mchid": "1900000109"}}, 268485197),
    ({"logistics_type": 0}, 10060005),
    ({"delivery_mode": 3}, 268485224),
    ({"delivery_mode": 2, "logistics_type": 2, "is_all_delivered": True}, 10060006),
    ({"delivery_mode": 2}, 10060007),
    ({"shipping_list": [_item(), _item()]}, 268485228),
    ({"shipping_list": []}, 268485228),
    ({"delivery_mode": 2, "is_all_delivered": True, "shipping_list": [_item()] * 16}, 10060024),
    ({"shipping_list": [_item(item_desc="")]}, 10060008),
    ({"shipping_list": [_item(item_desc="蚝" * 121)]}, 10060009),
    ({"shipping_list": [_item(tracking_no="")]}, 268485226),
    ({"shipping_list": [_item(tracking_no="X" * 129)]}, 10060026),
    ({"shipping_list": [_item(express_company="")]}, 268485227),
    ({"shipping_list": [_item(express_company="SF")]}, 47003),  # SF needs a contact
    ({"shipping_list": [_item(contact={"receiver_contact": "18912341234"})]}, 47003),
    ({"upload_time": "2026-12-06 10:00:00"}, 268485216),
    ({"upload_time": "2026-12-06T10:00:00"}, 268485216),  # no offset
    ({"payer": {"openid": "o_someone_else"}}, 10060031),
    (
        {
            "order_key": {
                "order_number_type": 1,
                "mchid": "1900000110",
                "out_trade_no": "HL20261206006",
            }
        },
        10060001,
    ),  # noqa: E501
    ({"order_key": {"order_number_type": 2, "transaction_id": "4200000000000"}}, 10060001),
]


def test_upload_rules_answer_the_documented_codes(wx, pay):
    pay("HL20261206006")
    answers = [
        (upload(wx, "HL20261206006", **changes), errcode) for changes, errcode in UPLOAD_RULES
    ]
    assert [got for got, _ in answers] == [want for _, want in answers]
    order = get_order(wx, "HL20261206006")["order"]
    assert (order["order_state"], order["shipping"]) == (1, {})  # nothing was stored


def test_non_express_needs_no_tracking_number(wx, pay):
    pay("HL20261206007")
    virtual = [{"item_desc": "电子提货券*1"}]
    assert upload(wx, "HL20261206007", logistics_type=3, shipping_list=virtual) == 0
    assert get_order(wx, "HL20261206007")["order"]["shipping"]["logistics_type"] == 3


def test_unpaid_and_not_yet_ingested_payments_are_not_found(wx, wxpay, place_order, pay, control):
    place_order(wxpay, "HL20261206008")
    assert upload(wx, "HL20261206008") == 10060001
    assert get_order(wx, "HL20261206008")["errcode"] == 10060001
    control.post("/sandbox/wx/shipping/faults", {"ingest_delay_seconds": 30})
    pay("HL20261206009")
    assert upload(wx, "HL20261206009") == 10060001
    list_body = {"openid": BUYER}
    assert call(wx, "wxa/sec/order/get_order_list", list_body)["order_list"] == []
    control.post("/sandbox/wx/shipping/advance", {"seconds": 31})
    assert upload(wx, "HL20261206009") == 0


def test_a_refunded_payment_cannot_ship(wx, wxpay, pay, control):
    pay("HL20261206010", total=500)
    code, text = wxpay.refund(
        out_refund_no="RF20261206010",
        out_trade_no="HL20261206010",
        amount={"refund": 500, "total": 500, "currency": "CNY"},
    )
    assert code == 200, text
    deadline = time.monotonic() + 5
    while get_order(wx, "HL20261206010")["order"]["order_state"] != 5:
        assert time.monotonic() < deadline, "the refund never showed"
        time.sleep(0.02)
    assert upload(wx, "HL20261206010") == 10060004
    listed = shipping_orders(control)
    assert listed["frozen_count"] == 0 and listed["orders"][0]["funds_frozen"] is False


def test_notify_confirm_receive_rules(wx, pay):
    pay("HL20261206011")
    pay("HL20261206012")
    path = "wxa/sec/order/notify_confirm_receive"
    ids = {"merchant_id": "1900000109", "merchant_trade_no": "HL20261206011"}
    now = int(time.time())
    assert call(wx, path, {**ids, "received_time": now})["errcode"] == 10060028
    assert upload(wx, "HL20261206011") == 0
    assert call(wx, path, {**ids, "received_time": now - DAY})["errcode"] == 10060029
    assert call(wx, path, {**ids, "received_time": now + DAY})["errcode"] == 10060029
    assert call(wx, path, {**ids, "received_time": int(time.time())})["errcode"] == 0
    assert call(wx, path, {**ids, "received_time": int(time.time())})["errcode"] == 10060030
    virtual = [{"item_desc": "电子提货券*1"}]
    assert upload(wx, "HL20261206012", logistics_type=3, shipping_list=virtual) == 0
    other = {**ids, "merchant_trade_no": "HL20261206012", "received_time": int(time.time())}
    assert call(wx, path, other)["errcode"] == 10060032


@pytest.mark.parametrize("errcode", [-1, 10060012, 10060019])
def test_system_busy_for_the_next_calls(wx, pay, control, errcode):
    pay("HL20261206013")
    control.post("/sandbox/wx/shipping/faults", {"busy_errcode": errcode, "busy_times": 2})
    assert upload(wx, "HL20261206013") == errcode
    assert get_order(wx, "HL20261206013")["errcode"] == errcode
    assert upload(wx, "HL20261206013") == 0


def test_order_list_pages_and_filters(wx, pay):
    for n in range(3):
        pay(f"HL2026120602{n}")
    assert upload(wx, "HL20261206020") == 0
    path = "wxa/sec/order/get_order_list"
    first = call(wx, path, {"page_size": 2})
    assert len(first["order_list"]) == 2 and first["has_more"] is True
    rest = call(wx, path, {"page_size": 2, "last_index": first["last_index"]})
    assert len(rest["order_list"]) == 1 and rest["has_more"] is False
    seen = {o["merchant_trade_no"] for o in first["order_list"] + rest["order_list"]}
    assert seen == {"HL20261206020", "HL20261206021", "HL20261206022"}
    shipped = call(wx, path, {"order_state": 2})["order_list"]
    assert [o["merchant_trade_no"] for o in shipped] == ["HL20261206020"]
    future = {"pay_time_range": {"begin_time": int(time.time()) + DAY}}
    assert call(wx, path, future)["order_list"] == []
    assert call(wx, path, {"last_index": "bogus"})["errcode"] == 10060011


def test_the_small_apis(wx, env):
    managed = call(wx, "wxa/sec/order/is_trade_managed", {"appid": env["WECHAT_APPID"]})
    assert managed["is_trade_managed"] is True
    assert call(wx, "wxa/sec/order/is_trade_managed", {"appid": "wx0"})["errcode"] == 40013
    assert call(wx, "wxa/sec/order/is_trade_managed", {})["errcode"] == 40097
    assert (
        call(wx, "wxa/sec/order/set_msg_jump_path", {"path": "pages/order/detail"})["errcode"] == 0
    )
    assert call(wx, "wxa/sec/order/set_msg_jump_path", {})["errcode"] == 47001
    couriers = wx.post("express/delivery/open_msg/get_delivery_list", data={})
    ids = {row["delivery_id"] for row in couriers["delivery_list"]}
    assert {"SF", "ZTO", "YTO", "YD", "STO", "EMS", "JD"} <= ids
    assert couriers["count"] == len(couriers["delivery_list"])


def test_an_access_token_is_required(sandbox):
    body = json.dumps(upload_body("HL20261206030"))
    answer = requests.post(f"{sandbox.url}/wxa/sec/order/get_order", data=body, timeout=5).json()
    assert answer["errcode"] == 41001


def test_duplicate_mode_sends_each_push_twice(wx, pay, control, pushes):
    control.post("/sandbox/wx/shipping/faults", {"duplicate_pushes": True})
    pay("HL20261206031")
    assert upload(wx, "HL20261206031") == 0
    first, second = pushes.wait_for(2)
    assert first["raw"] == second["raw"] and first["args"] == second["args"]
    time.sleep(0.1)
    assert len(pushes.received) == 2
    log = control.get("/sandbox/wx/shipping/pushes", event="trade_manage_order_settlement")
    assert [p["copy"] for p in log["pushes"]] == [1, 2]


def test_a_push_not_answered_success_is_retried(wx, pay, control):
    receiver = PushReceiver(replies=["fail", "<xml/>"])
    try:
        control.post("/sandbox/wx/shipping/config", {"message_url": receiver.url})
        pay("HL20261206032")
        assert upload(wx, "HL20261206032") == 0
        received = receiver.wait_for(3)
        assert len({r["raw"] for r in received}) == 1
        log = _push_log(control, 3)
        assert [(p["attempt"], p["ok"]) for p in log] == [(1, False), (2, False), (3, True)]
    finally:
        receiver.stop()


def test_an_order_left_unshipped_is_reminded_once(wx, pay, control, pushes):
    pay("HL20261206033")
    pay("HL20261206034")
    assert upload(wx, "HL20261206033") == 0  # the merchant has shipped before
    control.post("/sandbox/wx/shipping/advance", {"seconds": 48 * 3600 + 5})
    control.post("/sandbox/wx/shipping/advance", {"seconds": 60})
    pushes.wait_for(2)
    time.sleep(0.1)
    events = [json.loads(p["raw"]) for p in pushes.received]
    reminders = [e for e in events if e["Event"] == "trade_manage_remind_shipping"]
    assert [e["merchant_trade_no"] for e in reminders] == ["HL20261206034"]
    assert reminders[0]["msg"] and reminders[0]["pay_time"] > 0


def test_control_errors_and_reset(wx, pay, control):
    pay("HL20261206035")
    control.post("/sandbox/wx/shipping/confirm", {"out_trade_no": "HL20261206035"}, expect=400)
    control.post("/sandbox/wx/shipping/confirm", {"out_trade_no": "NO_SUCH"}, expect=404)
    control.post("/sandbox/wx/shipping/confirm", {}, expect=400)
    control.post("/sandbox/wx/shipping/advance", {"seconds": -1}, expect=400)
    control.post("/sandbox/wx/shipping/faults", {"busy_errcode": 40001}, expect=400)
    control.post("/sandbox/wx/shipping/faults", {"nonsense": 1}, expect=400)
    control.post("/sandbox/wx/shipping/config", {"message_url": "ftp://x"}, expect=400)
    control.post("/sandbox/wx/shipping/faults", {"busy_times": 5, "duplicate_pushes": True})
    assert upload(wx, "HL20261206035") == -1
    assert shipping_orders(control)["frozen_count"] == 1

    control.post("/sandbox/reset")
    assert shipping_orders(control) | {"now": 0} == {
        "orders": [],
        "frozen_count": 0,
        "frozen_amount": 0,
        "now": 0,
    }
    assert control.get("/sandbox/wx/shipping/pushes")["pushes"] == []
    faults = control.get("/sandbox/wx/shipping/faults")["faults"]
    assert faults["busy_times"] == 0 and faults["duplicate_pushes"] is False
