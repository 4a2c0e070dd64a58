"""Lots leave sale at their use-by: open holds move to other lots of the SKU, the rest is
written off. Part of the inventory service; its ledger rules are the same."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.inventory.models import (
    COMMITTED,
    EXPIRE,
    EXPIRED,
    HELD,
    KEPT,
    RELEASE,
    SELLABLE,
    Lot,
    StockReservation,
)
from backend.inventory.service import _allocate, _move, _release, lock_lots
from backend.timeutil import utcnow


def expire(session: Session, *, lot_id: int, now: datetime | None = None) -> dict:
    """Take a lot off sale at its use-by: move each open hold to another lot of the SKU, release
    the ones that cannot move, and write off the rest. The caller commits and handles the orders
    answered in "unmoved_unpaid" (to cancel) and "unmoved_paid" / "unmoved_platform" (for
    staff), and the flash sales' unclaimed units in "unmoved_sale" ((sale id, units): the sale
    offers fewer)."""
    now = now or utcnow()
    lot = session.get(Lot, lot_id)
    result = {
        "expired": 0,
        "moved": [],
        "unmoved_unpaid": [],
        "unmoved_paid": [],
        "unmoved_sale": [],
        "unmoved_platform": [],
    }
    if lot is None or lot.status not in (SELLABLE, KEPT) or lot.use_by > now:
        return result
    # Locked in the order every transaction takes them: the lot's holds, then the SKU's lots by
    # id (this one included); then read again, as another expiry may have been first.
    _holds_on_lot(session, lot_id, lock=True)
    lock_lots(session, [lot.sku_id], also_lot_id=lot_id)
    session.refresh(lot)
    if lot.status not in (SELLABLE, KEPT):
        return result
    lot.status = EXPIRED
    session.flush()
    for hold in _holds_on_lot(session, lot_id):
        owner = {
            "order_id": hold.order_id,
            "flash_sale_id": hold.flash_sale_id,
            "platform_order_id": hold.platform_order_id,
        }
        savepoint = session.begin_nested()
        _move(
            session,
            lot_id,
            hold.sku_id,
            RELEASE,
            reserved=-hold.quantity,
            reason="批次到期，转至其他批次",
            **owner,
        )
        # A claim's units come from the lots directly now, not through the sale again.
        target = owner if hold.order_id is None else {"order_id": hold.order_id}
        if hold.platform_order_id is not None:
            target = {"platform_order_id": hold.platform_order_id}
        moved = _allocate(
            session,
            sku_id=hold.sku_id,
            quantity=hold.quantity,
            status=hold.status,
            exclude_lot_id=lot_id,
            **target,
        )
        if moved:
            hold.status = "MOVED"
            savepoint.commit()
            if hold.order_id is not None:
                result["moved"].append(hold.order_id)
            continue
        savepoint.rollback()
        if hold.platform_order_id is not None:
            result["unmoved_platform"].append(hold.platform_order_id)
        elif hold.order_id is None:
            result["unmoved_sale"].append((hold.flash_sale_id, hold.quantity))
        else:
            key = "unmoved_paid" if hold.status == COMMITTED else "unmoved_unpaid"
            result[key].append(hold.order_id)
        _release(session, [hold], owner, "批次到期，无其他批次可替换")
    session.refresh(lot)
    if lot.on_hand:
        result["expired"] = lot.on_hand
        _move(session, lot, lot.sku_id, EXPIRE, on_hand=-lot.on_hand, reason="到期下架")
    return result


def _holds_on_lot(session: Session, lot_id: int, *, lock: bool = False) -> list[StockReservation]:
    query = (
        select(StockReservation)
        .where(
            StockReservation.lot_id == lot_id,
            StockReservation.status.in_((HELD, COMMITTED)),
            StockReservation.quantity > 0,
        )
        .order_by(StockReservation.id)
    )
    if lock:
        query = query.with_for_update()
    return list(session.scalars(query))


def order_ids_holding(session: Session, *, lot_id: int) -> list[int]:
    """The orders with units held on a lot (those its expiry may cancel)."""
    return sorted({hold.order_id for hold in _holds_on_lot(session, lot_id) if hold.order_id})
