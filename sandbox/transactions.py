"""JSAPI orders: place, query, close, and the "phone pays" transition. Callers hold the lock."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from .context import Sandbox
from .errors import ControlError, PayError, param_error
from .state import Order
from .times import CST, rfc3339_now

OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
PAID_STATES = ("SUCCESS", "REFUND")
STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "CLOSED": "订单已关闭",
    "REFUND": "订单发生过退款",
}


def parse_rfc3339(value: Any, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise param_error(f"{field} 不是 RFC3339 格式，示例 2026-06-08T10:34:56+08:00")
    return parsed


def check_notify_url(sb: Sandbox, url: Any, field: str = "notify_url") -> str:
    """https only, no query string; plain http is accepted for local receivers in tests."""
    if not isinstance(url, str) or not url:
        raise param_error(f"{field} 为必填")
    parts = urlsplit(url)
    http_hosts = sb.settings.get("notify_http_hosts", LOOPBACK_HOSTS)
    http_ok = parts.scheme == "http" and (http_hosts is None or parts.hostname in http_hosts)
    if not (parts.scheme == "https" or http_ok) or not parts.hostname:
        raise param_error(f"{field} 必须是 https 地址")
    if parts.query:
        raise param_error(f"{field} 不能携带参数")
    return url


def _check_jsapi(sb: Sandbox, body: Any) -> None:
    if not isinstance(body, dict):
        raise param_error("请求体不是 JSON 对象")
    for field in ("appid", "mchid", "description", "out_trade_no"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise param_error(f"{field} 为必填")
    if body["appid"] != sb.appid or body["mchid"] != sb.mchid:
        raise PayError(400, "APPID_MCHID_NOT_MATCH", "appid 和 mchid 不匹配")
    if len(body["description"]) > 127:
        raise param_error("description 长度不能超过 127")
    if not OUT_TRADE_NO.match(body["out_trade_no"]):
        raise param_error("out_trade_no 应为 6-32 位数字、字母、_-|*")
    check_notify_url(sb, body.get("notify_url"))
    amount = body.get("amount")
    total = amount.get("total") if isinstance(amount, dict) else None
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise param_error("amount.total 应为大于 0 的整数（单位：分）")
    if amount.get("currency", "CNY") != "CNY":
        raise param_error("amount.currency 仅支持 CNY")
    payer = body.get("payer")
    if (
        not isinstance(payer, dict)
        or not isinstance(payer.get("openid"), str)
        or not payer["openid"]
    ):
        raise param_error("payer.openid 为必填")
    if "time_expire" in body:
        parse_rfc3339(body["time_expire"], "time_expire")
    if len(str(body.get("attach", ""))) > 128:
        raise param_error("attach 长度不能超过 128")


def create_jsapi(sb: Sandbox, body: Any) -> dict[str, str]:
    """Place an order; a replay with identical parameters returns the same prepay_id."""
    _check_jsapi(sb, body)
    pay = sb.state.pay
    order = pay.orders.get(body["out_trade_no"])
    if order is not None:
        if order.trade_state in PAID_STATES:
            raise PayError(400, "ORDERPAID", "该订单已支付")
        if order.trade_state == "CLOSED":
            raise PayError(400, "ORDER_CLOSED", "该订单已关闭")
        if order.request != body:
            raise PayError(400, "INVALID_REQUEST", "商户订单号重复，且参数与原订单不一致")
        return {"prepay_id": order.prepay_id}
    prepay_id = "wx" + datetime.now(CST).strftime("%Y%m%d%H%M%S") + secrets.token_hex(10)
    order = Order(
        out_trade_no=body["out_trade_no"],
        request=body,
        prepay_id=prepay_id,
        created_at=sb.real_now(),
    )
    pay.orders[order.out_trade_no] = order
    pay.by_prepay_id[prepay_id] = order.out_trade_no
    return {"prepay_id": prepay_id}


def check_mchid(sb: Sandbox, mchid: Any) -> None:
    if not mchid:
        raise param_error("mchid 为必填")
    if mchid != sb.mchid:
        raise PayError(400, "MCH_NOT_EXISTS", "商户号不存在")


def find_order(sb: Sandbox, *, out_trade_no: str | None = None, transaction_id: str | None = None):
    pay = sb.state.pay
    if transaction_id is not None:
        out_trade_no = pay.by_transaction_id.get(transaction_id)
    order = pay.orders.get(out_trade_no or "")
    if order is None:
        raise PayError(404, "ORDER_NOT_EXIST", "订单不存在")
    return order


def transaction_view(order: Order) -> dict[str, Any]:
    """The query answer (also the decrypted payment notification resource)."""
    request = order.request
    total = request["amount"]["total"]
    view: dict[str, Any] = {
        "appid": request["appid"],
        "mchid": request["mchid"],
        "out_trade_no": order.out_trade_no,
        "trade_type": "JSAPI",
        "trade_state": order.trade_state,
        "trade_state_desc": STATE_DESC[order.trade_state],
        "attach": request.get("attach", ""),
        "payer": {"openid": request["payer"]["openid"]},
        "amount": {"total": total, "currency": "CNY", "payer_currency": "CNY"},
    }
    if order.transaction_id:
        view.update(
            transaction_id=order.transaction_id, bank_type="OTHERS", success_time=order.success_time
        )
        view["amount"]["payer_total"] = total
    return view


def close(sb: Sandbox, out_trade_no: str, body: Any) -> None:
    check_mchid(sb, body.get("mchid") if isinstance(body, dict) else None)
    order = find_order(sb, out_trade_no=out_trade_no)
    if order.trade_state in PAID_STATES:
        raise PayError(400, "ORDERPAID", "订单已支付，不能关闭")
    order.trade_state = "CLOSED"  # closing a closed order is a no-op, answered 204 again


def mark_paid(sb: Sandbox, order: Order) -> bool:
    """The user paid: NOTPAY -> SUCCESS with a new transaction_id. False if it was paid already."""
    if order.trade_state in PAID_STATES:
        return False
    if order.trade_state == "CLOSED":
        raise ControlError("ORDER_CLOSED: the order was closed and can no longer be paid")
    expire = order.request.get("time_expire")
    if expire and parse_rfc3339(expire, "time_expire").timestamp() < sb.real_now():
        raise ControlError("ORDER_CLOSED: time_expire has passed, the order can no longer be paid")
    order.trade_state = "SUCCESS"
    order.transaction_id = "42000" + datetime.now(CST).strftime("%Y%m%d") + _digits(15)
    order.success_time = rfc3339_now()
    sb.state.pay.by_transaction_id[order.transaction_id] = order.out_trade_no
    return True


def _digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))
