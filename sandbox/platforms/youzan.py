"""Youzan (有赞云) stand-in: `POST /platforms/youzan/auth/token` (silent authorisation: a shop
that authorised the app gets a token by its kdt_id) and `POST /platforms/youzan/api/{api}/{version}
?access_token=` with a JSON body and no signature.

Envelope `{trace_id, code, success, message, data}`, success `code == 200`; gateway refusals
(token, rate limit, unknown API) also carry Youzan's `gw_err_resp`. Amounts in yuan strings,
times Asia/Shanghai strings, pages from 1, PII as `$...$1$` ciphertexts.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, request

from ..context import Sandbox
from .formats import (
    cst,
    parse_cst,
    product_code,
    product_number,
    receiver,
    youzan_cipher,
    yuan,
)
from .gateway import (
    Api,
    ApiError,
    Call,
    Ctx,
    Method,
    check_window,
    int_param,
    list_page,
    page_size,
    serve,
    str_param,
)
from .oauth import redeem
from .orders import Order
from .store import PlatformData

PLATFORM = "youzan"
bp = Blueprint("platform_youzan", __name__, url_prefix="/platforms/youzan")

TRADES = "youzan.trades.sold.get/4.0.4"
CONFIRM = "youzan.logistics.online.confirm/3.0.0"
FULFILMENT_STATUS = {
    "PAID": "WAIT_SELLER_SEND_GOODS",
    "SHIPPED": "WAIT_BUYER_CONFIRM_GOODS",
    "COMPLETED": "TRADE_SUCCESS",
}
STATUS_STR = {
    "WAIT_BUYER_PAY": "待支付",
    "WAIT_SELLER_SEND_GOODS": "待发货",
    "WAIT_BUYER_CONFIRM_GOODS": "已发货",
    "TRADE_SUCCESS": "已完成",
    "TRADE_CLOSE": "已关闭",
}
GATEWAY_KINDS = frozenset(("token", "rate_limited", "method"))

# kind -> (code, message); all but 106000001 are sandbox choices
ERRORS = {
    "token": (4203, "access_token不存在或已过期"),
    "rate_limited": (4003, "访问频率超过限制"),
    "method": (4004, "API不存在"),
    "app_key": (4201, "client_id或client_secret错误"),
    "refresh_token": (4202, "店铺未授权该应用"),
    "code": (4204, "code无效或已过期"),
    "redirect_uri": (4205, "redirect_uri与授权时不一致"),
    "window": (106000001, "每次可搜索一年订单记录,请重新选择起止时间"),
    "missing": (106000002, "参数错误"),
    "parameter": (106000002, "参数错误"),
    "signature": (106000002, "参数错误"),
    "timestamp": (106000002, "参数错误"),
    "business": (106000002, "业务处理失败"),
    "server_error": (5000, "服务繁忙，请稍后重试"),
}


def status_fields(order: Order) -> tuple[str, int]:
    """(order_info.status, refund_state)."""
    if order.status == "UNPAID":
        return "WAIT_BUYER_PAY", 0
    if order.status == "CANCELLED":
        return "TRADE_CLOSE", 0
    if order.status == "REFUNDED":
        return "TRADE_CLOSE", 2
    return FULFILMENT_STATUS[order.fulfilment], 1 if order.status == "REFUNDING" else 0


def _kdt_id(shop_id: str) -> int | str:
    return int(shop_id) if shop_id.isdigit() else shop_id


def render_order(order: Order, data: PlatformData) -> dict[str, Any]:
    status, refund_state = status_fields(order)
    buyer = receiver(order.seq)
    lines = [
        {
            "oid": str(1_580_000_000_000_000_000 + order.seq * 100 + number),
            "item_id": product_number(PLATFORM, product_code(item.outer_id), 10),
            "sku_id": product_number(PLATFORM, item.outer_id, 11),
            "outer_sku_id": item.outer_id,
            "outer_item_id": product_code(item.outer_id),
            "title": item.title,
            "num": item.quantity,
            "price": yuan(item.unit_price_fen),
            "total_fee": yuan(item.unit_price_fen * item.quantity),
            "payment": yuan(item.unit_price_fen * item.quantity),
        }
        for number, item in enumerate(order.items, 1)
    ]
    info = {
        "tid": order.order_id,
        "status": status,
        "status_str": STATUS_STR[status],
        "type": 0,
        "created": cst(order.create_time),
        "update_time": cst(order.update_time),
        "pay_time": cst(order.pay_time) if order.pay_time else "",
        "consign_time": cst(order.ship_time) if order.tracking_no else "",
        "refund_state": refund_state,
        "node_kdt_id": _kdt_id(order.shop_id),
    }
    full = {
        "order_info": info,
        "buyer_info": {"buyer_phone": youzan_cipher(buyer["phone"]), "buyer_id": order.seq},
        "address_info": {
            "receiver_name": youzan_cipher(buyer["name"]),
            "receiver_tel": youzan_cipher(buyer["phone"]),
            "delivery_province": buyer["province"],
            "delivery_city": buyer["city"],
            "delivery_district": buyer["district"],
            "delivery_address": youzan_cipher(buyer["detail"]),
        },
        "pay_info": {
            "payment": yuan(order.total_fen),
            "total_fee": yuan(order.goods_fen),
            "post_fee": yuan(order.post_fee_fen),
        },
        "orders": lines,
    }
    if order.tracking_no:
        express = {"express_no": order.tracking_no, "express_id": order.company}
        full["delivery_order"] = [{"dists": [{"express_info": express}]}]
    return {"full_order_info": full, "refund_state": refund_state}


def _envelope(data: Any, code: int = 200, message: str = "success") -> dict[str, Any]:
    return {
        "trace_id": f"yz7-0a{secrets.token_hex(4)}-{secrets.token_hex(6)}",
        "code": code,
        "success": code == 200,
        "message": message,
        "data": data,
    }


def _render_error(error: ApiError) -> tuple[dict[str, Any], int]:
    code, message = ERRORS[error.kind]
    if error.message:
        message = f"{message}: {error.message}"
    body = _envelope(None, code, message)
    if error.kind in GATEWAY_KINDS:
        body["gw_err_resp"] = {"err_code": code, "err_msg": message}
    return body, 200


def _strip_list(body: dict[str, Any]) -> bool:
    data = body.get("data")
    return isinstance(data, dict) and data.pop("full_order_info_list", None) is not None


def _json_body() -> dict[str, Any]:
    raw = request.get_data()
    if not raw.strip():
        return {}
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise ApiError("parameter", "the body must be a JSON object")
    return body


def _authenticate(sb: Sandbox) -> Call:
    view_args = request.view_args or {}
    method = f"{view_args.get('api')}/{view_args.get('version')}"
    token = request.args.get("access_token") or None
    return Call(method, _json_body(), access_token=token)


def _time_param(params: dict[str, Any], name: str) -> int:
    try:
        return parse_cst(str_param(params, name))
    except ValueError:
        raise ApiError("parameter", f"{name} must be yyyy-MM-dd HH:mm:ss") from None


def _trades(ctx: Ctx) -> dict[str, Any]:
    params = ctx.params
    start = _time_param(params, "start_update")
    end = _time_param(params, "end_update")
    check_window(ctx.data, start, end)
    number = int_param(params, "page_no", 1, 1)
    size = page_size(params, "page_size", 20)
    wanted = params.get("status")
    accept = (lambda order: status_fields(order)[0] == wanted) if wanted else None
    rows, total = list_page(ctx, start, end, number - 1, size, render_order, accept=accept)
    return _envelope({"total_results": total, "full_order_info_list": rows})


def _confirm(ctx: Ctx) -> dict[str, Any]:
    tid = str_param(ctx.params, "tid")
    company = str_param(ctx.params, "out_stype")
    tracking_no = str_param(ctx.params, "out_sid")
    assert ctx.shop_id is not None
    order = ctx.data.shop_order(ctx.shop_id, tid)
    if order is None:
        raise ApiError("business", f"订单不存在: {tid}")
    try:
        ctx.data.ship(order, company, tracking_no, ctx.now)
    except ValueError:
        raise ApiError("business", f"订单状态为{status_fields(order)[0]}，不能发货") from None
    return _envelope({"is_success": True})


API = Api(
    platform=PLATFORM,
    authenticate=_authenticate,
    methods={TRADES: Method(_trades), CONFIRM: Method(_confirm)},
    render_error=_render_error,
    strip_list=_strip_list,
)


# ---- silent authorisation


def _token_authenticate(sb: Sandbox) -> Call:
    client_id, secret = sb.platform_apps[PLATFORM]
    body = _json_body()
    if body.get("client_id") != client_id or body.get("client_secret") != secret:
        raise ApiError("app_key", "client_id or client_secret is wrong")
    if body.get("authorize_type") == "authorization_code":
        return Call("auth.code", body)
    if body.get("authorize_type") != "silent":
        raise ApiError("parameter", "authorize_type must be silent or authorization_code")
    grant_id = str_param(body, "grant_id")
    return Call("auth.token", body, shop_hint=grant_id)


def _token(ctx: Ctx) -> dict[str, Any]:
    shop = ctx.data.shops.get(str(ctx.call.shop_hint))
    if shop is None or shop.access_token is None:
        raise ApiError("refresh_token", f"店铺 {ctx.call.shop_hint} 未授权该应用")
    refresh = ctx.params.get("refresh", False)
    if refresh not in (True, False):
        raise ApiError("parameter", "refresh must be true or false")
    if refresh or ctx.data.valid_shop(shop.access_token, ctx.now) is None:
        ctx.data.rotate(shop, ctx.now)  # a valid token is handed out again unless refresh
    data = {
        "access_token": shop.access_token,
        "expires": shop.expires_at * 1000,
        "scope": "trade logistics",
        "authority_id": str(shop.shop_id),
    }
    return _envelope(data)


def _code(ctx: Ctx) -> dict[str, Any]:
    """A tool app's code exchange: a token and a refresh token for the shop (authority_id is
    its kdt_id; the answer names no shop name)."""
    params = ctx.params
    shop = redeem(ctx.data, str_param(params, "code"), str_param(params, "redirect_uri"), ctx.now)
    data = {
        "access_token": shop.access_token,
        "expires": shop.expires_at * 1000,
        "scope": "trade logistics",
        "authority_id": str(shop.shop_id),
        "refresh_token": f"yz_rt_{secrets.token_hex(16)}",
    }
    return _envelope(data)


TOKEN_API = Api(
    platform=PLATFORM,
    authenticate=_token_authenticate,
    methods={
        "auth.token": Method(_token, needs_token=False),
        "auth.code": Method(_code, needs_token=False),
    },
    render_error=_render_error,
)


@bp.post("/auth/token")
def auth_token():
    return serve(TOKEN_API)


@bp.post("/api/<api>/<version>")
def api(api: str, version: str):
    return serve(API)
