"""Pinduoduo POP stand-in: `POST /platforms/pdd/api/router`, form-encoded.

Common params `type, client_id, access_token, timestamp (unix s), data_type=JSON, version=V1,
sign`, business params beside them; MD5 over every parameter but `sign`. PDD lists only paid
orders; amounts are yuan numbers, times Asia/Shanghai strings, pages from 1, phones masked.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint

from ..context import Sandbox
from .formats import (
    cst,
    mask_detail,
    mask_name,
    mask_phone,
    product_code,
    product_number,
    receiver,
    yuan_number,
)
from .gateway import (
    Api,
    ApiError,
    Call,
    Ctx,
    Method,
    bool_param,
    check_skew,
    check_window,
    form_params,
    int_param,
    list_page,
    page_size,
    serve,
    str_param,
)
from .oauth import redeem
from .orders import Order
from .signing import same, wrapped_md5
from .store import PlatformData

PLATFORM = "pdd"
bp = Blueprint("platform_pdd", __name__, url_prefix="/platforms/pdd")

SYSTEM_PARAMS = frozenset(
    ("type", "client_id", "access_token", "timestamp", "data_type", "version", "sign")
)
INCREMENT = "pdd.order.number.list.increment.get"
REFRESH = "pdd.pop.auth.token.refresh"
CREATE = "pdd.pop.auth.token.create"
SEND = "pdd.logistics.online.send"
FULFILMENT_STATUS = {"PAID": 1, "SHIPPED": 2, "COMPLETED": 3}
REFRESH_TOKEN_SECONDS = 30 * 24 * 3600

# kind -> (error_code, error_msg, sub_code)
ERRORS = {
    "token": (10019, "access_token已过期", "access_token_expired"),
    "signature": (10016, "签名无效", "invalid_sign"),
    "app_key": (10001, "client_id不存在", "invalid_client_id"),
    "timestamp": (10035, "时间戳超出允许范围", "invalid_timestamp"),
    "missing": (10000, "参数错误", "missing_parameter"),
    "parameter": (10000, "参数错误", "invalid_parameter"),
    "window": (10000, "参数错误", "invalid_parameter"),
    "method": (10000, "参数错误", "invalid_type"),
    "refresh_token": (10000, "参数错误", "refresh_token_invalid"),
    "code": (10000, "参数错误", "code_invalid"),
    "redirect_uri": (10000, "参数错误", "redirect_uri_invalid"),
    "business": (10000, "参数错误", "order_status_error"),
    "server_error": (50000, "服务异常，请稍后重试", "system_error"),
    "rate_limited": (70031, "调用过于频繁，请调整调用频率", "rate_limited"),
}


def status_fields(order: Order) -> tuple[int | None, int | None]:
    """(order_status, refund_status); None for an order PDD does not show (never paid)."""
    if order.pay_time == 0:
        return None, None
    status = FULFILMENT_STATUS[order.fulfilment]
    if order.status == "REFUNDING":
        return status, 2 if order.seq % 2 else 3  # 售后处理中 / 退款中: both mean refunding
    if order.status == "REFUNDED":
        return status, 4
    return status, 1


def _request_id() -> str:
    return f"{secrets.randbelow(10**17):017d}"


def render_order(order: Order, data: PlatformData) -> dict[str, Any]:
    status, refund = status_fields(order)
    buyer = receiver(order.seq)
    items = [
        {
            "goods_id": product_number(PLATFORM, product_code(item.outer_id), 12),
            "sku_id": product_number(PLATFORM, item.outer_id, 13),
            "outer_id": item.outer_id,
            "outer_goods_id": product_code(item.outer_id),
            "goods_name": item.title,
            "goods_price": yuan_number(item.unit_price_fen),
            "goods_count": item.quantity,
        }
        for item in order.items
    ]
    company = order.company or ""
    return {
        "order_sn": order.order_id,
        "order_status": status,
        "refund_status": refund,
        "confirm_status": 1 if order.pay_time else 0,
        "group_status": 1,
        "after_sales_status": {1: 0, 2: 5, 3: 5, 4: 10}.get(refund or 1, 0),
        "trade_type": 0,
        "created_time": cst(order.create_time),
        "confirm_time": cst(order.pay_time) if order.pay_time else "",
        "pay_time": cst(order.pay_time) if order.pay_time else "",
        "updated_at": cst(order.update_time),
        "shipping_time": cst(order.ship_time) if order.tracking_no else "",
        "pay_amount": yuan_number(order.total_fen),
        "goods_amount": yuan_number(order.goods_fen),
        "discount_amount": 0.0,
        "postage": yuan_number(order.post_fee_fen),
        "receiver_name": mask_name(buyer["name"]),
        "receiver_phone": mask_phone(buyer["phone"]),
        "province": buyer["province"],
        "city": buyer["city"],
        "town": buyer["district"],
        "address": mask_detail(buyer["detail"]),
        "item_list": items,
        "tracking_number": order.tracking_no or "",
        "logistics_id": int(company) if company.isdigit() else 0,
    }


def _render_error(error: ApiError) -> tuple[dict[str, Any], int]:
    code, msg, sub_code = ERRORS[error.kind]
    body = {
        "error_code": code,
        "error_msg": msg,
        "sub_code": sub_code,
        "sub_msg": error.message,
        "request_id": _request_id(),
    }
    return {"error_response": body}, 200


def _strip_list(body: dict[str, Any]) -> bool:
    answer = body.get("order_sn_increment_get_response")
    return isinstance(answer, dict) and answer.pop("order_sn_list", None) is not None


def _authenticate(sb: Sandbox) -> Call:
    client_id, secret = sb.platform_apps[PLATFORM]
    params = form_params()
    if params.get("client_id") != client_id:
        raise ApiError("app_key", "unknown client_id")
    if not same(params.get("sign"), wrapped_md5(secret, params)):
        raise ApiError("signature", "sign does not match")
    timestamp = params.get("timestamp", "")
    if not timestamp.isdigit():
        raise ApiError("timestamp", "timestamp must be unix seconds")
    check_skew(int(timestamp), PLATFORM)
    method = params.get("type")
    if not method:
        raise ApiError("method", "type is required")
    if params.get("data_type", "JSON").upper() != "JSON":
        raise ApiError("parameter", "the sandbox answers data_type=JSON only")
    business = {k: v for k, v in params.items() if k not in SYSTEM_PARAMS}
    if method == REFRESH:
        return Call(method, business, refresh_token=business.get("refresh_token"))
    return Call(method, business, access_token=params.get("access_token") or None)


def _increment_get(ctx: Ctx) -> dict[str, Any]:
    params = ctx.params
    start = int_param(params, "start_updated_at")
    end = int_param(params, "end_updated_at")
    check_window(ctx.data, start, end)
    order_status = int_param(params, "order_status")
    refund_status = int_param(params, "refund_status")
    if order_status not in (1, 2, 3, 5) or refund_status not in (1, 2, 3, 4, 5):
        raise ApiError("parameter", "order_status must be 1/2/3/5, refund_status 1-5")
    int_param(params, "is_lucky_flag", 0, 0, 2)
    number = int_param(params, "page", 1, 1)
    size = page_size(params, "page_size", 100)
    bool_param(params, "use_has_next", False)
    accept = None
    if order_status != 5 or refund_status != 5:

        def accept(order: Order) -> bool:
            shown, refund = status_fields(order)
            return order_status in (5, shown) and refund_status in (5, refund)

    rows, total = list_page(ctx, start, end, number - 1, size, render_order, accept=accept)
    answer = {
        "total_count": total,
        "has_next": number * size < total,
        "order_sn_list": rows,
        "request_id": _request_id(),
    }
    return {"order_sn_increment_get_response": answer}


def _token_answer(ctx: Ctx, shop) -> dict[str, Any]:
    ttl = ctx.data.config.token_ttl_seconds
    answer = {
        "access_token": shop.access_token,
        "expires_in": ttl,
        "expires_at": int(ctx.now) + ttl,
        "refresh_token": shop.refresh_token,
        "refresh_token_expires_in": REFRESH_TOKEN_SECONDS,
        "refresh_token_expires_at": int(ctx.now) + REFRESH_TOKEN_SECONDS,
        "owner_id": shop.shop_id,
        "owner_name": shop.name,
        "scope": [INCREMENT, SEND],
        "request_id": _request_id(),
    }
    return answer


def _token_refresh(ctx: Ctx) -> dict[str, Any]:
    shop = ctx.data.refresh(str_param(ctx.params, "refresh_token"), ctx.now)
    if shop is None:
        raise ApiError("refresh_token", "refresh_token无效或已被使用")
    return {"pop_auth_token_refresh_response": _token_answer(ctx, shop)}


def _token_create(ctx: Ctx) -> dict[str, Any]:
    """The code of the shop's authorisation (main account; 10 minutes; single use)."""
    shop = redeem(ctx.data, str_param(ctx.params, "code"), None, ctx.now)
    return {"pop_auth_token_create_response": _token_answer(ctx, shop)}


def _online_send(ctx: Ctx) -> dict[str, Any]:
    order_sn = str_param(ctx.params, "order_sn")
    company = str(int_param(ctx.params, "logistics_id"))
    tracking_no = str_param(ctx.params, "tracking_number")
    assert ctx.shop_id is not None
    order = ctx.data.shop_order(ctx.shop_id, order_sn)
    if order is None or order.pay_time == 0:
        raise ApiError("business", f"订单不存在: {order_sn}")
    try:
        ctx.data.ship(order, company, tracking_no, ctx.now)
    except ValueError:
        raise ApiError("business", "订单状态不是待发货，不能发货") from None
    answer = {"is_success": True, "request_id": _request_id()}
    return {"logistics_online_send_response": answer}


API = Api(
    platform=PLATFORM,
    authenticate=_authenticate,
    methods={
        INCREMENT: Method(_increment_get),
        REFRESH: Method(_token_refresh, needs_token=False),
        CREATE: Method(_token_create, needs_token=False),
        SEND: Method(_online_send),
    },
    render_error=_render_error,
    strip_list=_strip_list,
)


@bp.post("/api/router")
def router():
    return serve(API)
