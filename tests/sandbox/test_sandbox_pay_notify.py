"""Payment notifications: real v3 envelopes decrypted by `wechatpayv3.callback`, delivery modes,
retries until the receiver answers 2xx."""

from __future__ import annotations

import json
import time

import pytest
from wechatpayv3.utils import rsa_sign


def _confirm(control, prepay_id: str, **body) -> dict:
    return control.post(f"/sandbox/pay/{prepay_id}/confirm", {"wait": True, **body})


def test_confirm_delivers_a_notification_the_client_decrypts(wxpay, place_order, control, receiver):
    prepay_id = place_order(wxpay, "HL30000001", total=1990, attach="lot-42")
    answer = _confirm(control, prepay_id)
    assert answer["deliveries"] == [{"status": 204}]

    (notice,) = receiver.wait_for(1)
    envelope = json.loads(notice["body"])
    assert envelope["event_type"] == "TRANSACTION.SUCCESS"
    assert envelope["resource_type"] == "encrypt-resource"
    assert envelope["summary"] == "支付成功"
    assert envelope["resource"]["algorithm"] == "AEAD_AES_256_GCM"
    assert envelope["resource"]["associated_data"] == "transaction"
    assert envelope["resource"]["original_type"] == "transaction"
    assert len(envelope["resource"]["nonce"]) == 12

    result = wxpay.callback(notice["headers"], notice["body"])
    paid = result["resource"]
    assert paid["out_trade_no"] == "HL30000001"
    assert paid["transaction_id"] == answer["transaction_id"]
    assert paid["trade_state"] == "SUCCESS"
    assert paid["amount"]["total"] == 1990
    assert paid["amount"]["payer_total"] == 1990
    assert paid["payer"]["openid"] == "o_buyer_1"
    assert paid["attach"] == "lot-42"

    log = control.notifications(out_trade_no="HL30000001")
    assert [(n["kind"], n["status"], n["attempt"], n["mode"]) for n in log] == [
        ("payment", 204, 1, "normal")
    ]


def test_confirm_without_wait_answers_at_once(wxpay, place_order, control, receiver):
    prepay_id = place_order(wxpay, "HL30000002")
    answer = control.post(f"/sandbox/pay/{prepay_id}/confirm")
    assert answer["deliveries"] is None
    assert answer["transaction_id"]
    receiver.wait_for(1)


def test_failed_deliveries_are_retried_until_2xx(
    sandbox, wxpay_for, place_order, control, make_receiver
):
    flaky = make_receiver(statuses=[500, 503, 200])
    wxpay = wxpay_for(sandbox.url, flaky.url)
    prepay_id = place_order(wxpay, "HL30000003")
    assert _confirm(control, prepay_id)["deliveries"] == [{"status": 500}]
    flaky.wait_for(3)
    time.sleep(0.5)  # longer than the rest of the schedule: no delivery after the 200
    log = control.notifications(out_trade_no="HL30000003")
    assert [(n["attempt"], n["status"]) for n in log] == [(1, 500), (2, 503), (3, 200)]


def test_retries_stop_after_the_schedule(sandbox, wxpay_for, place_order, control, make_receiver):
    down = make_receiver(default=500)
    prepay_id = place_order(wxpay_for(sandbox.url, down.url), "HL30000004")
    _confirm(control, prepay_id)
    down.wait_for(4)  # first try + 3 retries of the test schedule
    time.sleep(0.3)
    assert len(control.notifications(out_trade_no="HL30000004")) == 4


def test_duplicate_delivers_the_same_notification_twice(wxpay, place_order, control, receiver):
    prepay_id = place_order(wxpay, "HL30000005")
    answer = _confirm(control, prepay_id, mode="duplicate")
    assert answer["deliveries"] == [{"status": 204}, {"status": 204}]
    first, second = receiver.wait_for(2)
    assert first["body"] == second["body"]  # same notification id, re-signed per delivery
    assert wxpay.callback(first["headers"], first["body"]) is not None
    assert wxpay.callback(second["headers"], second["body"]) is not None


def test_concurrent_delivers_fifty_copies_at_once(wxpay, place_order, control, receiver):
    prepay_id = place_order(wxpay, "HL30000006")
    answer = _confirm(control, prepay_id, mode="concurrent")
    assert len(answer["deliveries"]) == 50
    assert all(d["status"] == 204 for d in answer["deliveries"])
    notices = receiver.wait_for(50)
    ids = {json.loads(n["body"])["id"] for n in notices}
    assert len(ids) == 1
    decrypted = [wxpay.callback(n["headers"], n["body"]) for n in notices[:5]]
    assert all(d["resource"]["out_trade_no"] == "HL30000006" for d in decrypted)


def test_wrong_amount_is_well_signed_but_disagrees_with_the_order(
    wxpay, place_order, control, receiver
):
    prepay_id = place_order(wxpay, "HL30000007", total=800)
    _confirm(control, prepay_id, mode="wrong_amount")
    (notice,) = receiver.wait_for(1)
    result = wxpay.callback(notice["headers"], notice["body"])
    assert result["resource"]["amount"]["total"] != 800
    order = json.loads(wxpay.query(out_trade_no="HL30000007")[1])
    assert order["amount"]["total"] == 800


@pytest.mark.parametrize("mode", ["bad_signature", "signtest"])
def test_forged_notifications_do_not_verify(wxpay, place_order, control, receiver, mode):
    prepay_id = place_order(wxpay, f"HL3000001{len(mode)}")
    _confirm(control, prepay_id, mode=mode)
    (notice,) = receiver.wait_for(1)
    if mode == "signtest":
        assert notice["headers"]["Wechatpay-Signature"].startswith("WECHATPAY/SIGNTEST/")
    assert wxpay.callback(notice["headers"], notice["body"]) is None
    time.sleep(0.2)
    assert len(receiver.received) == 1  # probes and forgeries are never retried


def test_stale_timestamp_is_signed_correctly_but_old(wxpay, place_order, control, receiver):
    prepay_id = place_order(wxpay, "HL30000020")
    _confirm(control, prepay_id, mode="stale_timestamp")
    (notice,) = receiver.wait_for(1)
    age = time.time() - int(notice["headers"]["Wechatpay-Timestamp"])
    assert age >= 590
    # wechatpayv3 does not check freshness (api-facts 3.3): the backend must refuse it itself
    assert wxpay.callback(notice["headers"], notice["body"]) is not None


def test_confirming_a_paid_order_resends_the_same_transaction(
    wxpay, place_order, control, receiver
):
    prepay_id = place_order(wxpay, "HL30000021")
    first = _confirm(control, prepay_id)
    again = control.post("/sandbox/pay/out-trade-no/HL30000021/confirm", {"wait": True})
    assert again["transaction_id"] == first["transaction_id"]
    notices = receiver.wait_for(2)
    ids = [wxpay.callback(n["headers"], n["body"])["resource"]["transaction_id"] for n in notices]
    assert ids == [first["transaction_id"]] * 2


def test_closed_or_unknown_orders_cannot_be_paid(wxpay, place_order, control):
    prepay_id = place_order(wxpay, "HL30000022")
    wxpay.close("HL30000022")
    assert "ORDER_CLOSED" in control.post(f"/sandbox/pay/{prepay_id}/confirm", expect=400)["error"]
    control.post("/sandbox/pay/wx_unknown/confirm", expect=404)


def test_bad_mode_is_rejected(wxpay, place_order, control):
    prepay_id = place_order(wxpay, "HL30000023")
    control.post(f"/sandbox/pay/{prepay_id}/confirm", {"mode": "chaos"}, expect=400)


def test_confirm_checks_the_mini_program_pay_sign(wxpay, place_order, control, env):
    prepay_id = place_order(wxpay, "HL30000024")
    timestamp = str(int(time.time()))
    nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    package = f"prepay_id={prepay_id}"
    payment = {
        "timeStamp": timestamp,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": wxpay.sign([env["WECHAT_APPID"], timestamp, nonce, package]),
    }
    forged = {**payment, "paySign": rsa_sign(wxpay._core._private_key, "something else\n")}
    error = control.post(f"/sandbox/pay/{prepay_id}/confirm", {"payment": forged}, expect=400)
    assert "PAY_SIGN_ERROR" in error["error"]
    assert control.post(f"/sandbox/pay/{prepay_id}/confirm", {"payment": payment})["transaction_id"]


def test_reset_stops_pending_retries(sandbox, wxpay_for, place_order, control, make_receiver):
    down = make_receiver(default=500)
    prepay_id = place_order(wxpay_for(sandbox.url, down.url), "HL30000025")
    _confirm(control, prepay_id)
    control.post("/sandbox/reset")
    time.sleep(0.5)
    assert len(down.received) == 1
    assert control.notifications() == []
