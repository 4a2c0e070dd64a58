"""What a logged-in seller reads and does on their phone pages. Every object is looked up
through its seller: another seller's order, shop, notice or print run is NotFound, the same
answer as one that does not exist."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from functools import cache

import segno
from flask import current_app
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from backend.catalogue.models import Sku
from backend.errors import BadRequest, Conflict, NotFound, RuleBroken
from backend.fulfilment import tracking
from backend.inventory.models import Lot
from backend.notices import service as notices
from backend.notices.models import SellerNotice
from backend.onboarding import service as onboarding
from backend.onboarding.models import LicenceRenewal
from backend.orders.models import Order
from backend.platforms import service as platforms
from backend.platforms.carriers import CARRIERS
from backend.platforms.models import AUTH_BROKEN, PlatformOrder, Shop
from backend.sellers import service as sellers
from backend.sellers.models import ACTIVE, EXPIRED, BrandLicence
from backend.timeutil import utcnow
from backend.trace import service as trace
from backend.trace.models import PrintRun

NEW_ORDER_HOURS = 24
TO_SHIP = "TO_SHIP"  # a filter, not a status: paid orders of self-fulfilled shops not sent yet
LABELS_PER_ZIP = 1000


def _to_ship():
    return (
        PlatformOrder.status == "PAID",
        PlatformOrder.tracking_no.is_(None),
        PlatformOrder.shop_id.in_(select(Shop.id).where(Shop.self_fulfilled.is_(True))),
    )


# The pages sellers open most are built from statements made once: building a statement costs
# more than running it on a seller's few hundred rows.
_SELLER = bindparam("seller_id")
_TODAY = (
    select(
        func.count().filter(
            PlatformOrder.status == "PAID", PlatformOrder.placed_at >= bindparam("since")
        ),
        func.count().filter(
            PlatformOrder.status == "PAID",
            PlatformOrder.tracking_no.is_(None),
            Shop.self_fulfilled.is_(True),
        ),
        func.count().filter(PlatformOrder.status == "REFUNDING"),
        select(func.count())
        .where(SellerNotice.seller_id == _SELLER, SellerNotice.read_at.is_(None))
        .scalar_subquery(),
        select(func.count())
        .select_from(Shop)
        .where(Shop.seller_id == _SELLER, Shop.status == AUTH_BROKEN)
        .scalar_subquery(),
    )
    .select_from(PlatformOrder)
    .join(Shop, Shop.id == PlatformOrder.shop_id)
    .where(PlatformOrder.seller_id == _SELLER)
)


# -- today -----------------------------------------------------------------------------------
def today(session: Session, *, seller_id: int) -> dict:
    """The seller's day at a glance: new paid orders, orders they must ship, refunds asked,
    unread notices, broken shops and their licence."""
    since = utcnow() - timedelta(hours=NEW_ORDER_HOURS)
    new, to_ship, after_sales, unread, broken = session.execute(
        _TODAY, {"seller_id": seller_id, "since": since}
    ).one()
    return {
        "new_orders": new,
        "to_ship": to_ship,
        "after_sales": after_sales,
        "unread_notices": unread or 0,
        "broken_shops": broken or 0,
        "licence": licence(session, seller_id=seller_id),
    }


# -- orders ----------------------------------------------------------------------------------
# A row of an order list: the columns the list shows, not the whole order.
_ORDER_ROW = select(
    PlatformOrder.id,
    PlatformOrder.platform,
    PlatformOrder.order_no,
    PlatformOrder.status,
    PlatformOrder.total,
    PlatformOrder.placed_at,
    PlatformOrder.carrier,
    PlatformOrder.tracking_no,
    func.coalesce(func.nullif(Shop.name, ""), Shop.shop_key).label("shop_name"),
).join(Shop, Shop.id == PlatformOrder.shop_id)
_NEWEST_FIRST = (PlatformOrder.placed_at.desc(), PlatformOrder.id.desc())
_RECENT = (
    _ORDER_ROW.where(PlatformOrder.seller_id == _SELLER)
    .order_by(*_NEWEST_FIRST)
    .limit(bindparam("size"))
)


def recent_orders(session: Session, *, seller_id: int, size: int = 5) -> list:
    """The seller's newest orders over all their shops (rows of the list's columns)."""
    return list(session.execute(_RECENT, {"seller_id": seller_id, "size": size}))


@cache
def _order_list(filter_kind: str | None, by_shop: bool):
    """The count and page statements of one kind of filter: none, TO_SHIP or one status."""
    where = [PlatformOrder.seller_id == _SELLER]
    if filter_kind == TO_SHIP:
        where += _to_ship()
    elif filter_kind:
        where.append(PlatformOrder.status == bindparam("status"))
    if by_shop:
        where.append(PlatformOrder.shop_id == bindparam("shop_id"))
    count = select(func.count()).select_from(PlatformOrder).where(*where)
    page = (
        _ORDER_ROW.where(*where)
        .order_by(*_NEWEST_FIRST)
        .offset(bindparam("skip"))
        .limit(bindparam("size"))
    )
    return count, page


def orders(
    session: Session,
    *,
    seller_id: int,
    status: str | None = None,
    shop_id: int | None = None,
    page: int = 1,
    page_size: int = 20,
) -> tuple[list, int]:
    """The seller's orders over all their shops, newest first; `status` may be TO_SHIP."""
    filter_kind = status if status in (None, TO_SHIP) else "STATUS"
    count, rows = _order_list(filter_kind, bool(shop_id))
    values = {
        "seller_id": seller_id,
        "status": status,
        "shop_id": shop_id,
        "skip": (page - 1) * page_size,
        "size": page_size,
    }
    total = session.scalar(count, values) or 0
    return list(session.execute(rows, values)), total


def order(session: Session, *, seller_id: int, order_id: int) -> dict:
    """One of the seller's orders with its shop, the warehouse's parcel and whether the seller
    ships it themselves now."""
    row = platforms.seller_order(session, seller_id=seller_id, platform_order_id=order_id)
    shop = session.get(Shop, row.shop_id)
    return {
        "order": row,
        "shop": shop,
        "warehouse": tracking.platform_order_tracking(session, row.id),
        "shippable": shop.self_fulfilled and row.status == "PAID" and not row.tracking_no,
    }


def ship(
    session: Session, *, seller_id: int, order_id: int, carrier: str, tracking_no: str
) -> PlatformOrder:
    """The seller sent a self-fulfilled order's parcel: refused for a courier we do not know, a
    tracking number already used, or an order the alliance's warehouse ships."""
    row = platforms.seller_order(session, seller_id=seller_id, platform_order_id=order_id)
    tracking_no = tracking_no.strip().upper()
    if carrier not in CARRIERS:
        raise BadRequest("请选择支持的快递公司", code="UNKNOWN_CARRIER")
    if not (4 <= len(tracking_no) <= 40 and tracking_no.isalnum() and tracking_no.isascii()):
        raise BadRequest("运单号应为 4 到 40 位字母或数字", code="TRACKING_NO_INVALID")
    if not session.get(Shop, row.shop_id).self_fulfilled:
        raise RuleBroken("该订单由联盟仓库代发，无需自行发货", code="WAREHOUSE_SHIPS")
    used = session.scalar(
        select(PlatformOrder.id).where(PlatformOrder.tracking_no == tracking_no).limit(1)
    ) or session.scalar(select(Order.id).where(Order.tracking_no == tracking_no).limit(1))
    if used:
        raise Conflict("该运单号已被使用，请核对后重新填写", code="TRACKING_NO_USED")
    return platforms.ship(
        session,
        seller_id=seller_id,
        platform_order_id=order_id,
        carrier=carrier,
        tracking_no=tracking_no,
    )


# -- inbox -----------------------------------------------------------------------------------
def inbox(
    session: Session, *, seller_id: int, unread_only: bool = False, page: int = 1
) -> tuple[list[SellerNotice], int]:
    return notices.inbox(
        session, seller_id=seller_id, unread_only=unread_only, page=page, page_size=20
    )


def read_notice(session: Session, *, seller_id: int, notice_id: int) -> SellerNotice:
    """A notice of the seller's in full; reading it marks it read."""
    return notices.mark_read(session, seller_id=seller_id, notice_id=notice_id)


def read_broadcast(session: Session, *, seller_id: int, broadcast_id: int) -> SellerNotice:
    """The seller's copy of a broadcast (what its push opens), marked read."""
    notice_id = session.scalar(
        select(SellerNotice.id).where(
            SellerNotice.seller_id == seller_id, SellerNotice.broadcast_id == broadcast_id
        )
    )
    if notice_id is None:
        raise NotFound("通知不存在", code="NOTICE_NOT_FOUND")
    return read_notice(session, seller_id=seller_id, notice_id=notice_id)


# -- shops -----------------------------------------------------------------------------------
def shops(session: Session, *, seller_id: int) -> list[Shop]:
    return platforms.seller_shops(session, seller_id)


def shop(session: Session, *, seller_id: int, shop_id: int) -> Shop:
    found = session.get(Shop, shop_id)
    if found is None or found.seller_id != seller_id:
        raise NotFound("店铺不存在", code="SHOP_NOT_FOUND")
    return found


# -- licence ---------------------------------------------------------------------------------
_LICENCE = (
    select(BrandLicence, LicenceRenewal)
    .outerjoin(LicenceRenewal, LicenceRenewal.pending_seller_id == BrandLicence.seller_id)
    .where(BrandLicence.seller_id == _SELLER)
    .order_by(BrandLicence.valid_until.desc(), BrandLicence.id.desc())
    .limit(1)
)


def licence(session: Session, *, seller_id: int) -> dict | None:
    """The seller's newest licence: its state today, days left and a pending renewal request."""
    found = session.execute(_LICENCE, {"seller_id": seller_id}).first()
    if found is None:
        return None
    row, pending = found
    day = sellers.today()
    state = row.status
    if state == ACTIVE and row.valid_until < day:
        state = EXPIRED
    return {
        "licence": row,
        "state": state,
        "days_left": (row.valid_until - day).days,
        "renewal": pending,
    }


def request_renewal(session: Session, *, seller_id: int) -> LicenceRenewal:
    """The seller asks staff to renew their licence (onboarding's review decides); asking again
    while one request waits answers that one."""
    current = licence(session, seller_id=seller_id)
    if current is None:
        raise RuleBroken("您还没有品牌授权，请先申请", code="NO_LICENCE")
    if current["renewal"] is not None:
        return current["renewal"]
    return onboarding.request_renewal(session, seller_id=seller_id)


# -- trace codes -----------------------------------------------------------------------------
def print_runs(session: Session, *, seller_id: int) -> list[dict]:
    """The seller's print runs, newest first, with the lot and SKU they label."""
    rows = session.execute(
        select(PrintRun, Lot.code, Sku.code)
        .join(Lot, Lot.id == PrintRun.lot_id)
        .join(Sku, Sku.id == Lot.sku_id)
        .where(PrintRun.seller_id == seller_id)
        .order_by(PrintRun.id.desc())
        .limit(100)
    ).tuples()
    return [{"run": run, "lot_code": lot, "sku_code": sku} for run, lot, sku in rows]


def labels_zip(session: Session, *, seller_id: int, print_run_id: int, offset: int = 0) -> bytes:
    """Printable QR labels (PNG, one per code) of one of the seller's print runs."""
    run = session.get(PrintRun, print_run_id)
    if run is None or run.seller_id != seller_id:
        raise NotFound("印制批次不存在", code="PRINT_RUN_NOT_FOUND")
    base = current_app.config["TRACE_URL_BASE"]
    codes = trace.print_run_codes(
        session, print_run_id=print_run_id, offset=offset, limit=LABELS_PER_ZIP
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for row in codes:
            image = io.BytesIO()
            segno.make(base + row.code, error="m").save(image, kind="png", scale=6, border=2)
            archive.writestr(f"{row.serial:06d}-{row.code}.png", image.getvalue())
    return buffer.getvalue()
