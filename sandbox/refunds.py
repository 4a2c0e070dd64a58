"""Domestic refunds: apply (idempotent by out_refund_no), PROCESSING -> final state in the
background, REFUND.* notifications, query with a QPS cap. Callers hold the lock unless noted."""

from __future__ import annotations

import re
import secrets
import threading
from typing import Any

from . import notifier
from .context import Sandbox
from .errors import PayError, param_error
from .state import Refund
from .times import rfc3339_now
from .transactions import PAID_STATES, check_notify_url, find_order

OUT_REFUND_NO = re.compile(r"^[0-9A-Za-z_\-|*@]{1,64}$")
EVENTS = {
    "SUCCESS": ("REFUND.SUCCESS", "退款成功"),
    "ABNORMAL": ("REFUND.ABNORMAL", "退款异常"),
    "CLOSED": ("REFUND.CLOSED", "退款关闭"),
}


def _positive_int(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise param_error(f"{field} 应为大于 0 的整数（单位：分）")
    return value


def _check(sb: Sandbox, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise param_error("请求体不是 JSON 对象")
    out_refund_no = body.get("out_refund_no")
    if not isinstance(out_refund_no, str) or not OUT_REFUND_NO.match(out_refund_no):
        raise param_error("out_refund_no 应为 1-64 位数字、字母、_-|*@")
    if not body.get("transaction_id") and not body.get("out_trade_no"):
        raise param_error("transaction_id 与 out_trade_no 必须二选一")
    amount = body.get("amount")
    if not isinstance(amount, dict):
        raise param_error("amount 为必填")
    if amount.get("currency", "CNY") != "CNY":
        raise param_error("amount.currency 仅支持 CNY")
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 80):
        raise param_error("reason 长度不能超过 80")
    notify_url = body.get("notify_url")
    if notify_url is not None:
        check_notify_url(sb, notify_url)
    return {
        "out_refund_no": out_refund_no,
        "refund": _positive_int(amount.get("refund"), "amount.refund"),
        "total": _positive_int(amount.get("total"), "amount.total"),
        "reason": reason,
        "notify_url": notify_url,
    }


def create(sb: Sandbox, body: Any) -> tuple[Refund, bool]:
    """Apply for a refund; (refund, True) when new, (the same refund, False) on a replay."""
    fields = _check(sb, body)
    pay = sb.state.pay
    try:
        order = find_order(
            sb, out_trade_no=body.get("out_trade_no"), transaction_id=body.get("transaction_id")
        )
    except PayError:
        raise PayError(404, "RESOURCE_NOT_EXISTS", "订单不存在") from None
    existing = pay.refunds.get(fields["out_refund_no"])
    if existing is not None:
        same = (existing.out_trade_no, existing.refund, existing.total) == (
            order.out_trade_no,
            fields["refund"],
            fields["total"],
        )
        if not same:
            raise PayError(400, "INVALID_REQUEST", "商户退款单号重复，且参数与原退款单不一致")
        return existing, False
    if order.trade_state not in PAID_STATES:
        raise PayError(400, "INVALID_REQUEST", "订单未支付，不能退款")
    order_total = order.request["amount"]["total"]
    if fields["total"] != order_total:
        raise PayError(400, "INVALID_REQUEST", "amount.total 与原订单金额不一致")
    refunded = sum(
        r.refund
        for r in pay.refunds.values()
        if r.out_trade_no == order.out_trade_no and r.status != "CLOSED"
    )
    if refunded + fields["refund"] > order_total:
        raise PayError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
    refund = Refund(
        refund_id="50300" + "".join(secrets.choice("0123456789") for _ in range(24)),
        out_trade_no=order.out_trade_no,
        transaction_id=order.transaction_id or "",
        create_time=rfc3339_now(),
        **fields,
    )
    pay.refunds[refund.out_refund_no] = refund
    return refund, True


def refund_view(refund: Refund) -> dict[str, Any]:
    view: dict[str, Any] = {
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": refund.transaction_id,
        "out_trade_no": refund.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": refund.create_time,
        "status": refund.status,
        "funds_account": "AVAILABLE",
        "amount": {
            "total": refund.total,
            "refund": refund.refund,
            "payer_total": refund.total,
            "payer_refund": refund.refund,
            "settlement_total": refund.total,
            "settlement_refund": refund.refund,
            "discount_refund": 0,
            "currency": "CNY",
            "from": [],
        },
        "promotion_detail": [],
    }
    if refund.success_time:
        view["success_time"] = refund.success_time
    return view


def find(sb: Sandbox, out_refund_no: str) -> Refund:
    refund = sb.state.pay.refunds.get(out_refund_no)
    if refund is None:
        raise PayError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    return refund


def count_query(sb: Sandbox) -> None:
    """At most `refund_query_qps` refund queries per second, as the real API allows."""
    queries = sb.state.pay.refund_queries
    now = sb.real_now()
    while queries and now - queries[0] >= 1.0:
        queries.popleft()
    if len(queries) >= int(sb.settings["refund_query_qps"]):
        raise PayError(429, "FREQUENCY_LIMITED", "退款查询频率超限，请降低频率")
    queries.append(now)


def delivery(sb: Sandbox, refund: Refund, *, mode: str, copies: int, url: str):
    """The REFUND.* notification of a refund in a final state."""
    event_type, summary = EVENTS[refund.status]
    refund_amount = refund.refund + (1 if mode == "wrong_amount" else 0)
    resource = {
        "mchid": sb.mchid,
        "out_trade_no": refund.out_trade_no,
        "transaction_id": refund.transaction_id,
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_status": refund.status,
        "success_time": refund.success_time or rfc3339_now(),
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": refund.total,
            "refund": refund_amount,
            "payer_total": refund.total,
            "payer_refund": refund_amount,
        },
    }
    body = notifier.encrypted_body(
        sb, event_type=event_type, summary=summary, original_type="refund", resource=resource
    )
    ids = {"out_trade_no": refund.out_trade_no, "out_refund_no": refund.out_refund_no}
    return notifier.Delivery("refund", url, body, event_type, mode, copies, ids)


def start_processing(sb: Sandbox, out_refund_no: str) -> None:
    """Finish the refund after `refund_delay_seconds` with the outcome the faults ask for now."""
    outcome = sb.state.faults.refund_result
    generation = sb.state.generation
    threading.Thread(
        target=_finish, args=(sb, out_refund_no, outcome, generation), daemon=True
    ).start()


def _finish(sb: Sandbox, out_refund_no: str, outcome: str, generation: int) -> None:
    # runs in its own thread: takes the lock itself, and lets go of it before notifying
    if not sb.state.pause(float(sb.settings["refund_delay_seconds"]), generation):
        return
    with sb.state.lock:
        refund = sb.state.pay.refunds.get(out_refund_no)
        if generation != sb.state.generation or refund is None or refund.status != "PROCESSING":
            return
        refund.status = outcome
        if outcome == "SUCCESS":
            refund.success_time = rfc3339_now()
            order = sb.state.pay.orders[refund.out_trade_no]
            if order.trade_state == "SUCCESS":
                order.trade_state = "REFUND"
        notice = None
        if refund.notify_url:
            notice = delivery(sb, refund, mode="normal", copies=1, url=refund.notify_url)
    if notice is not None:
        notifier.dispatch(sb, notice, wait=False)
