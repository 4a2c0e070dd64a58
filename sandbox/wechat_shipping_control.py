"""Control endpoints of the shipping stand-in (not part of WeChat): the buyer confirming receipt in
WeChat, the clock, what tests look at (orders, frozen funds, pushes), faults and the message URL.

Every call first moves the payments along the WeChat clock, as the vendor APIs do, and sends the
pushes that causes once the lock is released.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, jsonify, request

from .context import Sandbox, current_sandbox
from .control import control_body
from .errors import ControlError
from .wechat_shipping_push import flush, message_url
from .wechat_shipping_state import (
    MANUAL,
    SHIPPED,
    STATE_NAMES,
    ShippingData,
    ShippingFaults,
    ShippingOrder,
    confirm,
    control_view,
    sync,
)

bp = Blueprint("wechat_shipping_control", __name__, url_prefix="/sandbox/wx/shipping")


@bp.after_request
def _send_pushes(response):
    flush(current_sandbox())
    return response


def _order(sb: Sandbox, data: ShippingData, body: dict[str, Any]) -> ShippingOrder:
    transaction_id, out_trade_no = body.get("transaction_id"), body.get("out_trade_no")
    if not isinstance(transaction_id, str | None) or not isinstance(out_trade_no, str | None):
        raise ControlError("transaction_id and out_trade_no must be strings")
    if not transaction_id and not out_trade_no:
        raise ControlError("transaction_id or out_trade_no is required")
    for order in data.orders.values():
        if transaction_id in (None, "", order.transaction_id) and out_trade_no in (
            None,
            "",
            order.out_trade_no,
        ):
            return order
    raise ControlError("no paid payment with these ids", 404)


def _summary(sb: Sandbox, data: ShippingData) -> dict[str, Any]:
    frozen = [o for o in data.orders.values() if o.frozen]
    return {
        "now": sb.wechat_now(),
        "frozen_count": len(frozen),
        "frozen_amount": sum(o.paid_amount for o in frozen),
    }


@bp.post("/confirm")
def confirm_receipt():
    """The buyer taps 确认收货 in WeChat: a shipped payment (2) becomes 3; settles when due."""
    body = control_body()
    sb = current_sandbox()
    with sb.state.lock:
        data = sync(sb)
        order = _order(sb, data, body)
        if order.state != SHIPPED:
            raise ControlError(f"order_state is {order.state} {STATE_NAMES[order.state]}, not 2")
        confirm(order, method=MANUAL, at=sb.wechat_now())
        sync(sb)
        return jsonify(control_view(sb, data, order))


@bp.post("/advance")
def advance():
    """`{"seconds": N}` moves the WeChat clock (as POST /sandbox/clock does), then confirms,
    settles and reminds whatever is due; `seconds: 0` only does the latter."""
    seconds = control_body().get("seconds", 0)
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise ControlError("seconds must be a non-negative number")
    sb = current_sandbox()
    with sb.state.lock:
        sb.state.clock_offset += seconds
        data = sync(sb)
        return jsonify({"offset": sb.state.clock_offset, **_summary(sb, data)})


@bp.get("/orders")
def list_orders():
    """Every paid payment with its shipping state and whether its funds are frozen."""
    state = request.args.get("order_state")
    if state is not None and state not in [str(n) for n in STATE_NAMES]:
        raise ControlError("order_state must be 1-6")
    sb = current_sandbox()
    with sb.state.lock:
        data = sync(sb)
        rows = [
            control_view(sb, data, o)
            for o in data.orders.values()
            if state is None or o.state == int(state)
        ]
        return jsonify({"orders": rows, **_summary(sb, data)})


@bp.get("/pushes")
def list_pushes():
    """Every delivery attempt of a push, oldest first; filter with ?event= ?transaction_id=."""
    filters = {k: request.args[k] for k in ("event", "transaction_id") if k in request.args}
    sb = current_sandbox()
    with sb.state.lock:
        data = sync(sb)
        rows = [dict(p) for p in data.pushes if all(p[k] == v for k, v in filters.items())]
    return jsonify({"pushes": rows})


@bp.route("/faults", methods=["GET", "POST", "DELETE"])
def faults():
    """POST merges `{busy_errcode, busy_times, ingest_delay_seconds, duplicate_pushes}`."""
    body = control_body() if request.method == "POST" else {}
    sb = current_sandbox()
    with sb.state.lock:
        data = sync(sb)
        if request.method == "DELETE":
            data.faults = ShippingFaults()
        elif request.method == "POST":
            try:
                data.faults.update(body)
            except ValueError as error:
                raise ControlError(str(error)) from None
        return jsonify({"faults": data.faults.view()})


@bp.route("/config", methods=["GET", "POST"])
def config():
    """POST `{"message_url": "http://..." | null}`: where pushes go (null = the setting)."""
    body = control_body() if request.method == "POST" else {}
    sb = current_sandbox()
    with sb.state.lock:
        data = sync(sb)
        if "message_url" in body:
            url = body["message_url"]
            if url is not None and (
                not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https")
            ):
                raise ControlError("message_url must be an http(s) URL or null")
            data.message_url = url
        return jsonify({"message_url": message_url(sb, data), "msg_jump_path": data.msg_jump_path})
