"""Inventory: every stock read and write goes through here.

Stock is a per-SKU count for now (the batches issue replaces its source with lots). Changes are
conditional UPDATEs, applied in SKU-id order, so two orders racing for the last units can never
both get them, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.catalogue import cache
from backend.errors import SoldOut
from backend.inventory.models import StockLevel, StockReservation

HELD, COMMITTED, RELEASED, RETURNED = "HELD", "COMMITTED", "RELEASED", "RETURNED"


def available(session: Session, sku_ids: list[int]) -> dict[int, int]:
    """Units each SKU can still sell (on hand minus reserved); 0 for SKUs without stock."""
    if not sku_ids:
        return {}
    rows = session.execute(
        select(StockLevel.sku_id, StockLevel.on_hand - StockLevel.reserved).where(
            StockLevel.sku_id.in_(sku_ids)
        )
    )
    found = dict(rows.all())
    return {sku_id: found.get(sku_id, 0) for sku_id in sku_ids}


def set_on_hand(session: Session, *, sku_id: int, on_hand: int) -> None:
    """Set a SKU's on-hand count (demo data and staff stock-takes); never below what is reserved."""
    level = session.get(StockLevel, sku_id)
    if level is None:
        session.add(StockLevel(sku_id=sku_id, on_hand=on_hand, reserved=0))
    else:
        level.on_hand = max(on_hand, level.reserved)
    cache.invalidate(session)


def reserve(session: Session, *, order_id: int, lines: dict[int, int]) -> None:
    """Hold stock for an order's lines ({sku_id: quantity}) or raise SoldOut, holding nothing."""
    for sku_id in sorted(lines):
        quantity = lines[sku_id]
        result = session.execute(
            update(StockLevel)
            .where(
                StockLevel.sku_id == sku_id, StockLevel.on_hand - StockLevel.reserved >= quantity
            )
            .values(reserved=StockLevel.reserved + quantity)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            left = available(session, [sku_id])[sku_id]
            raise SoldOut(details={"sku_id": sku_id, "available": left})
        session.add(StockReservation(order_id=order_id, sku_id=sku_id, quantity=quantity))
    cache.invalidate(session)


def _reservations(session: Session, order_id: int, status: str) -> list[StockReservation]:
    return list(
        session.scalars(
            select(StockReservation)
            .where(StockReservation.order_id == order_id, StockReservation.status == status)
            .order_by(StockReservation.sku_id)
        )
    )


def release(session: Session, *, order_id: int) -> int:
    """Give an unpaid order's held stock back; answers how many lines were released."""
    held = _reservations(session, order_id, HELD)
    for reservation in held:
        session.execute(
            update(StockLevel)
            .where(StockLevel.sku_id == reservation.sku_id)
            .values(reserved=StockLevel.reserved - reservation.quantity)
            .execution_options(synchronize_session=False)
        )
        reservation.status = RELEASED
    if held:
        cache.invalidate(session)
    return len(held)


def commit(session: Session, *, order_id: int) -> bool:
    """Turn a paid order's held stock into sold stock; False if the order holds nothing."""
    held = _reservations(session, order_id, HELD)
    for reservation in held:
        session.execute(
            update(StockLevel)
            .where(StockLevel.sku_id == reservation.sku_id)
            .values(
                on_hand=StockLevel.on_hand - reservation.quantity,
                reserved=StockLevel.reserved - reservation.quantity,
            )
            .execution_options(synchronize_session=False)
        )
        reservation.status = COMMITTED
    if held:
        cache.invalidate(session)
    return bool(held)


def reserve_and_commit(session: Session, *, order_id: int, lines: dict[int, int]) -> None:
    """Sell stock at once (an order paid after its hold was released); SoldOut if it is gone."""
    for reservation in _reservations(session, order_id, RELEASED):
        session.delete(reservation)
    session.flush()
    reserve(session, order_id=order_id, lines=lines)
    commit(session, order_id=order_id)


def restock(session: Session, *, order_id: int) -> None:
    """Put a refunded, never-shipped order's sold stock back on hand."""
    sold = _reservations(session, order_id, COMMITTED)
    for reservation in sold:
        session.execute(
            update(StockLevel)
            .where(StockLevel.sku_id == reservation.sku_id)
            .values(on_hand=StockLevel.on_hand + reservation.quantity)
            .execution_options(synchronize_session=False)
        )
        reservation.status = RETURNED
    if sold:
        cache.invalidate(session)
