"""Our shipping-information client (backend/clients/wechat.py) against the sandbox: a payment made
through the mini-program API is shipped, read back, received and settled; errors keep their codes
and say whether to try again."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests

from backend.clients import wechat
from backend.clients.wechatpay import wechatpay_client
from backend.extensions import db
from backend.payments.models import Payment
from backend.timeutil import SHANGHAI
from tests.helpers import wait_for

DAY = 24 * 3600


@pytest.fixture
def paid(app, shopper, store) -> dict:
    """A paid order of the shopper: {mchid, out_trade_no, payer_openid, amount}."""
    order = shopper.buy([(store["RS-LIVE-L-5"], 1)])
    with app.app_context():
        payment = db.session.scalar(db.select(Payment).where(Payment.order_id == order["id"]))
        db.session.remove()
    return {
        "mchid": app.config["WECHATPAY_MCHID"],
        "out_trade_no": payment.out_trade_no,
        "payer_openid": payment.payer_openid,
        "amount": payment.amount,
    }


def _ship(paid: dict, **overrides) -> None:
    wechat.upload_shipping_info(
        mchid=paid["mchid"],
        out_trade_no=paid["out_trade_no"],
        payer_openid=paid["payer_openid"],
        tracking_no=overrides.pop("tracking_no", "SF1400123456789"),
        express_company=overrides.pop("express_company", "SF"),
        item_desc=overrides.pop("item_desc", "乳山生蚝 L 5斤装*1"),
        receiver_phone=overrides.pop("receiver_phone", "13800138000"),
        **overrides,
    )


def _order(paid: dict) -> dict:
    return wechat.get_shipping_order(mchid=paid["mchid"], out_trade_no=paid["out_trade_no"])


def _control(sandbox, method: str, path: str, body: dict | None = None) -> dict:
    res = requests.request(method, f"{sandbox.url}/sandbox/wx/shipping{path}", json=body, timeout=5)
    assert res.status_code == 200, res.text
    return res.json()


def test_ship_read_back_confirm_and_settle(app, sandbox, paid):
    with app.app_context():
        assert _order(paid)["order_state"] == 1
        _ship(paid)
        order = _order(paid)
    assert order["order_state"] == 2 and order["paid_amount"] == paid["amount"]
    [package] = order["shipping"]["shipping_list"]
    assert package["tracking_no"] == "SF1400123456789" and package["express_company"] == "SF"
    assert package["contact"] == {"receiver_contact": "138****8000"}  # masked by the client
    assert package["goods_desc"] == "乳山生蚝 L 5斤装*1"
    assert _control(sandbox, "GET", "/orders")["frozen_count"] == 1

    with app.app_context():
        received_at = datetime.now(SHANGHAI)
        wechat.notify_confirm_receive(
            mchid=paid["mchid"], out_trade_no=paid["out_trade_no"], received_at=received_at
        )
        with pytest.raises(wechat.ShippingError) as again:
            wechat.notify_confirm_receive(
                mchid=paid["mchid"], out_trade_no=paid["out_trade_no"], received_at=received_at
            )
    assert (again.value.errcode, again.value.transient) == (10060030, False)

    confirmed = _control(sandbox, "POST", "/confirm", {"out_trade_no": paid["out_trade_no"]})
    assert (confirmed["order_state"], confirmed["funds_frozen"]) == (3, True)
    # a day later the funds settle (the token expired meanwhile: the client fetches a new one)
    assert _control(sandbox, "POST", "/advance", {"seconds": DAY})["frozen_count"] == 0
    with app.app_context():
        assert _order(paid)["order_state"] == 4


def test_shipping_a_second_time_is_the_one_reshipment(app, paid):
    with app.app_context():
        _ship(paid)
        _ship(paid, tracking_no="ZTO5566778899", express_company="ZTO", receiver_phone=None)
        assert _order(paid)["shipping"]["finish_shipping_count"] == 2
        with pytest.raises(wechat.ShippingError) as third:
            _ship(paid)
    assert (third.value.errcode, third.value.transient) == (10060003, False)


def test_system_busy_is_transient(app, sandbox, paid):
    with app.app_context():
        for errcode in (-1, 10060012, 10060019):
            _control(sandbox, "POST", "/faults", {"busy_errcode": errcode, "busy_times": 1})
            with pytest.raises(wechat.ShippingError) as busy:
                _ship(paid)
            assert (busy.value.errcode, busy.value.transient) == (errcode, True)
        _ship(paid)  # the next call goes through
        assert _order(paid)["order_state"] == 2


def test_a_payment_not_yet_ingested_is_transient(app, sandbox, paid):
    _control(sandbox, "POST", "/faults", {"ingest_delay_seconds": 60})
    with app.app_context():
        with pytest.raises(wechat.ShippingError) as early:
            _ship(paid)
    assert (early.value.errcode, early.value.transient) == (10060001, True)
    _control(sandbox, "POST", "/advance", {"seconds": 61})
    with app.app_context():
        _ship(paid)


def test_a_refunded_payment_gives_10060004(app, paid):
    with app.app_context():
        wechatpay_client().refund(
            out_trade_no=paid["out_trade_no"],
            out_refund_no="RF" + paid["out_trade_no"],
            refund=paid["amount"],
            total=paid["amount"],
            reason="买家取消",
            notify_url=app.config["PUBLIC_BASE_URL"] + "/callbacks/wechatpay",
        )
        wait_for(lambda: _order(paid)["order_state"] == 5, timeout=5)
        with pytest.raises(wechat.ShippingError) as refused:
            _ship(paid)
    assert (refused.value.errcode, refused.value.transient) == (10060004, False)


def test_phones_are_masked_but_for_the_last_four_digits():
    assert wechat.mask_phone("13800138000") == "138****8000"
    assert wechat.mask_phone("+86 189-1234-5678") == "189****5678"
    assert wechat.mask_phone("0631-6612345") == "063****2345"
    assert wechat.mask_phone("6612345") == "***2345"
    with pytest.raises(ValueError):
        wechat.mask_phone("12")
    at = datetime(2026, 12, 6, 5, 29, 35, 120000, tzinfo=SHANGHAI)
    assert wechat.upload_time_text(at) == "2026-12-06T05:29:35.120+08:00"
