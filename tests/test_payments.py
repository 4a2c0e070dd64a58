import base64
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from backend.config import PROJECT_ROOT
from backend.extensions import db
from backend.inventory.models import StockMovement
from backend.orders.models import Order, OrderEvent
from backend.payments.models import PaymentAnomaly
from tests.helpers import sku_stock, wait_for


def _order(app, order_id) -> Order:
    with app.app_context():
        order = db.session.get(Order, order_id)
        db.session.expunge_all()
        return order


def _stock(app, sku_id) -> tuple[int, int]:
    return sku_stock(app, sku_id)


def _paid_events(app, order_id) -> int:
    with app.app_context():
        return db.session.scalar(
            db.select(db.func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == order_id, OrderEvent.kind == "PAID")
        )


def _commits(app, order_id) -> int:
    with app.app_context():
        return db.session.scalar(
            db.select(db.func.count())
            .select_from(StockMovement)
            .where(StockMovement.order_id == order_id, StockMovement.kind == "COMMIT")
        )


def _anomalies(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(db.select(PaymentAnomaly.kind)))


def test_pay_answers_signed_request_payment_params(shopper, store):
    order = shopper.order([(store["RS-LIVE-L-5"], 1)]).json
    params = shopper.pay(order["id"])
    assert params["signType"] == "RSA" and params["package"].startswith("prepay_id=")
    key = serialization.load_pem_public_key(
        (PROJECT_ROOT / "sandbox/keys/merchant_public_key.pem").read_bytes()
    )
    message = (
        "\n".join(
            [
                shopper.client.application.config["WECHAT_APPID"],
                params["timeStamp"],
                params["nonceStr"],
                params["package"],
            ]
        )
        + "\n"
    )
    key.verify(
        base64.b64decode(params["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    # Paying again reuses the same WeChat Pay order.
    assert shopper.pay(order["id"])["package"] == params["package"]


def test_purchase_end_to_end_commits_stock_once(app, shopper, store):
    sku = store["RS-LIVE-L-5"]
    order = shopper.buy([(sku, 2)])
    assert order["status"] == "PAID" and order["paid_at"]
    assert _stock(app, sku) == (400, 2)  # sold, waiting to ship
    assert _paid_events(app, order["id"]) == 1


def test_duplicate_notifications_change_nothing_more(app, shopper, store):
    sku = store["RS-LIVE-L-5"]
    order = shopper.order([(sku, 1)]).json
    result = shopper.confirm_payment(shopper.pay(order["id"]), mode="duplicate", copies=3)
    assert [d["status"] for d in result["deliveries"]] == [204, 204, 204]
    assert _order(app, order["id"]).status == "PAID"
    assert _stock(app, sku) == (400, 1) and _paid_events(app, order["id"]) == 1


def test_fifty_concurrent_duplicates_make_one_paid_transition(app, shopper, store):
    sku = store["RS-LIVE-XL-5"]
    order = shopper.order([(sku, 3)]).json
    result = shopper.confirm_payment(shopper.pay(order["id"]), mode="concurrent", copies=50)
    assert len(result["deliveries"]) == 50
    wait_for(lambda: _order(app, order["id"]).status == "PAID")
    assert _paid_events(app, order["id"]) == 1
    assert _stock(app, sku) == (200, 3)
    assert _commits(app, order["id"]) == 1


def test_wrong_amount_is_rejected_and_flagged(app, shopper, store):
    sku = store["RS-LIVE-L-5"]
    order = shopper.order([(sku, 1)]).json
    result = shopper.confirm_payment(shopper.pay(order["id"]), mode="wrong_amount")
    assert result["deliveries"][0]["status"] == 422
    assert _order(app, order["id"]).status == "PENDING_PAYMENT"
    assert _anomalies(app) == ["WRONG_AMOUNT"] and _stock(app, sku) == (400, 1)


def test_tampered_stale_and_probe_notifications_are_rejected(app, shopper, store):
    order = shopper.order([(store["RS-LIVE-L-5"], 1)]).json
    params = shopper.pay(order["id"])
    for mode in ("bad_signature", "stale_timestamp", "signtest"):
        result = shopper.confirm_payment(params, mode=mode)
        assert result["deliveries"][0]["status"] == 401, mode
    assert _order(app, order["id"]).status == "PENDING_PAYMENT"
    assert _paid_events(app, order["id"]) == 0


def test_a_notification_forged_with_another_key_is_rejected(app, client, shopper, store):
    order = shopper.order([(store["RS-LIVE-L-5"], 1)]).json
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = json.dumps(
        {
            "id": "forged",
            "event_type": "TRANSACTION.SUCCESS",
            "resource_type": "encrypt-resource",
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": "AAAA",
                "nonce": "abcdefghijkl",
                "associated_data": "transaction",
            },
        }
    )
    ts, nonce = str(int(time.time())), "n" * 32
    signature = base64.b64encode(
        forger.sign(f"{ts}\n{nonce}\n{body}\n".encode(), padding.PKCS1v15(), hashes.SHA256())
    ).decode()
    res = client.post(
        "/callbacks/wechatpay",
        data=body,
        content_type="application/json",
        headers={
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": app.config["WECHATPAY_PUBLIC_KEY_ID"],
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        },
    )
    assert res.status_code == 401 and res.json["code"] == "FAIL"
    assert _order(app, order["id"]).status == "PENDING_PAYMENT"
    unsigned = client.post("/callbacks/wechatpay", data=body, content_type="application/json")
    assert unsigned.status_code == 401


def _forged_notification(serial: str) -> tuple[str, dict]:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = json.dumps({"id": "forged", "event_type": "TRANSACTION.SUCCESS", "resource": {}})
    ts, nonce = str(int(time.time())), "n" * 32
    signature = base64.b64encode(
        forger.sign(f"{ts}\n{nonce}\n{body}\n".encode(), padding.PKCS1v15(), hashes.SHA256())
    ).decode()
    headers = {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    return body, headers


@pytest.fixture
def pay_gateway_calls(app, monkeypatch):
    """WeChat Pay's gateway replaced by one that records each path it is asked for."""
    calls: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self):
            calls.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"data": []}')

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setitem(app.config, "WECHATPAY_API_BASE", f"http://127.0.0.1:{server.server_port}")
    yield calls
    server.shutdown()


def test_an_unknown_serial_is_refused_without_calling_wechat_pay(client, pay_gateway_calls):
    """Any serial but our WeChat Pay public key's id made wechatpayv3 fetch /v3/certificates:
    a forger could make us call WeChat Pay at will."""
    body, headers = _forged_notification("5157F09EFDC096DE15EBE81A47057A7232F1B8E1")
    res = client.post(
        "/callbacks/wechatpay", data=body, content_type="application/json", headers=headers
    )
    assert (res.status_code, res.json["code"], pay_gateway_calls) == (401, "FAIL", [])


@pytest.mark.parametrize(
    "setting", ["WECHATPAY_APIV3_KEY", "WECHATPAY_PUBLIC_KEY", "WECHATPAY_PUBLIC_KEY_ID"]
)
def test_without_its_keys_the_wechat_pay_callback_refuses_to_run(
    app, client, monkeypatch, caplog, setting
):
    monkeypatch.setitem(app.config, setting, "")
    body, headers = _forged_notification(app.config["WECHATPAY_PUBLIC_KEY_ID"] or "5157F09E")
    with caplog.at_level(logging.ERROR, logger="backend.payments.service"):
        res = client.post(
            "/callbacks/wechatpay", data=body, content_type="application/json", headers=headers
        )
    assert (res.status_code, res.json) == (
        503,
        {"code": "FAIL", "message": "微信支付回调尚未配置密钥，暂不受理"},
    )
    assert [r.getMessage() for r in caplog.records if r.name == "backend.payments.service"] == [
        f"WeChat Pay notification refused: {setting} not configured"
    ]


def test_reconciliation_finds_a_payment_whose_notification_never_came(app, shopper, store):
    from jobs.payments import reconcile_payment

    order = shopper.order([(store["RS-LIVE-L-5"], 1)]).json
    # The phone pays but every notification is lost (signature check fails on our side).
    shopper.confirm_payment(shopper.pay(order["id"]), mode="bad_signature")
    assert _order(app, order["id"]).status == "PENDING_PAYMENT"
    with app.app_context():
        assert reconcile_payment(order["id"]) == "paid"
        assert reconcile_payment(order["id"]) == "nothing_to_do"
    assert _order(app, order["id"]).status == "PAID" and _paid_events(app, order["id"]) == 1


def test_wechat_pay_down_gives_503_and_writes_nothing(app, shopper, store, monkeypatch):
    order = shopper.order([(store["RS-LIVE-L-5"], 1)]).json
    with monkeypatch.context() as patched:
        patched.setitem(app.config, "WECHATPAY_API_BASE", "http://127.0.0.1:9")
        res = shopper.post(f"/api/v1/orders/{order['id']}/pay")
    assert res.status_code == 503 and res.json["code"] == "PAYMENT_UNAVAILABLE"
    assert "微信支付" in res.json["message"]
    with app.app_context():
        from backend.payments.models import Payment

        assert db.session.scalar(db.select(db.func.count()).select_from(Payment)) == 0
    assert _order(app, order["id"]).status == "PENDING_PAYMENT"
    assert shopper.pay(order["id"])["package"].startswith("prepay_id=")


def test_wechat_pay_errors_become_503(app, shopper, store, sandbox):
    order = shopper.order([(store["RS-LIVE-L-5"], 1)]).json
    requests.post(
        f"{sandbox.url}/sandbox/faults", json={"pay_http_status": 500, "pay_times": 1}, timeout=5
    )
    res = shopper.post(f"/api/v1/orders/{order['id']}/pay")
    assert res.status_code == 503


def test_paying_a_cancelled_order_is_refused(shopper, store):
    order = shopper.order([(store["RS-LIVE-L-5"], 1)]).json
    shopper.post(f"/api/v1/orders/{order['id']}/cancel")
    res = shopper.post(f"/api/v1/orders/{order['id']}/pay")
    assert res.status_code == 409 and res.json["code"] == "ORDER_NOT_PAYABLE"


def test_a_transaction_id_another_payment_holds_is_refused_and_flagged(app, shopper, store):
    from backend.errors import UpstreamIdTaken
    from backend.payments import service as payments
    from backend.payments.models import Payment

    sku = store["RS-LIVE-L-5"]
    first = shopper.buy([(sku, 1)])
    second = shopper.order([(sku, 1)]).json
    shopper.pay(second["id"])
    with app.app_context():
        taken = db.session.scalar(
            db.select(Payment.transaction_id).where(Payment.order_id == first["id"])
        )
        payment = db.session.scalar(db.select(Payment).where(Payment.order_id == second["id"]))
        replayed = {
            "mchid": app.config["WECHATPAY_MCHID"],
            "appid": app.config["WECHAT_APPID"],
            "out_trade_no": payment.out_trade_no,
            "transaction_id": taken,
            "trade_state": "SUCCESS",
            "amount": {"total": payment.amount},
        }
        with pytest.raises(UpstreamIdTaken) as refused:
            payments.apply_transaction(db.session, replayed, source="query")
        assert refused.value.status == 502 and refused.value.details == {"transaction_id": taken}
        db.session.remove()
    assert _order(app, second["id"]).status == "PENDING_PAYMENT"
    assert _anomalies(app) == ["TRANSACTION_ID_TAKEN"]
    assert _paid_events(app, second["id"]) == 0
