"""Inventory: stock lives in lots with a use-by time; every stock read and write goes through here.

Every change to a lot is one conditional UPDATE plus one ledger row, so a lot's on_hand and
reserved always equal the sums of its ledger, and two orders racing for the last units can never
both get them (SQLite or PostgreSQL). Orders take units first-expiring-first-out (FEFO).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from backend.catalogue import cache
from backend.errors import RuleBroken, SoldOut, get_or_404
from backend.inventory import stock_cache
from backend.inventory.models import (
    ADJUST,
    COMMIT,
    COMMITTED,
    HELD,
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
from backend.timeutil import to_aware_utc, utcnow
from backend.transactions import on_commit

FEFO_ATTEMPTS = 5


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
    remaining = quantity
    for _ in range(FEFO_ATTEMPTS):
        now = utcnow()
        query = (
            select(Lot.id, Lot.on_hand - Lot.reserved)
            .where(Lot.sku_id == sku_id, _sellable(now), Lot.on_hand > Lot.reserved)
            .order_by(Lot.use_by, Lot.id)
        )
        if exclude_lot_id is not None:
            query = query.where(Lot.id != exclude_lot_id)
        lots = session.execute(query).all()
        if sum(free for _, free in lots) < remaining:
            return False
        plan, wanted = [], remaining
        for lot_id, free in lots:  # first expiring first ...
            if wanted == 0:
                break
            plan.append((lot_id, min(free, wanted)))
            wanted -= plan[-1][1]
        # ... but locked in lot-id order, like every other stock change, so that concurrent
        # transactions on PostgreSQL never wait on each other in a circle.
        for lot_id, take in sorted(plan):
            guard = and_(Lot.on_hand - Lot.reserved >= take, _sellable(now))
            owner = {
                "order_id": order_id,
                "flash_sale_id": flash_sale_id,
                "platform_order_id": platform_order_id,
            }
            if _move(
                session,
                lot_id,
                sku_id,
                RESERVE,
                reserved=take,
                guard=guard,
                reason="秒杀锁定库存" if flash_sale_id else "下单锁定库存",
                **owner,
            ):
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
        # Another order took units between our read and our update: read the lots again.
    return False


def reserve(session: Session, *, order_id: int, lines: dict[int, int]) -> None:
    """Hold stock for an order's lines ({sku_id: quantity}), FEFO across lots, or raise SoldOut.

    On SoldOut some units may already be held in this transaction: the caller rolls back.
    """
    for sku_id in sorted(lines):
        if not _allocate(session, order_id=order_id, sku_id=sku_id, quantity=lines[sku_id]):
            left = _available_from_ledger(session, [sku_id])[sku_id][0]
            raise SoldOut(details={"sku_id": sku_id, "available": left})


def _holds(
    session: Session, owner_id: int, statuses: tuple[str, ...], *, platform: bool = False
) -> list[StockReservation]:
    """An order's holds in these states (`platform`: the owner is a platform order)."""
    column = StockReservation.platform_order_id if platform else StockReservation.order_id
    return list(
        session.scalars(
            select(StockReservation)
            .where(column == owner_id, StockReservation.status.in_(statuses))
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
    for sku_id in sorted(lines):
        if not _allocate(
            session, order_id=order_id, sku_id=sku_id, quantity=lines[sku_id], status=COMMITTED
        ):
            raise SoldOut(details={"sku_id": sku_id})


def ship(session: Session, *, order_id: int) -> None:
    """The parcel left: the paid units leave the lots."""
    _ship(session, _holds(session, order_id, (COMMITTED,)), {"order_id": order_id})


# Orders of the outside platforms arrive paid: their units are sold at once (FEFO), released
# when the platform cancels or refunds before shipping, and leave the lots when shipped.
def sell_to_platform_order(
    session: Session, *, platform_order_id: int, lines: dict[int, int]
) -> None:
    """SoldOut when a SKU has too few units; the caller rolls back what was taken."""
    for sku_id in sorted(lines):
        if not _allocate(
            session,
            platform_order_id=platform_order_id,
            sku_id=sku_id,
            quantity=lines[sku_id],
            status=COMMITTED,
        ):
            available = _available_from_ledger(session, [sku_id])[sku_id][0]
            raise SoldOut(details={"sku_id": sku_id, "available": available})


def release_platform_order(session: Session, *, platform_order_id: int, reason: str) -> int:
    holds = _holds(session, platform_order_id, (COMMITTED,), platform=True)
    return _release(session, holds, {"platform_order_id": platform_order_id}, reason)


def ship_platform_order(session: Session, *, platform_order_id: int) -> None:
    holds = _holds(session, platform_order_id, (COMMITTED,), platform=True)
    _ship(session, holds, {"platform_order_id": platform_order_id})


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
    if delta == 0 or not _move(
        session, lot, lot.sku_id, ADJUST, on_hand=delta, staff_id=staff_id, reason=reason
    ):
        raise RuleBroken(
            "调整后库存不能少于已锁定数量，也不能为负",
            code="ADJUST_BELOW_RESERVED",
            details={"on_hand": lot.on_hand, "reserved": lot.reserved},
        )
    session.commit()
    session.refresh(lot)
    return lot
