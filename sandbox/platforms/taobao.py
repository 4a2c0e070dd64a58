"""Taobao / Tmall TOP stand-in: `POST /platforms/taobao/router/rest`, form-encoded.

System params `method, app_key, session, timestamp ("yyyy-MM-dd HH:mm:ss"), v=2.0, sign_method,
format=json, sign`; business params beside them. The signature covers every parameter but `sign`
(md5, hmac or hmac-sha256). Amounts in yuan strings, times Asia/Shanghai strings, pages from 1,
phones masked. As on TOP, business refusals come as code 15 with an `isv.*` sub_code, transient
faults as code 15 with an `isp.*` sub_code.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import quote

from flask import Blueprint

from ..context import Sandbox
from .formats import (
    cst,
    mask_detail,
    mask_name,
    mask_phone,
    parse_cst,
    product_code,
    product_number,
    receiver,
    yuan,
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
from .signing import same, top_sign
from .store import PlatformData

PLATFORM = "taobao"
bp = Blueprint("platform_taobao", __name__, url_prefix="/platforms/taobao")

SYSTEM_PARAMS = frozenset(
    ("method", "app_key", "session", "timestamp", "v", "sign_method", "sign", "format")
    + ("simplify", "partner_id", "target_app_key")
)
SIGN_METHODS = ("md5", "hmac", "hmac-sha256")
FULFILMENT_STATUS = {
    "PAID": "WAIT_SELLER_SEND_GOODS",
    "SHIPPED": "WAIT_BUYER_CONFIRM_GOODS",
    "COMPLETED": "TRADE_FINISHED",
}
REFRESH_TOKEN_SECONDS = 30 * 24 * 3600  # what the token answer claims (refresh tokens here live on)

# kind -> (code, msg, sub_code or None)
ERRORS = {
    "token": (27, "Invalid session", "invalid-sessionkey"),
    "signature": (25, "Invalid signature", None),
    "app_key": (29, "Invalid app Key", None),
    "timestamp": (43, "Invalid timestamp", None),
    "missing": (40, "Missing required arguments", "isv.missing-parameter"),
    "parameter": (41, "Invalid arguments", "isv.invalid-parameter"),
    "window": (41, "Invalid arguments", "isv.invalid-parameter"),
    "method": (22, "Invalid method", None),
    "refresh_token": (15, "Remote service error", "isv.refresh-token-invalid"),
    "business": (15, "Remote service error", "isv.logistics-offline-service-error"),
    "server_error": (15, "Remote service error", "isp.top-remote-connection-timeout"),
    "rate_limited": (7, "App Call Limited", "accesscontrol.limited-by-app-access-count"),
}


def status_fields(order: Order) -> tuple[str, str]:
    """(trade status, order-line refund_status)."""
    if order.status == "UNPAID":
        return "WAIT_BUYER_PAY", "NO_REFUND"
    if order.status == "CANCELLED":
        return "TRADE_CLOSED_BY_TAOBAO", "NO_REFUND"
    if order.status == "REFUNDED":
        return "TRADE_CLOSED", "SUCCESS"
    status = FULFILMENT_STATUS[order.fulfilment]
    if order.status == "REFUNDING":
        waiting = "WAIT_SELLER_AGREE" if order.fulfilment == "PAID" else "WAIT_BUYER_RETURN_GOODS"
        return status, waiting
    return status, "NO_REFUND"


def _request_id() -> str:
    return secrets.token_hex(7)


def render_order(order: Order, data: PlatformData) -> dict[str, Any]:
    status, refund = status_fields(order)
    buyer = receiver(order.seq)
    tid = int(order.order_id)
    lines = []
    for number, item in enumerate(order.items, 1):
        line_fen = item.unit_price_fen * item.quantity
        line = {
            "oid": tid + number,
            "num_iid": product_number(PLATFORM, product_code(item.outer_id), 12),
            "sku_id": str(product_number(PLATFORM, item.outer_id, 13)),
            "outer_sku_id": item.outer_id,
            "outer_iid": product_code(item.outer_id),
            "title": item.title,
            "num": item.quantity,
            "price": yuan(item.unit_price_fen),
            "total_fee": yuan(line_fen),
            "payment": yuan(line_fen),
            "status": status,
            "refund_status": refund,
        }
        if order.tracking_no:
            line["invoice_no"] = order.tracking_no
            line["logistics_company"] = order.company
            line["consign_time"] = cst(order.ship_time)
        lines.append(line)
    trade = {
        "tid": tid,
        "status": status,
        "type": "fixed",
        "seller_nick": data.shops[order.shop_id].name,
        "buyer_nick": f"t**{order.seq % 10}",
        "created": cst(order.create_time),
        "modified": cst(order.update_time),
        "total_fee": yuan(order.goods_fen),
        "post_fee": yuan(order.post_fee_fen),
        "payment": yuan(order.total_fen),
        "receiver_name": mask_name(buyer["name"]),
        "receiver_mobile": mask_phone(buyer["phone"]),
        "receiver_state": buyer["province"],
        "receiver_city": buyer["city"],
        "receiver_district": buyer["district"],
        "receiver_address": mask_detail(buyer["detail"]),
        "orders": {"order": lines},
    }
    if order.pay_time:  # TOP leaves out what has not happened
        trade["pay_time"] = cst(order.pay_time)
    if order.tracking_no:
        trade["consign_time"] = cst(order.ship_time)
    return trade


def _render_error(error: ApiError) -> tuple[dict[str, Any], int]:
    code, msg, sub_code = ERRORS[error.kind]
    body: dict[str, Any] = {"code": code, "msg": msg}
    if sub_code:
        body["sub_code"] = sub_code
    if error.kind == "rate_limited":
        body["sub_msg"] = "This ban will last for 1 more seconds"
    elif error.message:
        body["sub_msg"] = error.message
    body["request_id"] = _request_id()
    return {"error_response": body}, 200


def _strip_list(body: dict[str, Any]) -> bool:
    answer = body.get("trades_sold_increment_get_response")
    return isinstance(answer, dict) and answer.pop("trades", None) is not None


def _authenticate(sb: Sandbox) -> Call:
    app_key, secret = sb.platform_apps[PLATFORM]
    params = form_params()
    if params.get("app_key") != app_key:
        raise ApiError("app_key", "unknown app_key")
    method = params.get("method")
    if not method:
        raise ApiError("method", "method is required")
    if params.get("sign_method", "md5") not in SIGN_METHODS:
        raise ApiError("signature", "unsupported sign_method")
    if not same(params.get("sign"), top_sign(secret, params)):
        raise ApiError("signature", "sign does not match")
    timestamp = params.get("timestamp", "")
    try:
        if timestamp.isdigit():  # the SDKs may send epoch milliseconds
            unix = int(timestamp) / 1000 if len(timestamp) > 11 else int(timestamp)
        else:
            unix = parse_cst(timestamp)
    except ValueError:
        raise ApiError("timestamp", "timestamp must be yyyy-MM-dd HH:mm:ss") from None
    check_skew(unix, PLATFORM)
    if params.get("v") != "2.0":
        raise ApiError("parameter", "v must be 2.0")
    if params.get("format") != "json":
        raise ApiError("parameter", "the sandbox answers format=json only")
    business = {k: v for k, v in params.items() if k not in SYSTEM_PARAMS}
    if method == "taobao.top.auth.token.refresh":
        return Call(method, business, refresh_token=business.get("refresh_token"))
    return Call(method, business, access_token=params.get("session") or None)


def _time_param(params: dict[str, Any], name: str) -> int:
    try:
        return parse_cst(str_param(params, name))
    except ValueError:
        raise ApiError("parameter", f"{name} must be yyyy-MM-dd HH:mm:ss") from None


def _increment_get(ctx: Ctx) -> dict[str, Any]:
    params = ctx.params
    str_param(params, "fields")
    start = _time_param(params, "start_modified")
    end = _time_param(params, "end_modified")
    check_window(ctx.data, start, end)
    number = int_param(params, "page_no", 1, 1)
    size = page_size(params, "page_size", 40)
    bool_param(params, "use_has_next", False)
    wanted = params.get("status")
    accept = (lambda order: status_fields(order)[0] == wanted) if wanted else None
    rows, total = list_page(ctx, start, end, number - 1, size, render_order, accept=accept)
    answer = {
        "total_results": total,
        "has_next": number * size < total,
        "trades": {"trade": rows},
        "request_id": _request_id(),
    }
    return {"trades_sold_increment_get_response": answer}


def _token_refresh(ctx: Ctx) -> dict[str, Any]:
    shop = ctx.data.refresh(str_param(ctx.params, "refresh_token"), ctx.now)
    if shop is None:
        raise ApiError("refresh_token", "refresh_token无效或已被使用")
    ttl = ctx.data.config.token_ttl_seconds
    now_ms = int(ctx.now * 1000)
    result = {
        "access_token": shop.access_token,
        "refresh_token": shop.refresh_token,
        "expires_in": ttl,
        "re_expires_in": REFRESH_TOKEN_SECONDS,
        "expire_time": now_ms + ttl * 1000,
        "refresh_token_valid_time": now_ms + REFRESH_TOKEN_SECONDS * 1000,
        "taobao_user_id": shop.shop_id,
        "taobao_user_nick": shop.name,
        "token_type": "Bearer",
    }
    token_result = json.dumps(result, ensure_ascii=False)
    answer = {"token_result": token_result, "request_id": _request_id()}
    return {"top_auth_token_refresh_response": answer}


def _offline_send(ctx: Ctx) -> dict[str, Any]:
    tid = str_param(ctx.params, "tid")
    tracking_no = str_param(ctx.params, "out_sid")
    company = str_param(ctx.params, "company_code")
    assert ctx.shop_id is not None
    order = ctx.data.shop_order(ctx.shop_id, tid)
    if order is None:
        raise ApiError("business", f"交易不存在: {tid}")
    try:
        ctx.data.ship(order, company, tracking_no, ctx.now)
    except ValueError:
        status = status_fields(order)[0]
        raise ApiError("business", f"交易状态为{status}，不能发货") from None
    answer = {"shipping": {"is_success": True}, "request_id": _request_id()}
    return {"logistics_offline_send_response": answer}


API = Api(
    platform=PLATFORM,
    authenticate=_authenticate,
    methods={
        "taobao.trades.sold.increment.get": Method(_increment_get),
        "taobao.top.auth.token.refresh": Method(_token_refresh, needs_token=False),
        "taobao.logistics.offline.send": Method(_offline_send),
    },
    render_error=_render_error,
    strip_list=_strip_list,
)


# ---- OAuth: POST https://oauth.taobao.com/token (form), RFC 6749 error answers. The error
# names are the standard's; TOP's exact error_description wording is UNVERIFIED.
OAUTH_ERRORS = {
    "app_key": (401, "invalid_client", "client_id or client_secret is invalid"),
    "code": (400, "invalid_grant", "authorize code is invalid, used or expired"),
    "redirect_uri": (400, "invalid_grant", "redirect_uri does not match"),
    "missing": (400, "invalid_request", "missing parameter"),
    "parameter": (400, "unsupported_grant_type", "grant_type must be authorization_code"),
    "rate_limited": (429, "temporarily_unavailable", "too many requests"),
    "server_error": (503, "temporarily_unavailable", "service unavailable"),
}


def _oauth_authenticate(sb: Sandbox) -> Call:
    app_key, secret = sb.platform_apps[PLATFORM]
    params = form_params()
    if params.get("client_id") != app_key or params.get("client_secret") != secret:
        raise ApiError("app_key", "client_id or client_secret is invalid")
    if params.get("grant_type") != "authorization_code":
        raise ApiError("parameter", "grant_type must be authorization_code")
    return Call("oauth.token", params)


def _oauth_token(ctx: Ctx) -> dict[str, Any]:
    code, redirect_uri = str_param(ctx.params, "code"), str_param(ctx.params, "redirect_uri")
    shop = redeem(ctx.data, code, redirect_uri, ctx.now)
    ttl = ctx.data.config.token_ttl_seconds
    answer: dict[str, Any] = {
        "access_token": shop.access_token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "refresh_token": shop.refresh_token,
        "re_expires_in": REFRESH_TOKEN_SECONDS,
        "taobao_user_id": shop.shop_id,
        "taobao_user_nick": quote(shop.name),  # URL-encoded, as TOP sends it
        "sub_taobao_user_id": "",
        "sub_taobao_user_nick": "",
    }
    for scope in ("r1", "r2", "w1", "w2"):
        answer[f"{scope}_expires_in"] = ttl
    return answer


def _oauth_error(error: ApiError) -> tuple[dict[str, Any], int]:
    status, name, description = OAUTH_ERRORS.get(error.kind, OAUTH_ERRORS["missing"])
    return {"error": name, "error_description": error.message or description}, status


OAUTH_API = Api(
    platform=PLATFORM,
    authenticate=_oauth_authenticate,
    methods={"oauth.token": Method(_oauth_token, needs_token=False)},
    render_error=_oauth_error,
)


@bp.post("/router/rest")
def router():
    return serve(API)


@bp.post("/oauth/token")
def oauth_token():
    return serve(OAUTH_API)
