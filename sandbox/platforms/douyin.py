"""Douyin shop (抖店) open platform stand-in: `POST /platforms/douyin/{method as path}`.

Query `app_key, method, access_token, timestamp (unix s), v=2, sign_method, sign`; the body is
`param_json`. The gateway re-serialises the body canonically (sorted keys, compact, non-ASCII
kept) before checking the HMAC-SHA256 (or md5) signature. Amounts in fen, times unix seconds,
pages from 0, PII as `encrypt_*` ciphertexts.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from flask import Blueprint, request

from ..context import Sandbox
from .formats import douyin_cipher, parse_cst, product_code, product_number, receiver
from .gateway import (
    Api,
    ApiError,
    Call,
    Ctx,
    Method,
    bool_param,
    check_skew,
    check_window,
    int_param,
    list_page,
    page_size,
    serve,
    str_param,
)
from .oauth import redeem
from .orders import Order
from .signing import canonical_json, douyin_sign, same
from .store import PlatformData

PLATFORM = "douyin"
PREFIX = "/platforms/douyin"
bp = Blueprint("platform_douyin", __name__, url_prefix=PREFIX)

STATUS_DESC = {
    1: "待支付",
    105: "已支付",
    2: "备货中",
    101: "部分发货",
    3: "已发货",
    4: "已取消",
    5: "已完成",
}
FULFILMENT_STATUS = {"PAID": 2, "SHIPPED": 3, "COMPLETED": 5}
AFTER_SALE_STATUS = {0: 0, 1: 6, 3: 12}  # refund_status -> after_sale_status (申请中 / 成功)
COMPANY_NAMES = {"shunfeng": "顺丰速运", "zhongtong": "中通快递", "yuantong": "圆通速递"}

# kind -> (code, msg, sub_code); codes marked in docs/platforms.md as sandbox choices
ERRORS = {
    "token": (30001, "授权已过期", "isv.access-token-expired"),
    "signature": (40004, "签名错误", "isv.signature-invalid"),
    "app_key": (40004, "app_key不存在", "isv.app-key-invalid"),
    "timestamp": (40005, "时间戳错误", "isv.timestamp-invalid"),
    "missing": (40003, "参数错误", "isv.parameter-invalid"),
    "parameter": (40003, "参数错误", "isv.parameter-invalid"),
    "window": (40003, "参数错误", "isv.parameter-invalid"),
    "method": (40003, "参数错误", "isv.method-invalid"),
    "refresh_token": (40003, "参数错误", "isv.refresh-token-invalid"),
    "code": (40003, "参数错误", "isv.auth-code-invalid"),
    "redirect_uri": (40003, "参数错误", "isv.redirect-uri-invalid"),
    "business": (40003, "业务处理失败", "isv.business-failed"),
    "server_error": (50001, "服务异常", "isp.service-error"),
    "rate_limited": (50002, "调用频率超限", "isv.rate-limited"),
}


def status_fields(order: Order) -> tuple[int, int]:
    """(order_status, after_sale_info.refund_status) of an order."""
    if order.status == "UNPAID":
        return 1, 0
    if order.status == "CANCELLED":
        return 4, 0  # never paid: pay_time stays 0
    if order.status == "REFUNDED":
        return 4, 3
    code = FULFILMENT_STATUS[order.fulfilment]
    if code == 2 and order.seq % 2:
        code = 105  # 已支付 and 备货中 both mean paid; show both so clients map both
    return code, 1 if order.status == "REFUNDING" else 0


def _shop_id(shop_id: str) -> int | str:
    return int(shop_id) if shop_id.isdigit() else shop_id


def render_order(order: Order, data: PlatformData) -> dict[str, Any]:
    status, refund = status_fields(order)
    after_sale = {"after_sale_status": AFTER_SALE_STATUS[refund], "refund_status": refund}
    buyer = receiver(order.seq)
    skus = []
    for number, item in enumerate(order.items, 1):
        line = item.unit_price_fen * item.quantity
        skus.append(
            {
                "order_id": str(int(order.order_id) + number),
                "parent_order_id": order.order_id,
                "product_id": product_number(PLATFORM, product_code(item.outer_id), 19),
                "product_name": item.title,
                "sku_id": product_number(PLATFORM, item.outer_id, 16),
                "out_sku_id": item.outer_id,
                "out_product_id": product_code(item.outer_id),
                "item_num": item.quantity,
                "goods_price": item.unit_price_fen,
                "origin_amount": line,
                "pay_amount": line,
                "order_status": status,
                "after_sale_info": dict(after_sale),
            }
        )
    logistics = []
    if order.tracking_no:
        logistics.append(
            {
                "tracking_no": order.tracking_no,
                "company": order.company,
                "company_name": COMPANY_NAMES.get(order.company or "", order.company),
                "ship_time": order.ship_time,
            }
        )
    return {
        "order_id": order.order_id,
        "shop_id": _shop_id(order.shop_id),
        "order_status": status,
        "order_status_desc": STATUS_DESC[status],
        "main_status": status,
        "main_status_desc": STATUS_DESC[status],
        "create_time": order.create_time,
        "update_time": order.update_time,
        "pay_time": order.pay_time,
        "finish_time": order.update_time if order.status == "COMPLETED" else 0,
        "order_amount": order.total_fen,
        "pay_amount": order.total_fen,
        "post_amount": order.post_fee_fen,
        "buyer_words": "",
        "seller_words": "",
        "encrypt_post_receiver": douyin_cipher(buyer["name"]),
        "encrypt_post_tel": douyin_cipher(buyer["phone"]),
        "post_addr": {
            "province": {"name": buyer["province"], "id": "37"},
            "city": {"name": buyer["city"], "id": "3710"},
            "town": {"name": buyer["district"], "id": "371083"},
            "encrypt_detail": douyin_cipher(buyer["detail"]),
        },
        "sku_order_list": skus,
        "after_sale_info": after_sale,
        "logistics_info": logistics,
    }


def _envelope(
    data: Any, code: int = 10000, msg: str = "success", sub_code: str = "", sub_msg: str = ""
):
    log_id = time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()
    return {
        "log_id": log_id,
        "code": code,
        "msg": msg,
        "sub_code": sub_code,
        "sub_msg": sub_msg,
        "data": data,
    }


def _render_error(error: ApiError) -> tuple[dict[str, Any], int]:
    code, msg, sub_code = ERRORS[error.kind]
    return _envelope(None, code, msg, sub_code, error.message), 200


def _strip_list(body: dict[str, Any]) -> bool:
    data = body.get("data")
    return isinstance(data, dict) and data.pop("shop_order_list", None) is not None


def _authenticate(sb: Sandbox) -> Call:
    app_key, secret = sb.platform_apps[PLATFORM]
    query = request.args
    path_method = request.path[len(PREFIX) + 1 :].replace("/", ".")
    method = query.get("method") or path_method
    if method != path_method:
        raise ApiError("parameter", f"method {method} does not match the path")
    if query.get("app_key") != app_key:
        raise ApiError("app_key", "unknown app_key")
    try:
        raw = request.get_data().decode("utf-8")
        params = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise ApiError("parameter", "param_json is not JSON") from None
    if not isinstance(params, dict):
        raise ApiError("parameter", "param_json must be a JSON object")
    timestamp, v = query.get("timestamp", ""), query.get("v", "")
    sign_method = query.get("sign_method", "md5")
    if sign_method not in ("hmac-sha256", "md5"):
        raise ApiError("signature", f"unsupported sign_method {sign_method}")
    expected = douyin_sign(
        secret,
        app_key=app_key,
        method=method,
        param_json=canonical_json(params),
        timestamp=timestamp,
        v=v,
        sign_method=sign_method,
    )
    if not same(query.get("sign"), expected):
        raise ApiError("signature", "sign does not match")
    if v != "2":
        raise ApiError("parameter", "v must be 2")
    _check_timestamp(timestamp)
    if method == "token.refresh":
        token = params.get("refresh_token")
        return Call(method, params, refresh_token=token if isinstance(token, str) else None)
    return Call(method, params, access_token=query.get("access_token") or None)


def _check_timestamp(timestamp: str) -> None:
    try:
        unix = int(timestamp) if timestamp.isdigit() else parse_cst(timestamp)
    except ValueError:
        raise ApiError("timestamp", "timestamp is not unix seconds") from None
    check_skew(unix, PLATFORM)


def _search_list(ctx: Ctx) -> dict[str, Any]:
    params = ctx.params
    start = int_param(params, "update_time_start")
    end = int_param(params, "update_time_end")
    check_window(ctx.data, start, end)
    if params.get("order_by", "update_time") != "update_time":
        raise ApiError("parameter", "the sandbox orders by update_time only")
    ascending = bool_param(params, "order_asc", False)
    number = int_param(params, "page", 0, 0)
    size = page_size(params, "size", 10)
    rows, total = list_page(ctx, start, end, number, size, render_order, desc=not ascending)
    return _envelope({"page": number, "size": size, "total": total, "shop_order_list": rows})


def _token_refresh(ctx: Ctx) -> dict[str, Any]:
    if ctx.params.get("grant_type") != "refresh_token":
        raise ApiError("parameter", "grant_type must be refresh_token")
    shop = ctx.data.refresh(str_param(ctx.params, "refresh_token"), ctx.now)
    if shop is None:
        raise ApiError("refresh_token", "refresh_token无效或已被使用")
    return _envelope(
        {
            "access_token": shop.access_token,
            "expires_in": ctx.data.config.token_ttl_seconds,
            "refresh_token": shop.refresh_token,
            "scope": "SCOPE",
            "shop_id": _shop_id(shop.shop_id),
            "shop_name": shop.name,
        }
    )


def _token_create(ctx: Ctx) -> dict[str, Any]:
    """token.create for a tool app: the code the authorise page gave the shop's browser (the
    callback was the service's registered one, so no redirect_uri here)."""
    if ctx.params.get("grant_type") != "authorization_code":
        raise ApiError("parameter", "grant_type must be authorization_code")
    shop = redeem(ctx.data, str_param(ctx.params, "code"), None, ctx.now)
    return _envelope(
        {
            "access_token": shop.access_token,
            "expires_in": ctx.data.config.token_ttl_seconds,
            "refresh_token": shop.refresh_token,
            "scope": "SCOPE",
            "shop_id": _shop_id(shop.shop_id),
            "shop_name": shop.name,
            "authority_id": shop.shop_id,
            "auth_subject_type": "MiniShop",
        }
    )


def _logistics_add(ctx: Ctx) -> dict[str, Any]:
    order_id = str_param(ctx.params, "order_id")
    company = str_param(ctx.params, "company_code")
    tracking_no = str_param(ctx.params, "logistics_code")
    assert ctx.shop_id is not None
    order = ctx.data.shop_order(ctx.shop_id, order_id)
    if order is None:
        raise ApiError("business", f"订单不存在: {order_id}")
    try:
        ctx.data.ship(order, company, tracking_no, ctx.now)
    except ValueError:
        status = STATUS_DESC[status_fields(order)[0]]
        raise ApiError("business", f"订单状态为{status}，不可发货") from None
    return _envelope({})


def _batch_decrypt(ctx: Ctx) -> dict[str, Any]:
    """order.batchDecrypt: the plain text of an order's `encrypt_*` values, for the shop that
    owns the order (auth_id is the order id). A ciphertext of another order, or of nothing the
    order holds, answers err_no 300008 for that item alone."""
    items = ctx.params.get("cipher_infos")
    if not isinstance(items, list) or not 1 <= len(items) <= 50:
        raise ApiError("missing", "cipher_infos must hold 1 to 50 items")
    assert ctx.shop_id is not None
    answers = []
    for item in items:
        if not isinstance(item, dict):
            raise ApiError("missing", "each cipher_info needs auth_id and cipher_text")
        auth_id, cipher = str(item.get("auth_id", "")), str(item.get("cipher_text", ""))
        order = ctx.data.shop_order(ctx.shop_id, auth_id)
        plain = None
        if order is not None:
            buyer = receiver(order.seq)
            plain = next(
                (value for value in buyer.values() if douyin_cipher(value) == cipher), None
            )
        answers.append(
            {
                "auth_id": auth_id,
                "cipher_text": cipher,
                "decrypt_text": plain or "",
                "err_no": 0 if plain is not None else 300008,
                "err_msg": "" if plain is not None else "密文不属于该订单",
            }
        )
    return _envelope({"decrypt_infos": answers, "custom_err": {"err_code": 0, "err_msg": ""}})


API = Api(
    platform=PLATFORM,
    authenticate=_authenticate,
    methods={
        "order.searchList": Method(_search_list),
        "token.refresh": Method(_token_refresh, needs_token=False),
        "token.create": Method(_token_create, needs_token=False),
        "order.logisticsAdd": Method(_logistics_add),
        "order.batchDecrypt": Method(_batch_decrypt),
    },
    render_error=_render_error,
    strip_list=_strip_list,
)


@bp.post("/<path:path>")
def gateway(path: str):
    return serve(API)
