"""/api/seller/v1: what a seller's own tools use — their shops on outside platforms, their
platform orders, shipping them, and their notices (the inbox). Bearer token from the console (`POST
/console/api/sellers/{id}/api-tokens`); every object is checked against its seller."""

from __future__ import annotations

from datetime import timedelta

from apiflask import APIBlueprint, HTTPTokenAuth
from apiflask.fields import Boolean, Integer, String
from apiflask.validators import Length, OneOf, Range

from backend.clients.platforms.base import OUR_STATUSES, PLATFORMS
from backend.extensions import db
from backend.fulfilment import tracking
from backend.notices import service as notices
from backend.notices.models import SellerNotice
from backend.platforms import service as platforms
from backend.platforms.carriers import CARRIERS
from backend.platforms.schemas import order_view, shop_view
from backend.schemas import In, WholeNumber
from backend.sellers import service as sellers
from backend.timeutil import to_shanghai_iso, utcnow

bp = APIBlueprint("seller_api", __name__, tag="Seller API")
seller_auth = HTTPTokenAuth(
    scheme="Bearer",
    security_scheme_name="SellerToken",
    description="控制台为卖家签发的 API token（有有效期，可吊销）",
)


@seller_auth.verify_token
def _verify(token: str):
    seller_id = sellers.authenticate(db.session, token)
    return {"seller_id": seller_id} if seller_id else None


def _seller_id() -> int:
    return seller_auth.current_user["seller_id"]


class ShopIn(In):
    platform = String(required=True, validate=OneOf(PLATFORMS))
    shop_key = String(required=True, validate=Length(1, 64))
    name = String(load_default="", validate=Length(0, 80))
    access_token = String(required=True, validate=Length(1, 2000))
    refresh_token = String(load_default=None, allow_none=True, validate=Length(1, 2000))
    expires_in = WholeNumber(required=True, validate=Range(60, 366 * 86400))


@bp.get("/shops")
@bp.auth_required(seller_auth)
@bp.doc(summary="我的平台店铺")
def list_shops():
    return {"items": [shop_view(shop) for shop in platforms.seller_shops(db.session, _seller_id())]}


@bp.post("/shops")
@bp.auth_required(seller_auth)
@bp.input(ShopIn, arg_name="body")
@bp.doc(
    summary="登记（或重新授权）平台店铺：店铺授权后得到的 token，先经平台验证",
    responses={
        201: "已登记",
        409: "该店铺已由其他卖家登记",
        422: "平台不认可该授权",
        503: "平台暂时无法验证",
    },
)
def register_shop(body):
    shop = platforms.register_shop(
        db.session,
        seller_id=_seller_id(),
        platform=body["platform"],
        shop_key=body["shop_key"],
        name=body["name"],
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_at=utcnow() + timedelta(seconds=body["expires_in"]),
    )
    return shop_view(shop), 201


class OrderQuery(In):
    status = String(validate=OneOf(OUR_STATUSES))
    page = Integer(load_default=1, validate=Range(1, 10000))
    page_size = Integer(load_default=20, validate=Range(1, 100))


@bp.get("/orders")
@bp.auth_required(seller_auth)
@bp.input(OrderQuery, location="query", arg_name="query")
@bp.doc(summary="我的平台订单（新的在前）")
def list_orders(query):
    rows, total = platforms.seller_orders(
        db.session,
        seller_id=_seller_id(),
        status=query.get("status"),
        page=query["page"],
        page_size=query["page_size"],
    )
    return {"items": [order_view(row) for row in rows], "total": total}


@bp.get("/orders/<int:order_id>")
@bp.auth_required(seller_auth)
@bp.doc(summary="一笔平台订单，含联盟仓库代发的包裹状态与物流轨迹（warehouse）")
def get_order(order_id: int):
    row = platforms.seller_order(db.session, seller_id=_seller_id(), platform_order_id=order_id)
    return {**order_view(row), "warehouse": tracking.platform_order_tracking(db.session, row.id)}


class ShipIn(In):
    carrier = String(required=True, validate=OneOf(list(CARRIERS)))
    tracking_no = String(required=True, validate=Length(4, 40))


@bp.post("/orders/<int:order_id>/ship")
@bp.auth_required(seller_auth)
@bp.input(ShipIn, arg_name="body")
@bp.doc(summary="发货：库存出库，运单号回传平台")
def ship_order(order_id: int, body):
    row = platforms.ship(
        db.session,
        seller_id=_seller_id(),
        platform_order_id=order_id,
        carrier=body["carrier"],
        tracking_no=body["tracking_no"],
    )
    return order_view(row)


class NoticeQuery(In):
    unread = Boolean(load_default=False)
    page = Integer(load_default=1, validate=Range(1, 10000))
    page_size = Integer(load_default=20, validate=Range(1, 100))


def notice_view(notice: SellerNotice) -> dict:
    return {
        "id": notice.id,
        "kind": notice.kind,
        "title": notice.title,
        "body": notice.body,
        "link": notice.link,
        "data": notice.data,
        "created_at": to_shanghai_iso(notice.created_at),
        "read_at": to_shanghai_iso(notice.read_at) if notice.read_at else None,
    }


@bp.get("/notices")
@bp.auth_required(seller_auth)
@bp.input(NoticeQuery, location="query", arg_name="query")
@bp.doc(summary="我的通知（收件箱：订单、退款、联盟广播，新的在前）")
def list_notices(query):
    rows, total = notices.inbox(
        db.session,
        seller_id=_seller_id(),
        unread_only=query["unread"],
        page=query["page"],
        page_size=query["page_size"],
    )
    return {"items": [notice_view(row) for row in rows], "total": total}


@bp.post("/notices/<int:notice_id>/read")
@bp.auth_required(seller_auth)
@bp.doc(summary="标记已读")
def read_notice(notice_id: int):
    return notice_view(notices.mark_read(db.session, seller_id=_seller_id(), notice_id=notice_id))
