"""Retiring a SKU: it leaves the catalogue only when nothing still uses it. Stock in its lots,
an order or platform order of it not yet done, a live shelf or a platform mapping pointing at it
each refuse with the reason; a SKU that ever sold is kept for its history (take it off sale)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.audit import service as audit
from backend.audit.service import Actor
from backend.catalogue import cache
from backend.catalogue.models import Sku
from backend.errors import Conflict, get_or_404
from backend.inventory.models import Lot, StockMovement
from backend.live.models import LiveShelfItem
from backend.orders.models import CANCELLED, COMPLETED, REFUNDED, Order, OrderItem
from backend.platforms.models import SkuMapping

DONE = (COMPLETED, CANCELLED, REFUNDED)


def _count(session: Session, query) -> int:
    return session.scalar(select(func.count()).select_from(query.subquery()))


def delete_sku(session: Session, *, sku_id: int, staff: Actor | None) -> None:
    """Delete a SKU nothing uses; Conflict (409) with the reason otherwise."""
    sku = get_or_404(session, Sku, sku_id, "规格不存在", code="SKU_NOT_FOUND")
    title = f"{sku.product.name} {sku.spec}"
    open_orders = _count(
        session,
        select(Order.id)
        .join(OrderItem, OrderItem.order_id == Order.id)
        .where(OrderItem.sku_id == sku.id, Order.status.not_in(DONE)),
    )
    if open_orders:
        raise Conflict(
            f"{title} 还有 {open_orders} 个未完成的订单，不能删除；可先下架",
            code="SKU_HAS_OPEN_ORDERS",
            details={"open_orders": open_orders},
        )
    stocked = session.scalar(
        select(func.coalesce(func.sum(Lot.on_hand), 0)).where(Lot.sku_id == sku.id)
    )
    if stocked:
        raise Conflict(
            f"{title} 的库存批次里还有 {stocked} 份，不能删除；可先下架",
            code="SKU_HAS_STOCK",
            details={"on_hand": stocked},
        )
    uses = {
        "直播间货架": _count(
            session, select(LiveShelfItem.id).where(LiveShelfItem.sku_id == sku.id)
        ),
        "平台商品映射": _count(session, select(SkuMapping.id).where(SkuMapping.sku_id == sku.id)),
        "历史订单": _count(session, select(OrderItem.id).where(OrderItem.sku_id == sku.id)),
        "库存流水": _count(session, select(StockMovement.id).where(StockMovement.sku_id == sku.id)),
    }
    used = [f"{where} {count} 条" for where, count in uses.items() if count]
    if used or _count(session, select(Lot.id).where(Lot.sku_id == sku.id)):
        raise Conflict(
            f"{title} 已被使用（{'、'.join(used) or '库存批次'}），为保留记录不能删除；可下架",
            code="SKU_IN_USE",
        )
    audit.record(
        session,
        staff=staff,
        action="sku.delete",
        target_type="sku",
        target_id=sku.id,
        summary=f"删除规格 {title}（{sku.code}）",
        before={"code": sku.code, "price": sku.price},
    )
    session.delete(sku)
    cache.invalidate(session)
    session.commit()
