"""Control endpoints for the WeChat Pay stand-in (not part of WeChat Pay): "the phone pays",
notification resends, and what tests need to look at."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from . import notifier, refunds, transactions
from .context import Sandbox, current_sandbox
from .control import control_body
from .crypto import rsa_verify
from .errors import ControlError
from .state import Order

bp = Blueprint("pay_control", __name__, url_prefix="/sandbox/pay")


def _options(body: dict[str, Any]) -> dict[str, Any]:
    mode = body.get("mode", "normal")
    if mode not in notifier.MODES:
        raise ControlError(f"mode must be one of {notifier.MODES}")
    copies = body.get("copies", notifier.DEFAULT_COPIES.get(mode, 1))
    if not isinstance(copies, int) or not 1 <= copies <= 500:
        raise ControlError("copies must be an integer between 1 and 500")
    url = body.get("notify_url")
    if url is not None and not isinstance(url, str):
        raise ControlError("notify_url must be a string")
    return {"mode": mode, "copies": copies, "wait": bool(body.get("wait", False)), "url": url}


def _check_pay_sign(sb: Sandbox, order: Order, payment: Any) -> None:
    """What the WeChat client checks in wx.requestPayment before it lets the user pay."""
    if not isinstance(payment, dict):
        raise ControlError("payment must be the object passed to wx.requestPayment")
    package = f"prepay_id={order.prepay_id}"
    if payment.get("package") != package:
        raise ControlError(f"PAY_SIGN_ERROR: package must be {package}")
    if payment.get("signType") != "RSA" or payment.get("appId", sb.appid) != sb.appid:
        raise ControlError("PAY_SIGN_ERROR: signType must be RSA and appId the mini-program's")
    message = f"{sb.appid}\n{payment.get('timeStamp')}\n{payment.get('nonceStr')}\n{package}\n"
    if not rsa_verify(sb.merchant_public_key, message, str(payment.get("paySign", ""))):
        raise ControlError("PAY_SIGN_ERROR: paySign does not verify with the merchant key")


def payment_delivery(sb: Sandbox, order: Order, options: dict[str, Any]) -> notifier.Delivery:
    resource = transactions.transaction_view(order)
    resource.update(trade_state="SUCCESS", trade_state_desc="支付成功")
    if options["mode"] == "wrong_amount":
        resource["amount"]["total"] += 1
        resource["amount"]["payer_total"] += 1
    body = notifier.encrypted_body(
        sb,
        event_type="TRANSACTION.SUCCESS",
        summary="支付成功",
        original_type="transaction",
        resource=resource,
    )
    url = options["url"] or order.request["notify_url"]
    ids = {"out_trade_no": order.out_trade_no, "transaction_id": order.transaction_id}
    return notifier.Delivery(
        "payment", url, body, "TRANSACTION.SUCCESS", options["mode"], options["copies"], ids
    )


def _confirm(find_order) -> Any:
    body = control_body()
    options = _options(body)
    sb = current_sandbox()
    with sb.state.lock:
        order = find_order(sb)
        if "payment" in body:
            _check_pay_sign(sb, order, body["payment"])
        transactions.mark_paid(sb, order)  # already paid: WeChat Pay just notifies again
        delivery = payment_delivery(sb, order, options)
    results = notifier.dispatch(sb, delivery, wait=options["wait"])
    return jsonify(
        {
            "out_trade_no": order.out_trade_no,
            "transaction_id": order.transaction_id,
            "mode": options["mode"],
            "deliveries": results,
        }
    )


@bp.post("/<prepay_id>/confirm")
def confirm(prepay_id: str):
    """The phone paid for this prepay_id: mark the order paid and notify the merchant."""

    def find(sb: Sandbox) -> Order:
        out_trade_no = sb.state.pay.by_prepay_id.get(prepay_id)
        if out_trade_no is None:
            raise ControlError(f"unknown prepay_id {prepay_id}", 404)
        return sb.state.pay.orders[out_trade_no]

    return _confirm(find)


@bp.post("/out-trade-no/<out_trade_no>/confirm")
def confirm_by_out_trade_no(out_trade_no: str):
    """Same as confirm, for tests that only know the merchant order number."""

    def find(sb: Sandbox) -> Order:
        order = sb.state.pay.orders.get(out_trade_no)
        if order is None:
            raise ControlError(f"unknown out_trade_no {out_trade_no}", 404)
        return order

    return _confirm(find)


@bp.post("/refunds/<out_refund_no>/notify")
def resend_refund_notification(out_refund_no: str):
    options = _options(control_body())
    sb = current_sandbox()
    with sb.state.lock:
        refund = sb.state.pay.refunds.get(out_refund_no)
        if refund is None:
            raise ControlError(f"unknown out_refund_no {out_refund_no}", 404)
        if refund.status == "PROCESSING":
            raise ControlError("the refund is still PROCESSING; nothing to notify yet")
        url = options["url"] or refund.notify_url
        if not url:
            raise ControlError("the refund has no notify_url; pass one in the body")
        delivery = refunds.delivery(
            sb, refund, mode=options["mode"], copies=options["copies"], url=url
        )
    results = notifier.dispatch(sb, delivery, wait=options["wait"])
    return jsonify({"out_refund_no": out_refund_no, "status": refund.status, "deliveries": results})


@bp.get("/notifications")
def list_notifications():
    """Every delivery attempt, oldest first; filter with ?kind= ?out_trade_no= ?out_refund_no=."""
    filters = {
        k: request.args[k] for k in ("kind", "out_trade_no", "out_refund_no") if k in request.args
    }
    sb = current_sandbox()
    with sb.state.lock:
        rows = [
            dict(n)
            for n in sb.state.pay.notifications
            if all(n.get(k) == v for k, v in filters.items())
        ]
    return jsonify({"notifications": rows})


@bp.get("/orders/<out_trade_no>")
def show_order(out_trade_no: str):
    """The order as WeChat Pay sees it, plus its prepay_id, notify_url and refunds."""
    sb = current_sandbox()
    with sb.state.lock:
        order = sb.state.pay.orders.get(out_trade_no)
        if order is None:
            raise ControlError(f"unknown out_trade_no {out_trade_no}", 404)
        view = transactions.transaction_view(order)
        view["prepay_id"] = order.prepay_id
        view["notify_url"] = order.request["notify_url"]
        view["refunds"] = [
            refunds.refund_view(r)
            for r in sb.state.pay.refunds.values()
            if r.out_trade_no == out_trade_no
        ]
    return jsonify(view)
