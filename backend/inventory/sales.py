"""Flash-sale stock: a sale takes its units out of the lots at start, claims move them to the
claimers' orders, unpaid claims give them back, and the end returns the rest. Part of the
inventory service: the same ledger, every move a release and a reserve on the same lot."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import SoldOut
from backend.inventory.models import HELD, RELEASE, RESERVE, Lot, StockReservation
from backend.inventory.service import _allocate, _available_from_ledger, _holds, _move, _release


def _sale_holds(
    session: Session, flash_sale_id: int, *, lock: bool = False
) -> list[StockReservation]:
    """A flash sale's held units, first to expire first (the order claims take them in).

    With lock, the rows are locked first (SELECT ... FOR UPDATE): concurrent claims on one sale
    then take turns instead of both decrementing the same row from a stale read."""
    query = (
        select(StockReservation)
        .join(Lot, Lot.id == StockReservation.lot_id)
        .where(
            StockReservation.flash_sale_id == flash_sale_id,
            StockReservation.order_id.is_(None),
            StockReservation.status == HELD,
            StockReservation.quantity > 0,
        )
        .order_by(Lot.use_by, Lot.id, StockReservation.id)
    )
    if lock:
        query = query.with_for_update(of=StockReservation)
    return list(session.scalars(query))


def hold_for_sale(session: Session, *, flash_sale_id: int, sku_id: int, units: int) -> None:
    """Take a flash sale's units out of the lots at its start (FEFO), or raise SoldOut."""
    if not _allocate(session, flash_sale_id=flash_sale_id, sku_id=sku_id, quantity=units):
        left = _available_from_ledger(session, [sku_id])[sku_id][0]
        raise SoldOut("可售库存不足，无法开始秒杀", details={"sku_id": sku_id, "available": left})


def sale_to_order(session: Session, *, flash_sale_id: int, order_id: int, quantity: int) -> None:
    """A claim: move units the sale holds to the claimer's order (a release and a reserve per
    lot in the ledger, so every unit stays accounted for)."""
    plan, wanted = [], quantity
    for hold in _sale_holds(session, flash_sale_id, lock=True):  # first expiring first
        if wanted == 0:
            break
        plan.append((hold, min(hold.quantity, wanted)))
        wanted -= plan[-1][1]
    if wanted:
        raise SoldOut(details={"flash_sale_id": flash_sale_id})
    # Locked in lot-id order, like every other stock change (no deadlocks on PostgreSQL).
    for hold, take in sorted(plan, key=lambda item: (item[0].lot_id, item[0].id)):
        _move(
            session,
            hold.lot_id,
            hold.sku_id,
            RELEASE,
            reserved=-take,
            flash_sale_id=flash_sale_id,
            order_id=order_id,
            reason="秒杀抢到，转入订单",
        )
        _move(
            session,
            hold.lot_id,
            hold.sku_id,
            RESERVE,
            reserved=take,
            flash_sale_id=flash_sale_id,
            order_id=order_id,
            reason="秒杀订单锁定",
        )
        hold.quantity -= take
        session.add(
            StockReservation(
                order_id=order_id,
                flash_sale_id=flash_sale_id,
                lot_id=hold.lot_id,
                sku_id=hold.sku_id,
                quantity=take,
                status=HELD,
            )
        )


def order_to_sale(session: Session, *, order_id: int, flash_sale_id: int) -> int:
    """An unpaid claim gives its units back to the running sale; answers how many."""
    returned = 0
    owner = {"flash_sale_id": flash_sale_id, "order_id": order_id}
    for hold in _holds(session, order_id, (HELD,)):
        _release(session, [hold], owner, "秒杀订单未支付，退回")
        _move(
            session,
            hold.lot_id,
            hold.sku_id,
            RESERVE,
            reserved=hold.quantity,
            flash_sale_id=flash_sale_id,
            order_id=order_id,
            reason="退回秒杀库存",
        )
        session.add(
            StockReservation(
                flash_sale_id=flash_sale_id,
                lot_id=hold.lot_id,
                sku_id=hold.sku_id,
                quantity=hold.quantity,
                status=HELD,
            )
        )
        returned += hold.quantity
    return returned


def release_sale(session: Session, *, flash_sale_id: int) -> int:
    """The sale ended: what it still holds goes back to the lots; answers how many units."""
    held = sorted(_sale_holds(session, flash_sale_id, lock=True), key=lambda h: (h.lot_id, h.id))
    released = sum(hold.quantity for hold in held)
    _release(session, held, {"flash_sale_id": flash_sale_id}, "秒杀结束，余量退回")
    return released


def sale_held_units(session: Session, flash_sale_id: int) -> int:
    """Units the sale itself still holds (not yet claimed)."""
    return sum(hold.quantity for hold in _sale_holds(session, flash_sale_id))
