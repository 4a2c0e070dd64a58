"""WeChat Pay JSAPI orders through the real `wechatpayv3` client: place, query, close."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import requests


def test_order_query_close_round_trip(wxpay, place_order, env):
    prepay_id = place_order(wxpay, "HL20261125001", total=2990, attach="batch-7")
    assert prepay_id.startswith("wx")

    code, text = wxpay.query(out_trade_no="HL20261125001")
    order = json.loads(text)
    assert code == 200
    assert order["trade_state"] == "NOTPAY"
    assert order["appid"] == env["WECHAT_APPID"]
    assert order["mchid"] == env["WECHATPAY_MCHID"]
    assert order["amount"]["total"] == 2990
    assert order["attach"] == "batch-7"
    assert "transaction_id" not in order

    code, text = wxpay.close("HL20261125001")
    assert (code, text) == (204, b"")
    assert json.loads(wxpay.query(out_trade_no="HL20261125001")[1])["trade_state"] == "CLOSED"
    # closing twice is harmless; placing it again is refused
    assert wxpay.close("HL20261125001")[0] == 204
    code, text = wxpay.pay(
        description="合力测试商品",
        out_trade_no="HL20261125001",
        amount={"total": 2990},
        payer={"openid": "o_buyer_1"},
        attach="batch-7",
    )
    assert code == 400 and json.loads(text)["code"] == "ORDER_CLOSED"


def test_same_order_twice_gives_same_prepay_id(wxpay, place_order):
    first = place_order(wxpay, "HL20261125002", total=100)
    assert place_order(wxpay, "HL20261125002", total=100) == first

    code, text = wxpay.pay(
        description="合力测试商品",
        out_trade_no="HL20261125002",
        amount={"total": 999},
        payer={"openid": "o_buyer_1"},
    )
    assert code == 400
    assert json.loads(text)["code"] == "INVALID_REQUEST"


def test_paid_order_is_queryable_by_transaction_id(wxpay, place_order, control):
    prepay_id = place_order(wxpay, "HL20261125003", total=500)
    paid = control.post(f"/sandbox/pay/{prepay_id}/confirm")
    transaction_id = paid["transaction_id"]

    code, text = wxpay.query(transaction_id=transaction_id)
    order = json.loads(text)
    assert code == 200
    assert order["trade_state"] == "SUCCESS"
    assert order["trade_state_desc"] == "支付成功"
    assert order["out_trade_no"] == "HL20261125003"
    assert order["payer"] == {"openid": "o_buyer_1"}
    assert order["amount"]["payer_total"] == 500
    assert order["success_time"].endswith("+08:00")

    code, text = wxpay.close("HL20261125003")
    assert code == 400 and json.loads(text)["code"] == "ORDERPAID"
    code, text = wxpay.pay(
        description="合力测试商品",
        out_trade_no="HL20261125003",
        amount={"total": 500},
        payer={"openid": "o_buyer_1"},
    )
    assert code == 400 and json.loads(text)["code"] == "ORDERPAID"


def test_unknown_orders_are_404(wxpay):
    code, text = wxpay.query(out_trade_no="NO_SUCH_ORDER")
    assert code == 404 and json.loads(text)["code"] == "ORDER_NOT_EXIST"
    code, text = wxpay.query(transaction_id="4200000000000000000000000000")
    assert code == 404 and json.loads(text)["code"] == "ORDER_NOT_EXIST"
    assert wxpay.close("NO_SUCH_ORDER")[0] == 404


@pytest.mark.parametrize(
    ("change", "message_part"),
    [
        ({"out_trade_no": "abc"}, "out_trade_no"),
        ({"out_trade_no": "HL 2026 bad chars"}, "out_trade_no"),
        ({"description": "x" * 128}, "description"),
        ({"amount": {"total": 0}}, "amount.total"),
        ({"amount": {"total": 1.5}}, "amount.total"),
        ({"amount": {"total": 100, "currency": "USD"}}, "currency"),
        ({"payer": {"openid": ""}}, "payer.openid"),
        ({"notify_url": "http://example.com/notify"}, "notify_url"),
        ({"notify_url": "https://example.com/notify?x=1"}, "notify_url"),
        ({"time_expire": "2026-11-25 10:00:00"}, "time_expire"),
    ],
)
def test_invalid_order_parameters_are_param_errors(wxpay, change, message_part):
    params = {
        "description": "合力测试商品",
        "out_trade_no": "HL20261125004",
        "amount": {"total": 100},
        "payer": {"openid": "o_buyer_1"},
    }
    params.update(change)
    code, text = wxpay.pay(**params)
    answer = json.loads(text)
    assert code == 400
    assert answer["code"] == "PARAM_ERROR"
    assert message_part in answer["message"]


def test_appid_must_belong_to_the_merchant(wxpay):
    code, text = wxpay.pay(
        description="合力测试商品",
        out_trade_no="HL20261125005",
        amount={"total": 100},
        payer={"openid": "o_buyer_1"},
        appid="wx0000000000000000",
    )
    assert code == 400 and json.loads(text)["code"] == "APPID_MCHID_NOT_MATCH"


def test_time_expire_is_accepted_and_enforced_on_payment(wxpay, place_order, control):
    cst = timezone(timedelta(hours=8))
    soon = (datetime.now(cst) + timedelta(minutes=30)).isoformat(timespec="seconds")
    past = (datetime.now(cst) - timedelta(minutes=1)).isoformat(timespec="seconds")
    place_order(wxpay, "HL20261125006", time_expire=soon)
    place_order(wxpay, "HL20261125007", time_expire=past)
    control.post("/sandbox/pay/out-trade-no/HL20261125006/confirm")
    answer = control.post("/sandbox/pay/out-trade-no/HL20261125007/confirm", expect=400)
    assert "ORDER_CLOSED" in answer["error"]


def test_control_view_of_an_order(wxpay, place_order, sandbox, receiver):
    prepay_id = place_order(wxpay, "HL20261125008")
    view = requests.get(f"{sandbox.url}/sandbox/pay/orders/HL20261125008", timeout=5).json()
    assert view["prepay_id"] == prepay_id
    assert view["notify_url"] == receiver.url
    assert view["refunds"] == []
