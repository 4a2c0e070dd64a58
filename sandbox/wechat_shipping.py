"""api.weixin.qq.com stand-in, continued: 小程序发货信息管理服务 (shipping information
management), on its real paths (api-facts §7.1).

Same contract as wechat.py: injected global faults, then the access_token check, then the API;
errors are HTTP 200 `{"errcode", "errmsg"}`. Every call first moves the payments along the WeChat
clock (wechat_shipping_state.sync) and sends the pushes that causes once the lock is released.
An upload is checked for its shape and rules first (wechat_shipping_rules.py), then against the
payment itself. Codes the docs do not give are marked *sandbox choice*.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify

from . import wechat_shipping_rules as rules
from .context import Sandbox, current_sandbox
from .errors import WeChatError
from .wechat import _guard, _json_body, _latency, _wechat_error
from .wechat_shipping_push import flush
from .wechat_shipping_state import (
    COMPLETED,
    CONFIRMED,
    EXPRESS,
    REFUNDED,
    SETTLING,
    SHIPPED,
    UNSHIPPED,
    Package,
    ShippingData,
    ShippingOrder,
    mark_shipped,
    order_view,
    sync,
    visible,
)

bp = Blueprint("wechat_shipping", __name__)
bp.errorhandler(WeChatError)(_wechat_error)
bp.before_request(_latency)

UNIFIED = rules.UNIFIED
DELIVERY_COMPANIES = {
    "SF": "顺丰速运",
    "ZTO": "中通快递",
    "YTO": "圆通速递",
    "YD": "韵达速递",
    "STO": "申通快递",
    "EMS": "中国邮政速递物流",
    "JD": "京东物流",
    "DBL": "德邦快递",
    "JTSD": "极兔速递",
    "YZPY": "邮政快递包裹",
}
BUSY_ERRMSG = {-1: "system error", 10060012: "system busy", 10060019: "system busy"}


def _find(
    sb: Sandbox,
    data: ShippingData,
    *,
    transaction_id: str | None = None,
    mchid: str | None = None,
    out_trade_no: str | None = None,
) -> ShippingOrder:
    """The payment as WeChat sees it: 10060001 unknown, unpaid, another merchant's, not ingested."""
    order = None
    if transaction_id:
        order = data.orders.get(transaction_id)
    elif mchid == sb.mchid:
        order = next((o for o in data.orders.values() if o.out_trade_no == out_trade_no), None)
    if order is None or not visible(sb, data, order):
        raise WeChatError(10060001, "支付单不存在")
    return order


def _ids(body: Any) -> dict[str, str | None]:
    """get_order / notify_confirm_receive: transaction_id, or merchant_id + merchant_trade_no."""
    if not isinstance(body, dict):
        raise rules.format_error("body must be a JSON object")
    for key in ("transaction_id", "merchant_id", "merchant_trade_no", "sub_merchant_id"):
        rules.typed(body, key, str)
    if not body.get("transaction_id") and not (
        body.get("merchant_id") and body.get("merchant_trade_no")
    ):
        raise rules.format_error("transaction_id or merchant_id + merchant_trade_no required")
    return {
        "transaction_id": body.get("transaction_id"),
        "mchid": body.get("merchant_id"),
        "out_trade_no": body.get("merchant_trade_no"),
    }


# ---- upload_shipping_info -------------------------------------------------------------------


def upload_shipping_info(sb: Sandbox, data: ShippingData, body: Any) -> dict[str, Any]:
    rules.check_shape(body)
    upload_time = rules.check_rules(sb, body)
    key = body["order_key"]
    order = _find(
        sb,
        data,
        transaction_id=key.get("transaction_id") if key["order_number_type"] == 2 else None,
        mchid=key.get("mchid"),
        out_trade_no=key.get("out_trade_no"),
    )
    if order.state == REFUNDED:
        raise WeChatError(10060004, "order cannot be shipped: it was refunded")
    if (body.get("payer") or {}).get("openid") != order.openid:
        raise WeChatError(10060031, "payer openid does not match the payment")
    if order.last_upload_time is not None and upload_time <= order.last_upload_time:
        raise WeChatError(268485216, "upload_time must be later than the last upload")
    if order.state in (CONFIRMED, COMPLETED, SETTLING):
        raise WeChatError(10060002, "order already shipped and its receipt confirmed")
    _ship(sb, data, order, body, upload_time)
    return {}


def _ship(
    sb: Sandbox, data: ShippingData, order: ShippingOrder, body: dict, upload_time: datetime
) -> None:
    mode, logistics_type = body["delivery_mode"], body["logistics_type"]
    changed = bool(order.packages) and (mode, logistics_type) != (
        order.delivery_mode,
        order.logistics_type,
    )
    reshipment = order.finish_shipping or changed  # one per payment
    if reshipment and order.reshipments >= 1:
        raise WeChatError(10060003, "re-shipment already used for this order")
    stamp = int(upload_time.timestamp())
    packages = [_package(item, stamp) for item in body["shipping_list"]]
    if not reshipment and order.packages:  # split delivery: more packages of the same order
        packages = order.packages + packages
        if len(packages) > int(sb.settings["shipping_split_max"]):
            raise WeChatError(10060024, "shipping_list too long")
    if reshipment:
        order.reshipments += 1
    order.packages = packages
    order.delivery_mode, order.logistics_type = mode, logistics_type
    order.last_upload_time = upload_time
    order.finish_shipping = mode == UNIFIED or bool(body.get("is_all_delivered"))
    if order.finish_shipping:
        mark_shipped(sb, data, order)
    else:
        order.state = UNSHIPPED  # a split delivery still under way (state then: UNVERIFIED)


def _package(item: dict[str, Any], stamp: int) -> Package:
    contact = {k: v for k, v in (item.get("contact") or {}).items() if v}
    return Package(
        tracking_no=item.get("tracking_no") or "",
        express_company=item.get("express_company") or "",
        goods_desc=item["item_desc"],
        upload_time=stamp,
        contact=contact,
    )


# ---- reads and the rest ---------------------------------------------------------------------


def get_order(sb: Sandbox, data: ShippingData, body: Any) -> dict[str, Any]:
    order = _find(sb, data, **_ids(body))
    return {"order": order_view(order, sb.mchid)}


def get_order_list(sb: Sandbox, data: ShippingData, body: Any) -> dict[str, Any]:
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise rules.format_error("body must be a JSON object")
    window = rules.typed(body, "pay_time_range", dict) or {}
    begin = rules.typed(window, "begin_time", int, "pay_time_range.")
    end = rules.typed(window, "end_time", int, "pay_time_range.")
    state = rules.typed(body, "order_state", int)
    openid = rules.typed(body, "openid", str)
    last_index = rules.typed(body, "last_index", str) or ""
    size = rules.typed(body, "page_size", int)
    size = 100 if size is None else size
    if state is not None and state not in range(1, 7):
        raise rules.format_error("order_state is not a valid enum value")
    if size < 1:
        raise rules.format_error("page_size must be positive")
    size = min(size, 100)
    rows = [
        o
        for o in data.orders.values()
        if visible(sb, data, o)
        and (begin is None or o.pay_time >= begin)
        and (end is None or o.pay_time <= end)
        and (state is None or o.state == state)
        and (not openid or o.openid == openid)
    ]
    rows.sort(key=lambda o: (o.pay_time, o.transaction_id), reverse=True)
    if last_index and not (last_index.isdigit() and int(last_index) <= len(rows)):
        raise WeChatError(10060011, "last_index invalid")
    start = int(last_index or 0)
    page = rows[start : start + size]
    following = start + len(page)
    return {
        "order_list": [order_view(o, sb.mchid) for o in page],
        "last_index": str(following),
        "has_more": following < len(rows),
    }


def notify_confirm_receive(sb: Sandbox, data: ShippingData, body: Any) -> dict[str, Any]:
    order = _find(sb, data, **_ids(body))
    received_time = rules.typed(body, "received_time", int)
    if order.state != SHIPPED:
        raise WeChatError(10060028, "order not in the shipped state")
    if order.logistics_type != EXPRESS:
        raise WeChatError(10060032, "only express orders can be reminded")
    now = sb.wechat_now()
    if received_time is None or not int(order.shipped_at or 0) <= received_time <= now:
        raise WeChatError(10060029, "received_time invalid")
    if order.receipt_reminded_at is not None:
        raise WeChatError(10060030, "already reminded")
    order.receipt_reminded_at = now
    order.received_time = received_time
    return {}


def is_trade_managed(sb: Sandbox, data: ShippingData, body: Any) -> dict[str, Any]:
    appid = body.get("appid") if isinstance(body, dict) else None
    if not appid:
        raise WeChatError(40097, "invalid args, appid missing")
    if appid != sb.appid:
        raise WeChatError(40013, "invalid appid")
    return {"is_trade_managed": True}


def set_msg_jump_path(sb: Sandbox, data: ShippingData, body: Any) -> dict[str, Any]:
    path = body.get("path") if isinstance(body, dict) else None
    if not isinstance(path, str) or not path:
        raise rules.format_error("path required")
    data.msg_jump_path = path
    return {}


def get_delivery_list(sb: Sandbox, data: ShippingData, body: Any) -> dict[str, Any]:
    rows = [{"delivery_id": k, "delivery_name": v} for k, v in DELIVERY_COMPANIES.items()]
    return {"delivery_list": rows, "count": len(rows)}


Handler = Callable[[Sandbox, ShippingData, Any], dict[str, Any]]

# path -> (handler, whether the system-busy fault applies)
APIS: dict[str, tuple[Handler, bool]] = {
    "/wxa/sec/order/upload_shipping_info": (upload_shipping_info, True),
    "/wxa/sec/order/get_order": (get_order, True),
    "/wxa/sec/order/get_order_list": (get_order_list, True),
    "/wxa/sec/order/notify_confirm_receive": (notify_confirm_receive, True),
    "/wxa/sec/order/is_trade_managed": (is_trade_managed, False),
    "/wxa/sec/order/set_msg_jump_path": (set_msg_jump_path, False),
    "/cgi-bin/express/delivery/open_msg/get_delivery_list": (get_delivery_list, False),
}


def _view(handler: Handler, busy_applies: bool) -> Callable[[], Any]:
    def view():
        sb = current_sandbox()
        body = _json_body()
        try:
            with sb.state.lock:
                _guard(sb)
                data = sync(sb)
                faults = data.faults
                if busy_applies and faults.busy_times > 0:
                    faults.busy_times -= 1
                    code = faults.busy_errcode
                    raise WeChatError(code, BUSY_ERRMSG[code])
                return jsonify({"errcode": 0, "errmsg": "ok", **handler(sb, data, body)})
        finally:
            flush(sb)  # pushes the clock made due, and the shipping push of an upload

    return view


for _path, (_handler, _busy) in APIS.items():
    bp.add_url_rule(_path, endpoint=_path, view_func=_view(_handler, _busy), methods=["POST"])
