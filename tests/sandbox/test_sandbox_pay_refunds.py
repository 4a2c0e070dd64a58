"""Refunds through the real client: apply, idempotency, limits, completion, REFUND.* notices."""

from __future__ import annotations

import json
import time

import pytest


@pytest.fixture
def paid_order(wxpay, place_order, control):
    """An order of 1000 fen, paid, its payment notification already delivered."""
    prepay_id = place_order(wxpay, "HL40000001", total=1000)
    paid = control.post(f"/sandbox/pay/{prepay_id}/confirm", {"wait": True})
    return paid["transaction_id"]


def _refund(wxpay, out_refund_no: str, refund: int, total: int = 1000, **kwargs):
    code, text = wxpay.refund(
        out_refund_no=out_refund_no,
        amount={"refund": refund, "total": total, "currency": "CNY"},
        **({"out_trade_no": "HL40000001"} | kwargs),
    )
    return code, json.loads(text)


def _wait_status(wxpay, out_refund_no: str, status: str) -> dict:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        _, text = wxpay.query_refund(out_refund_no)
        answer = json.loads(text)
        if answer.get("status") == status:
            return answer
        time.sleep(0.02)
    raise AssertionError(f"refund {out_refund_no} never reached {status}: {answer}")


def test_refund_completes_and_notifies(wxpay, paid_order, receiver, control):
    code, refund = _refund(wxpay, "RF40000001", 300, reason="破损")
    assert code == 200
    assert refund["status"] == "PROCESSING"
    assert refund["transaction_id"] == paid_order
    assert refund["amount"]["refund"] == 300 and refund["amount"]["total"] == 1000

    done = _wait_status(wxpay, "RF40000001", "SUCCESS")
    assert done["refund_id"] == refund["refund_id"]
    assert done["success_time"].endswith("+08:00")
    order = json.loads(wxpay.query(out_trade_no="HL40000001")[1])
    assert order["trade_state"] == "REFUND"

    notices = receiver.wait_for(2)  # the payment, then the refund
    result = wxpay.callback(notices[1]["headers"], notices[1]["body"])
    assert result["event_type"] == "REFUND.SUCCESS"
    assert result["resource"]["refund_status"] == "SUCCESS"
    assert result["resource"]["out_refund_no"] == "RF40000001"
    assert result["resource"]["amount"] == {
        "total": 1000,
        "refund": 300,
        "payer_total": 1000,
        "payer_refund": 300,
    }
    assert json.loads(notices[1]["body"])["resource"]["original_type"] == "refund"
    assert [n["kind"] for n in control.notifications(out_refund_no="RF40000001")] == ["refund"]


def test_same_out_refund_no_is_the_same_refund(wxpay, paid_order):
    _, first = _refund(wxpay, "RF40000002", 400)
    _, again = _refund(wxpay, "RF40000002", 400, transaction_id=paid_order, out_trade_no=None)
    assert again["refund_id"] == first["refund_id"]
    # only one refund counted: 600 more still fit in the order's 1000
    assert _refund(wxpay, "RF40000003", 600)[0] == 200
    code, answer = _refund(wxpay, "RF40000002", 500)
    assert code == 400 and answer["code"] == "INVALID_REQUEST"


def test_refunds_cannot_exceed_the_order(wxpay, paid_order):
    assert _refund(wxpay, "RF40000004", 700)[0] == 200
    code, answer = _refund(wxpay, "RF40000005", 301)
    assert code == 400 and answer["code"] == "INVALID_REQUEST"
    assert _refund(wxpay, "RF40000005", 300)[0] == 200


def test_refund_total_must_match_and_order_must_be_paid(wxpay, place_order, paid_order):
    code, answer = _refund(wxpay, "RF40000006", 100, total=999)
    assert code == 400 and answer["code"] == "INVALID_REQUEST"

    place_order(wxpay, "HL40000002", total=1000)
    code, answer = _refund(wxpay, "RF40000007", 100, out_trade_no="HL40000002")
    assert code == 400 and answer["code"] == "INVALID_REQUEST"

    code, answer = _refund(wxpay, "RF40000008", 100, out_trade_no="HL_NO_SUCH")
    assert code == 404 and answer["code"] == "RESOURCE_NOT_EXISTS"


def test_abnormal_refund_fault(wxpay, paid_order, receiver, control):
    control.post("/sandbox/faults", {"refund_result": "ABNORMAL"})
    _refund(wxpay, "RF40000009", 1000)
    _wait_status(wxpay, "RF40000009", "ABNORMAL")
    notices = receiver.wait_for(2)
    assert wxpay.callback(notices[1]["headers"], notices[1]["body"])["event_type"] == (
        "REFUND.ABNORMAL"
    )


def test_unknown_refund_is_404(wxpay):
    code, text = wxpay.query_refund("RF_NO_SUCH")
    assert code == 404 and json.loads(text)["code"] == "RESOURCE_NOT_EXISTS"


def test_refund_notification_can_be_resent(wxpay, paid_order, receiver, control):
    _refund(wxpay, "RF40000010", 100)
    _wait_status(wxpay, "RF40000010", "SUCCESS")
    receiver.wait_for(2)
    answer = control.post("/sandbox/pay/refunds/RF40000010/notify", {"wait": True})
    assert answer["deliveries"] == [{"status": 204}]
    notice = receiver.wait_for(3)[2]
    assert wxpay.callback(notice["headers"], notice["body"])["resource"]["refund_status"] == (
        "SUCCESS"
    )


def test_refund_queries_are_rate_limited(make_sandbox, wxpay_for, receiver):
    sandbox = make_sandbox(refund_query_qps=3)
    wxpay = wxpay_for(sandbox.url, receiver.url)
    codes = [wxpay.query_refund("RF_ANY")[0] for _ in range(4)]
    assert codes == [404, 404, 404, 429]
