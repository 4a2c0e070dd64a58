"""Inventory: stock lives in lots with a use-by time; every stock read and write goes through here.

Every change to a lot is one conditional UPDATE plus one ledger row, so a lot's on_hand and
reserved always equal the sums of its ledger, and two orders racing for the last units can never
both get them (SQLite or PostgreSQL). Orders take units first-expiring-first-out (FEFO).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from backend.audit import service as audit
from backend.catalogue import cache
from backend.errors import RuleBroken, SoldOut, get_or_404
from backend.inventory import stock_cache
from backend.inventory.models import (
    ADJUST,
    COMMIT,
    COMMITTED,
    HELD,
    KEPT,
    RECEIVE,
    RELEASE,
    RELEASED,
    RESERVE,
    RETURN,
    SELLABLE,
    SHIP,
    SHIPPED,
    Lot,
    StockMovement,
    StockReservation,
)
from backend.queue import enqueue_at
from backend.staff.models import Staff
from backend.timeutil import to_aware_utc, utcnow
from backend.transactions import on_commit


def _sellable(now: datetime):
    return and_(Lot.status == SELLABLE, Lot.use_by > now)


def available(session: Session, sku_ids: list[int]) -> dict[int, int]:
    """Units each SKU can still sell: the free units of its sellable lots (cached in Redis)."""
    sku_ids = list(dict.fromkeys(sku_ids))
    found = stock_cache.read(sku_ids)
    missing = [sku_id for sku_id in sku_ids if sku_id not in found]
    if missing:
        computed = _available_from_ledger(session, missing)
        stock_cache.write(computed)
        found.update({sku_id: value for sku_id, (value, _) in computed.items()})
    return found


def _available_from_ledger(session: Session, sku_ids: list[int]):
    now = utcnow()
    rows = session.execute(
        select(Lot.sku_id, func.sum(Lot.on_hand - Lot.reserved), func.min(Lot.use_by))
        .where(Lot.sku_id.in_(sku_ids), _sellable(now))
        .group_by(Lot.sku_id)
    ).all()
    found = {
        sku_id: (int(free or 0), to_aware_utc(next_use_by).timestamp())
        for sku_id, free, next_use_by in rows
    }
    return {sku_id: found.get(sku_id, (0, None)) for sku_id in sku_ids}


def lots_on_sale(session: Session, sku_ids: list[int]) -> dict[int, Lot]:
    """For each SKU, the lot its next unit would come from (first to expire with free units)."""
    rows = session.scalars(
        select(Lot)
        .where(Lot.sku_id.in_(sku_ids), _sellable(utcnow()), Lot.on_hand > Lot.reserved)
        .order_by(Lot.use_by, Lot.id)
    )
    first: dict[int, Lot] = {}
    for lot in rows:
        first.setdefault(lot.sku_id, lot)
    return first


def _move(
    session: Session,
    lot: Lot | int,
    sku_id: int,
    kind: str,
    *,
    on_hand: int = 0,
    reserved: int = 0,
    guard=None,
    order_id: int | None = None,
    flash_sale_id: int | None = None,
    platform_order_id: int | None = None,
    staff_id: int | None = None,
    reason: str = "",
) -> bool:
    """Change a lot by (on_hand, reserved) and write the ledger row, or change nothing."""
    lot_id = lot if isinstance(lot, int) else lot.id
    conditions = [
        Lot.id == lot_id,
        Lot.reserved + reserved >= 0,
        Lot.on_hand + on_hand >= Lot.reserved + reserved,
    ]
    if guard is not None:
        conditions.append(guard)
    if on_hand or reserved:
        result = session.execute(
            update(Lot)
            .where(*conditions)
            .values(on_hand=Lot.on_hand + on_hand, reserved=Lot.reserved + reserved)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return False
    session.add(
        StockMovement(
            lot_id=lot_id,
            sku_id=sku_id,
            kind=kind,
            on_hand_delta=on_hand,
            reserved_delta=reserved,
            order_id=order_id,
            flash_sale_id=flash_sale_id,
            platform_order_id=platform_order_id,
            staff_id=staff_id,
            reason=reason[:120],
        )
    )
    _changed(session, {sku_id})
    return True


def _changed(session: Session, sku_ids: set[int]) -> None:
    stock_cache.invalidate(session, sku_ids)
    cache.invalidate(session)


def receive(
    session: Session,
    *,
    sku_id: int,
    batch_id: int,
    code: str,
    quantity: int,
    packed_at: datetime,
    use_by: datetime,
) -> Lot:
    """A new lot from packing; its expiry job is scheduled for use_by once this commits."""
    lot = Lot(
        sku_id=sku_id,
        batch_id=batch_id,
        code=code,
        received=quantity,
        on_hand=0,
        reserved=0,
        packed_at=packed_at,
        use_by=use_by,
        status=SELLABLE,
    )
    session.add(lot)
    session.flush()
    _move(session, lot, sku_id, RECEIVE, on_hand=quantity, reason="包装入库")
    lot_id = lot.id
    on_commit(
        session,
        lambda: enqueue_at(
            to_aware_utc(use_by), "jobs.inventory.expire_lot", lot_id, job_id=f"expire-lot-{lot_id}"
        ),
    )
    return lot


def lock_lots(session: Session, sku_ids: list[int], *, also_lot_id: int | None = None) -> list:
    """Lock the sellable lots of these SKUs with free units (and also_lot_id) until commit, in
    lot-id order: every transaction that changes several lots takes them in that one order, so
    concurrent ones on PostgreSQL never wait on each other in a circle. Answers (id, use_by,
    free units) of each.

    The lots are locked (SELECT ... FOR UPDATE) before they are read, so a plan is made on the
    values the transaction will change. SQLite has no row locks; there the one write lock
    serialises writers (see _allocate)."""
    sellable = and_(_sellable(utcnow()), Lot.on_hand > Lot.reserved)
    if also_lot_id is not None:
        sellable = or_(sellable, Lot.id == also_lot_id)
    return list(
        session.execute(
            select(Lot.id, Lot.use_by, Lot.on_hand - Lot.reserved)
            .where(Lot.sku_id.in_(sku_ids), sellable)
            .order_by(Lot.id)
            .with_for_update()
        ).all()
    )


def _allocate(
    session: Session,
    *,
    order_id: int | None = None,
    flash_sale_id: int | None = None,
    platform_order_id: int | None = None,
    sku_id: int,
    quantity: int,
    status: str = HELD,
    exclude_lot_id: int | None = None,
) -> bool:
    """Hold quantity units of a SKU for an order (a flash sale, a platform order) across lots,
    earliest use-by first; with status COMMITTED the units are sold at once.

    Answers False when not enough is free; units held before that stay held, so the caller
    rolls back (the whole transaction, or a savepoint).
    """
    owner = {
        "order_id": order_id,
        "flash_sale_id": flash_sale_id,
        "platform_order_id": platform_order_id,
    }
    remaining = quantity
    # One look on PostgreSQL, where the lots are locked before they are read. On SQLite a
    # transaction that had not written yet read them before it held the write lock, so a move
    # may find the lot changed; its first write took the lock, and a second look is exact.
    for _ in range(2):
        free = [
            (use_by, lot_id, units)
            for lot_id, use_by, units in lock_lots(session, [sku_id])
            if units > 0 and lot_id != exclude_lot_id
        ]
        if sum(units for _, _, units in free) < remaining:
            return False
        plan, wanted = [], remaining
        for _, lot_id, units in sorted(free):  # first expiring first ...
            if wanted == 0:
                break
            plan.append((lot_id, min(units, wanted)))
            wanted -= plan[-1][1]
        for lot_id, take in sorted(plan):  # ... changed in lot-id order, as they were locked
            reason = "秒杀锁定库存" if flash_sale_id else "下单锁定库存"
            if not _move(session, lot_id, sku_id, RESERVE, reserved=take, reason=reason, **owner):
                continue
            session.add(
                StockReservation(
                    lot_id=lot_id, sku_id=sku_id, quantity=take, status=status, **owner
                )
            )
            if status == COMMITTED:
                _move(session, lot_id, sku_id, COMMIT, reason="已支付", **owner)
            remaining -= take
        if remaining == 0:
            return True
    return False


def _allocate_lines(session: Session, lines: dict[int, int], **owner) -> int | None:
    """Hold every line's units ({sku_id: quantity}) for one owner; answers the first SKU that
    has too few (the caller rolls back), or None. All the SKUs' lots are locked first, in
    lot-id order, so the order's lines cannot lock them in a circle with another order's."""
    if len(lines) > 1:
        lock_lots(session, sorted(lines))
    for sku_id in sorted(lines):
        if not _allocate(session, sku_id=sku_id, quantity=lines[sku_id], **owner):
            return sku_id
    return None


def reserve(session: Session, *, order_id: int, lines: dict[int, int]) -> None:
    """Hold stock for an order's lines ({sku_id: quantity}), FEFO across lots, or raise SoldOut.

    On SoldOut some units may already be held in this transaction: the caller rolls back.
    """
    short = _allocate_lines(session, lines, order_id=order_id)
    if short is not None:
        left = _available_from_ledger(session, [short])[short][0]
        raise SoldOut(details={"sku_id": short, "available": left})


def _holds(session: Session, order_id: int, statuses: tuple[str, ...]) -> list[StockReservation]:
    """A mini-program order's holds in these states."""
    return list(
        session.scalars(
            select(StockReservation)
            .where(StockReservation.order_id == order_id, StockReservation.status.in_(statuses))
            .order_by(StockReservation.lot_id, StockReservation.id)
        )
    )


def _release(session: Session, holds: list[StockReservation], owner: dict, reason: str) -> int:
    for hold in holds:
        _move(
            session,
            hold.lot_id,
            hold.sku_id,
            RELEASE,
            reserved=-hold.quantity,
            reason=reason,
            **owner,
        )
        hold.status = RELEASED
    return len(holds)


def _ship(session: Session, holds: list[StockReservation], owner: dict) -> None:
    for hold in holds:
        _move(
            session,
            hold.lot_id,
            hold.sku_id,
            SHIP,
            on_hand=-hold.quantity,
            reserved=-hold.quantity,
            reason="发货出库",
            **owner,
        )
        hold.status = SHIPPED


def release(session: Session, *, order_id: int, reason: str = "释放库存") -> int:
    """Give back what an order holds and has not shipped (unpaid, cancelled, refunded)."""
    holds = _holds(session, order_id, (HELD, COMMITTED))
    return _release(session, holds, {"order_id": order_id}, reason)


def commit(session: Session, *, order_id: int) -> bool:
    """The order was paid: its holds stop expiring. False if it holds nothing any more."""
    holds = _holds(session, order_id, (HELD,))
    for hold in holds:
        _move(session, hold.lot_id, hold.sku_id, COMMIT, order_id=order_id, reason="已支付")
        hold.status = COMMITTED
    return bool(holds)


def reserve_and_commit(session: Session, *, order_id: int, lines: dict[int, int]) -> None:
    """Sell at once to an order paid after its holds were released; SoldOut if it is gone."""
    short = _allocate_lines(session, lines, order_id=order_id, status=COMMITTED)
    if short is not None:
        raise SoldOut(details={"sku_id": short})


def keep_lots(session: Session, *, batch_id: int) -> int:
    """Take the batch's sellable lots out of sale for the one buyer they are for (an adopted
    unit's harvest): no other order can hold them. Answers how many lots it kept."""
    return session.execute(
        update(Lot)
        .where(Lot.batch_id == batch_id, Lot.status == SELLABLE)
        .values(status=KEPT)
        .execution_options(synchronize_session=False)
    ).rowcount


def sell_lot(session: Session, *, order_id: int, lot_id: int, quantity: int) -> None:
    """Sell `quantity` units of one given lot (not FEFO) to a paid order at once — an adopted
    unit's harvest lot goes to its adopter whole; SoldOut if that lot has not that many free."""
    sku_id = session.scalar(select(Lot.sku_id).where(Lot.id == lot_id))
    owner = {"order_id": order_id}
    if sku_id is None or not _move(
        session, lot_id, sku_id, RESERVE, reserved=quantity, reason="认养收获锁定库存", **owner
    ):
        raise SoldOut(details={"lot_id": lot_id})
    session.add(
        StockReservation(lot_id=lot_id, sku_id=sku_id, quantity=quantity, status=COMMITTED, **owner)
    )
    _move(session, lot_id, sku_id, COMMIT, reason="认养收获", **owner)


def ship(session: Session, *, order_id: int) -> None:
    """The parcel left: the paid units leave the lots."""
    _ship(session, _holds(session, order_id, (COMMITTED,)), {"order_id": order_id})


def return_to_stock(
    session: Session, *, order_id: int, staff_id: int | None, reason: str = "退货入库"
) -> int:
    """Shipped units came back sellable: they rejoin their lot while it is still sellable."""
    returned = 0
    for hold in _holds(session, order_id, (SHIPPED,)):
        quantity = hold.quantity - hold.returned
        if quantity and _move(
            session,
            hold.lot_id,
            hold.sku_id,
            RETURN,
            on_hand=quantity,
            guard=_sellable(utcnow()),
            order_id=order_id,
            staff_id=staff_id,
            reason=reason,
        ):
            hold.returned += quantity
            returned += quantity
    return returned


def adjust(session: Session, *, lot_id: int, delta: int, reason: str, staff_id: int) -> Lot:
    """A staff stock-take correction; never below what orders hold."""
    lot = get_or_404(session, Lot, lot_id, "批次库存不存在", code="LOT_NOT_FOUND")
    if not reason.strip():
        raise RuleBroken("请填写调整原因", code="REASON_REQUIRED")
    before = lot.on_hand
    if delta == 0 or not _move(
        session, lot, lot.sku_id, ADJUST, on_hand=delta, staff_id=staff_id, reason=reason
    ):
        raise RuleBroken(
            "调整后库存不能少于已锁定数量，也不能为负",
            code="ADJUST_BELOW_RESERVED",
            details={"on_hand": lot.on_hand, "reserved": lot.reserved},
        )
    audit.record(
        session,
        staff=session.get(Staff, staff_id),
        action="stock.adjust",
        target_type="lot",
        target_id=lot.id,
        summary=f"{lot.code} 盘点调整 {delta:+d}：{reason.strip()}",
        before={"on_hand": before},
        after={"on_hand": before + delta, "reason": reason.strip()},
    )
    session.commit()
    session.refresh(lot)
    return lot
