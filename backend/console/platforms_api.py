"""/console/api: sellers' API tokens, their platform shops, and the platform orders waiting
for staff (a SKU code to map, too little stock)."""

from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.fields import Integer, String
from apiflask.validators import Length, OneOf, Range
from flask import current_app
from sqlalchemy import select

from backend.clients.platforms.base import PLATFORMS
from backend.console.access import staff_required
from backend.extensions import db
from backend.platforms import service as platforms
from backend.platforms.models import STOCK_SHORT, STOCK_UNMAPPED, PlatformOrder, Shop
from backend.platforms.schemas import order_view, shop_view
from backend.schemas import In, text, whole
from backend.sellers import service as sellers
from backend.sellers.models import SellerToken
from backend.staff import permissions as perms
from backend.timeutil import to_shanghai_iso, utcnow

bp = APIBlueprint("platforms_api", __name__, tag="Console: platforms")


def token_view(row: SellerToken) -> dict:
    now = utcnow()
    return {
        "id": row.id,
        "name": row.name,
        "created_at": to_shanghai_iso(row.created_at),
        "expires_at": to_shanghai_iso(row.expires_at),
        "last_used_at": to_shanghai_iso(row.last_used_at),
        "revoked_at": to_shanghai_iso(row.revoked_at),
        "active": row.revoked_at is None and row.expires_at > now,
    }


class TokenIn(In):
    name = text("用途", 40, shortest=0, required=False, load_default="")
    days = whole("有效天数", 1, 366, required=False, load_default=None)


@bp.post("/sellers/<int:seller_id>/api-tokens")
@staff_required(perms.SELLER_TOKENS)
@bp.input(TokenIn, arg_name="body")
@bp.doc(summary="为卖家签发卖家 API token（只显示一次；默认有效期见 SELLER_TOKEN_DAYS）")
def issue_seller_token(seller_id: int, body, staff):
    token, row = sellers.issue_api_token(
        db.session,
        seller_id=seller_id,
        days=body["days"] or current_app.config["SELLER_TOKEN_DAYS"],
        name=body["name"],
        staff=staff,
    )
    return {"token": token, **token_view(row)}, 201


@bp.get("/sellers/<int:seller_id>/api-tokens")
@staff_required(perms.SELLER_TOKENS)
@bp.doc(summary="卖家的 API token（不含 token 本身）")
def list_seller_tokens(seller_id: int, staff):
    rows = sellers.api_tokens(db.session, seller_id=seller_id)
    return {"items": [token_view(row) for row in rows]}


@bp.post("/sellers/<int:seller_id>/api-tokens/<int:token_id>/revoke")
@staff_required(perms.SELLER_TOKENS)
@bp.doc(summary="吊销卖家 API token（立即失效）")
def revoke_seller_token(seller_id: int, token_id: int, staff):
    row = sellers.revoke_api_token(db.session, seller_id=seller_id, token_id=token_id, staff=staff)
    return token_view(row)


@bp.get("/platform-shops")
@staff_required(perms.PLATFORMS)
def list_shops(staff):
    shops = db.session.scalars(select(Shop).order_by(Shop.id).limit(5000))
    return {"items": [{**shop_view(shop), "seller_id": shop.seller_id} for shop in shops]}


class WaitingQuery(In):
    state = String(load_default=STOCK_UNMAPPED, validate=OneOf([STOCK_UNMAPPED, STOCK_SHORT]))


@bp.get("/platform-orders/waiting")
@staff_required(perms.PLATFORMS)
@bp.input(WaitingQuery, location="query", arg_name="query")
@bp.doc(summary="等待人工处理的平台订单：商品编码未映射 / 库存不足")
def waiting_orders(query, staff):
    rows = db.session.scalars(
        select(PlatformOrder)
        .where(PlatformOrder.stock_state == query["state"])
        .order_by(PlatformOrder.id)
        .limit(500)
    )
    return {"items": [{**order_view(row), "seller_id": row.seller_id} for row in rows]}


class MappingIn(In):
    platform = String(required=True, validate=OneOf(PLATFORMS))
    code = String(required=True, validate=Length(1, 64))
    sku_id = Integer(required=True, strict=True, validate=Range(1))


@bp.post("/platform-sku-mappings")
@staff_required(perms.PLATFORMS)
@bp.input(MappingIn, arg_name="body")
@bp.doc(summary="把卖家的平台商品编码映射到联盟商品；等待中的订单随即出库")
def map_sku(body, staff):
    return platforms.map_sku(db.session, staff_id=staff.id, **body), 201


@bp.post("/platform-orders/<int:order_id>/retry-stock")
@staff_required(perms.PLATFORMS)
@bp.doc(summary="补货后重试库存不足的平台订单")
def retry_stock(order_id: int, staff):
    row = platforms.retry_stock(db.session, platform_order_id=order_id)
    return {**order_view(row), "seller_id": row.seller_id}
