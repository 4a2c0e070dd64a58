"""JD JOS stand-in: `POST /platforms/jd/routerjson` (form: `method, app_key, access_token,
timestamp, v=2.0, 360buy_param_json, sign`) and the OAuth refresh `POST
/platforms/jd/oauth2/refresh_token` (query `app_key, app_secret, grant_type=refresh_token,
refresh_token`).

The MD5 signature covers every form parameter but `sign`, `360buy_param_json` included as sent.
JD lists only paid orders; amounts are yuan strings, times Asia/Shanghai strings, pages from 1.
A refused shipment answers `success: false` inside the normal response, as JD does.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import Blueprint, request

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

PLATFORM = "jd"
bp = Blueprint("platform_jd", __name__, url_prefix="/platforms/jd")

FULFILMENT_STATE = {
    "PAID": "WAIT_SELLER_STOCK_OUT",
    "SHIPPED": "WAIT_GOODS_RECEIVE_CONFIRM",
    "COMPLETED": "FINISHED_L",
}
STATE_REMARK = {
    "WAIT_SELLER_STOCK_OUT": "等待出库",
    "WAIT_GOODS_RECEIVE_CONFIRM": "等待确认收货",
    "FINISHED_L": "完成",
    "LOCKED": "已锁定",
    "TRADE_CANCELED": "取消",
}
SEARCH = "jingdong.pop.order.search"
SHIPMENT = "jingdong.pop.order.shipment"
VENDER_INFO = "jingdong.seller.vender.info.get"

# kind -> (code, zh_desc, en_desc)
ERRORS = {
    "token": ("19", "token已过期或者不存在，请重新授权访问", "Invalid access_token"),
    "signature": ("14", "签名无效", "Invalid signature"),
    "app_key": ("15", "app_key无效", "Invalid app_key"),
    "timestamp": ("13", "时间戳无效，与服务器时间相差超过10分钟", "Invalid timestamp"),
    "missing": ("67", "缺少参数", "Missing parameter"),
    "parameter": ("67", "参数错误", "Invalid parameter"),
    "window": ("67", "参数错误：时间跨度不能超过31天", "Invalid parameter"),
    "method": ("67", "方法不存在", "Invalid method"),
    "refresh_token": ("67", "refresh_token无效", "Invalid refresh_token"),
    "business": ("67", "业务处理失败", "Business error"),
    "server_error": ("66", "服务繁忙，请稍后再试", "Service busy"),
    "rate_limited": ("70", "调用频率超限", "Call frequency limit exceeded"),
}
# the OAuth host answers `{"code": 4xx/5xx, "msg"}`; rate limiting also as HTTP 429
OAUTH_ERRORS = {
    "app_key": (401, "app_key或app_secret错误"),
    "refresh_token": (402, "refresh_token无效或已过期"),
    "code": (403, "code无效或已过期"),
    "rate_limited": (429, "调用过于频繁"),
    "server_error": (500, "服务繁忙，请稍后再试"),
}


def order_state(order: Order) -> str | None:
    """orderState; None for an order JD does not show (never paid)."""
    if order.pay_time == 0:
        return None
    if order.status == "REFUNDING":
        return "LOCKED"
    if order.status == "REFUNDED":
        return "TRADE_CANCELED"
    return FULFILMENT_STATE[order.status]


def render_order(order: Order, data: PlatformData) -> dict[str, Any]:
    state = order_state(order)
    buyer = receiver(order.seq)
    items = [
        {
            "skuId": str(product_number(PLATFORM, item.outer_id, 11)),
            "outerSkuId": item.outer_id,
            "wareId": str(product_number(PLATFORM, product_code(item.outer_id), 11)),
            "skuName": item.title,
            "itemTotal": str(item.quantity),
            "jdPrice": yuan(item.unit_price_fen),
        }
        for item in order.items
    ]
    place = buyer["province"] + buyer["city"] + buyer["district"]
    return {
        "orderId": order.order_id,
        "venderId": order.shop_id,
        "orderType": "22",
        "payType": "4-在线支付",
        "orderState": state,
        "orderStateRemark": STATE_REMARK.get(state or "", "等待付款"),
        "orderStartTime": cst(order.create_time),
        "modified": cst(order.update_time),
        "paymentConfirmTime": cst(order.pay_time) if order.pay_time else "",
        "orderTotalPrice": yuan(order.goods_fen),
        "orderSellerPrice": yuan(order.goods_fen),
        "orderPayment": yuan(order.total_fen),
        "freightPrice": yuan(order.post_fee_fen),
        "consigneeInfo": {
            "fullname": mask_name(buyer["name"]),
            "mobile": mask_phone(buyer["phone"]),
            "telephone": mask_phone(buyer["phone"]),
            "province": buyer["province"],
            "city": buyer["city"],
            "county": buyer["district"],
            "fullAddress": place + mask_detail(buyer["detail"]),
        },
        "itemInfoList": items,
        "waybill": order.tracking_no or "",
        "logisticsId": order.company or "",
    }


def _response_key(method: str) -> str:
    return method.replace(".", "_") + "_responce"  # sic: JD spells it so


def _render_error(error: ApiError) -> tuple[dict[str, Any], int]:
    code, zh_desc, en_desc = ERRORS[error.kind]
    if error.message:
        zh_desc = f"{zh_desc}: {error.message}"
    return {"error_response": {"code": code, "zh_desc": zh_desc, "en_desc": en_desc}}, 200


def _strip_list(body: dict[str, Any]) -> bool:
    answer = body.get(_response_key(SEARCH)) or {}
    result = answer.get("searchorderinfo_result")
    return isinstance(result, dict) and result.pop("orderInfoList", None) is not None


def _authenticate(sb: Sandbox) -> Call:
    app_key, secret = sb.platform_apps[PLATFORM]
    params = form_params()
    if params.get("app_key") != app_key:
        raise ApiError("app_key", "unknown app_key")
    if not same(params.get("sign"), wrapped_md5(secret, params)):
        raise ApiError("signature", "sign does not match")
    try:
        check_skew(parse_cst(params.get("timestamp", "")), PLATFORM)
    except ValueError:
        raise ApiError("timestamp", "timestamp must be yyyy-MM-dd HH:mm:ss") from None
    method = params.get("method")
    if not method:
        raise ApiError("method", "method is required")
    try:
        business = json.loads(params.get("360buy_param_json") or "{}")
    except ValueError:
        raise ApiError("parameter", "360buy_param_json is not JSON") from None
    if not isinstance(business, dict):
        raise ApiError("parameter", "360buy_param_json must be a JSON object")
    wrapped = business.get("paramOrderJSFQuery")  # the 2026 request container, tolerated
    if len(business) == 1 and isinstance(wrapped, dict):
        business = wrapped
    return Call(method, business, access_token=params.get("access_token") or None)


def _time_param(params: dict[str, Any], name: str) -> int:
    try:
        return parse_cst(str_param(params, name))
    except ValueError:
        raise ApiError("parameter", f"{name} must be yyyy-MM-dd HH:mm:ss") from None


def _search(ctx: Ctx) -> dict[str, Any]:
    params = ctx.params
    start = _time_param(params, "start_date")
    end = _time_param(params, "end_date")
    check_window(ctx.data, start, end)
    if int_param(params, "dateType", 0, 0, 1) != 0:
        raise ApiError("parameter", "the sandbox searches by modified time only (dateType=0)")
    descending = int_param(params, "sortType", 0) == 1
    str_param(params, "optional_fields")
    number = int_param(params, "page", 1, 1)
    size = page_size(params, "page_size", 20)
    accept = None
    if params.get("order_state"):
        states = {s.strip() for s in str(params["order_state"]).split(",")}
        if not set(STATE_REMARK) <= states:
            accept = lambda order: order_state(order) in states  # noqa: E731
    rows, total = list_page(ctx, start, end, number - 1, size, render_order, descending, accept)
    result = {
        "apiResult": {"success": True, "numberCode": 10100000, "chineseErrCode": "成功"},
        "orderTotal": total,
        "orderInfoList": rows,
    }
    return {_response_key(SEARCH): {"code": "0", "searchorderinfo_result": result}}


def _shipment(ctx: Ctx) -> dict[str, Any]:
    order_id = str_param(ctx.params, "order_id")
    company = str_param(ctx.params, "logi_coprId")
    tracking_no = str_param(ctx.params, "logi_no")
    assert ctx.shop_id is not None
    order = ctx.data.shop_order(ctx.shop_id, order_id)
    result: dict[str, Any] = {"success": True, "errorCode": "", "chineseErrCode": "成功"}
    if order is None or order.pay_time == 0:
        result = {"success": False, "errorCode": "10400001", "chineseErrCode": "订单不存在"}
    else:
        try:
            ctx.data.ship(order, company, tracking_no, ctx.now)
        except ValueError:
            remark = STATE_REMARK.get(order_state(order) or "", "")
            message = f"订单状态不正确({remark})，不能出库"
            result = {"success": False, "errorCode": "10400002", "chineseErrCode": message}
    if not result["success"]:
        ctx.outcome = "business"
    return {_response_key(SHIPMENT): {"code": "0", "sopjosshipment_result": result}}


def _vender_info(ctx: Ctx) -> dict[str, Any]:
    """The shop the access token acts for: JD's token answer names a user (open_id), not a
    shop. Response field names from memory of JOS's VenderBasicVO: UNVERIFIED."""
    assert ctx.shop_id is not None
    shop = ctx.data.shops[ctx.shop_id]
    result = {"vender_id": shop.shop_id, "shop_id": shop.shop_id, "shop_name": shop.name}
    return {_response_key(VENDER_INFO): {"code": "0", "vender_info_result": result}}


API = Api(
    platform=PLATFORM,
    authenticate=_authenticate,
    methods={
        SEARCH: Method(_search),
        SHIPMENT: Method(_shipment),
        VENDER_INFO: Method(_vender_info),
    },
    render_error=_render_error,
    strip_list=_strip_list,
)


# ---- OAuth (open-oauth.jd.com in production)


def _oauth_authenticate(sb: Sandbox) -> Call:
    app_key, secret = sb.platform_apps[PLATFORM]
    params = form_params()
    if params.get("app_key") != app_key or params.get("app_secret") != secret:
        raise ApiError("app_key", "app_key or app_secret is wrong")
    if request.path.endswith("/access_token"):
        if params.get("grant_type") != "authorization_code":
            raise ApiError("parameter", "grant_type must be authorization_code")
        return Call("oauth2.access_token", {"code": str_param(params, "code")})
    if params.get("grant_type") != "refresh_token":
        raise ApiError("parameter", "grant_type must be refresh_token")
    token = str_param(params, "refresh_token")
    return Call("oauth2.refresh_token", {"refresh_token": token}, refresh_token=token)


def _oauth_refresh(ctx: Ctx) -> dict[str, Any]:
    shop = ctx.data.refresh(str(ctx.params["refresh_token"]), ctx.now)
    if shop is None:
        raise ApiError("refresh_token", "refresh_token is unknown or was used")
    return _oauth_answer(ctx, shop)


def _oauth_access_token(ctx: Ctx) -> dict[str, Any]:
    """The code from to_login (single use, expires); the exchange carries no redirect_uri."""
    return _oauth_answer(ctx, redeem(ctx.data, str(ctx.params["code"]), None, ctx.now))


def _oauth_answer(ctx: Ctx, shop) -> dict[str, Any]:
    return {
        "code": 0,
        "access_token": shop.access_token,
        "expires_in": ctx.data.config.token_ttl_seconds,
        "refresh_token": shop.refresh_token,
        "scope": "snsapi_base",
        "open_id": f"jd_{shop.shop_id}",
        "uid": shop.shop_id,
        "time": int(ctx.now * 1000),
        "token_type": "bearer",
        "xid": "o*" + secrets.token_hex(8),
    }


def _oauth_error(error: ApiError) -> tuple[dict[str, Any], int]:
    code, msg = OAUTH_ERRORS.get(error.kind, (400, "参数错误"))
    if error.message:
        msg = f"{msg}: {error.message}"
    return {"code": code, "msg": msg}, 429 if code == 429 else 200


OAUTH_API = Api(
    platform=PLATFORM,
    authenticate=_oauth_authenticate,
    methods={
        "oauth2.refresh_token": Method(_oauth_refresh, needs_token=False),
        "oauth2.access_token": Method(_oauth_access_token, needs_token=False),
    },
    render_error=_oauth_error,
)


@bp.post("/routerjson")
def router():
    return serve(API)


@bp.post("/oauth2/refresh_token")
def oauth_refresh():
    return serve(OAUTH_API)


@bp.route("/oauth2/access_token", methods=["GET", "POST"])
def oauth_access_token():
    return serve(OAUTH_API)
