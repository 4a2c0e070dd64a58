"""The live goods library: `wxaapi/broadcast/goods/add` (add and submit for audit),
`goods/audit` (resubmit) and `wxa/business/getgoodswarehouse` (audit status).

audit_status: 0 not audited, 1 under audit, 2 approved, 3 rejected. A submission is approved by
itself after `live_goods_audit_seconds` of sandbox time (None: never), or decided earlier by
`POST /sandbox/live/goods/{goodsId}/audit`. Callers hold the sandbox lock.
"""

from __future__ import annotations

from typing import Any

from . import media
from .context import Sandbox
from .errors import ControlError, WeChatError
from .live_common import body_object, is_int, spend_quota, text_width
from .wxa_state import Goods

NOT_AUDITED, UNDER_AUDIT, APPROVED, REJECTED = range(4)
PRICE_TYPES = (1, 2, 3)  # 1 fixed price, 2 range price..price2, 3 discount price -> price2
AUDIT_QUOTA_ERRMSG = "no audit quota left, 500 goods submissions per day"


def _fen(value: Any, key: str) -> int:
    """Prices arrive in yuan with at most two decimals; stored as integer fen."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise WeChatError(300003, f"invalid price, {key} must be a positive number")
    fen = round(value * 100)
    if abs(fen - value * 100) > 1e-6:
        raise WeChatError(300003, f"invalid price, {key} has more than 2 decimals")
    return fen


def _check_url(sb: Sandbox, url: Any) -> str:
    if not isinstance(url, str) or not url:
        raise WeChatError(200002, "invalid args, url is required")
    pages = sb.settings.get("pages")  # same page list as subscribe messages and wxacodes
    if pages is not None and url.split("?", 1)[0].lstrip("/") not in pages:
        raise WeChatError(300007, "url does not exist in the online version of the mini program")
    return url


def settle_audit(sb: Sandbox, goods: Goods) -> None:
    """Approve a submission whose audit time has passed on the sandbox clock."""
    delay = sb.settings["live_goods_audit_seconds"]
    if goods.audit_status != UNDER_AUDIT or delay is None:
        return
    if sb.wechat_now() >= goods.audit_submitted_at + float(delay):
        goods.audit_status = APPROVED


def find_goods(sb: Sandbox, goods_id: Any) -> Goods:
    goods = sb.state.wxa.goods.get(goods_id) if is_int(goods_id) else None
    if goods is None:
        raise WeChatError(300024, "goods not exist")
    settle_audit(sb, goods)
    return goods


def _submit(sb: Sandbox) -> int:
    """Spend one audit submission of the day and hand out an audit id."""
    spend_quota(sb, "goods/audit", "live_goods_audit_per_day", 300012, AUDIT_QUOTA_ERRMSG)
    return sb.state.ids.take("audit_id")


def add_goods(sb: Sandbox, body: Any) -> dict[str, Any]:
    """Validate `goodsInfo`, add the goods and submit it for audit at once."""
    info = body_object(body).get("goodsInfo")
    if not isinstance(info, dict):
        raise WeChatError(200002, "invalid args, goodsInfo must be an object")
    if not media.usable(sb, info.get("coverImgUrl")):
        raise WeChatError(300006, "upload image failed, coverImgUrl media_id not found or expired")
    name = info.get("name")
    if not isinstance(name, str) or not name.strip() or text_width(name) > 28:
        raise WeChatError(300002, "invalid name length, at most 14 chinese characters")
    price_type = info.get("priceType")
    if not is_int(price_type) or price_type not in PRICE_TYPES:
        raise WeChatError(200002, "invalid args, priceType must be 1, 2 or 3")
    price, price2 = _fen(info.get("price"), "price"), 0
    if price_type == 2:
        price2 = _fen(info.get("price2"), "price2")
        if price >= price2:
            raise WeChatError(300003, "invalid price, price must be lower than price2")
    elif price_type == 3:
        price2 = _fen(info.get("price2"), "price2")
        if price2 >= price:
            raise WeChatError(300003, "invalid price, current price2 must be lower than price")
    url = _check_url(sb, info.get("url"))
    third_party_appid = info.get("thirdPartyAppid") or ""
    if not isinstance(third_party_appid, str):
        raise WeChatError(200002, "invalid args, thirdPartyAppid must be a string")

    audit_id = _submit(sb)  # the audit quota counts submissions, not malformed calls
    wxa = sb.state.wxa
    goods = Goods(
        goods_id=sb.state.ids.take("goods_id"),
        audit_id=audit_id,
        cover_img=info["coverImgUrl"],
        name=name,
        price_type=price_type,
        price=price,
        price2=price2,
        url=url,
        third_party_appid=third_party_appid,
        audit_status=UNDER_AUDIT,
        audit_submitted_at=sb.wechat_now(),
    )
    wxa.goods[goods.goods_id] = goods
    return {"errcode": 0, "errmsg": "ok", "goodsId": goods.goods_id, "auditId": audit_id}


def resubmit_audit(sb: Sandbox, body: Any) -> dict[str, Any]:
    """`goods/audit`: submit a not-audited or rejected goods again (shares the 500/day)."""
    goods = find_goods(sb, body_object(body).get("goodsId"))
    if goods.audit_status in (UNDER_AUDIT, APPROVED):
        raise WeChatError(300010, f"goods audit status is wrong ({goods.audit_status})")
    goods.audit_id = _submit(sb)
    goods.audit_status = UNDER_AUDIT
    goods.audit_submitted_at = sb.wechat_now()
    return {"errcode": 0, "errmsg": "ok", "auditId": goods.audit_id}


def warehouse(sb: Sandbox, body: Any, base_url: str) -> dict[str, Any]:
    """`getgoodswarehouse`: the goods asked for with their audit status; unknown ids left out."""
    spend_quota(sb, "getgoodswarehouse", "live_goods_warehouse_per_day")
    ids = body_object(body).get("goods_ids")
    if not isinstance(ids, list) or not ids or not all(is_int(i) for i in ids):
        raise WeChatError(200002, "invalid args, goods_ids must be a list of goods ids")
    found = []
    for goods_id in ids:
        goods = sb.state.wxa.goods.get(goods_id)
        if goods is None:
            continue
        settle_audit(sb, goods)
        found.append(
            {
                "goods_id": goods.goods_id,
                "cover_img_url": media.media_url(base_url, goods.cover_img),
                "name": goods.name,
                "price": goods.price / 100,
                "price2": goods.price2 / 100,
                "url": goods.url,
                "price_type": goods.price_type,
                "audit_status": goods.audit_status,
                "third_party_tag": 2,  # 1/2 = added through the API
                "thirdPartyAppid": goods.third_party_appid,
            }
        )
    return {"errcode": 0, "errmsg": "ok", "goods": found, "total": len(found)}


def set_audit(sb: Sandbox, goods_id: int, status: Any) -> Goods:
    """The reviewer decides (control only): 2 approve or 3 reject a goods under audit."""
    goods = sb.state.wxa.goods.get(goods_id)
    if goods is None:
        raise ControlError(f"unknown goods {goods_id}", status=404)
    if status not in (APPROVED, REJECTED) or not is_int(status):
        raise ControlError("status must be 2 (approved) or 3 (rejected)")
    settle_audit(sb, goods)
    if goods.audit_status != UNDER_AUDIT:
        raise ControlError(
            f"goods {goods_id} is not under audit (audit_status {goods.audit_status})"
        )
    goods.audit_status = status
    return goods


def goods_info(goods: Goods, base_url: str) -> dict[str, Any]:
    """A `goods[]` entry of getliveinfo (prices in fen there)."""
    return {
        "cover_img": media.media_url(base_url, goods.cover_img),
        "url": goods.url,
        "name": goods.name,
        "price": goods.price,
        "price2": goods.price2,
        "price_type": goods.price_type,
        "goods_id": goods.goods_id,
        "third_party_appid": goods.third_party_appid,
    }


def control_view(goods: Goods) -> dict[str, Any]:
    return {
        "goodsId": goods.goods_id,
        "auditId": goods.audit_id,
        "name": goods.name,
        "audit_status": goods.audit_status,
        "audit_submitted_at": goods.audit_submitted_at,
        "price_type": goods.price_type,
        "price": goods.price,
        "price2": goods.price2,
        "url": goods.url,
        "coverImgUrl": goods.cover_img,
    }
