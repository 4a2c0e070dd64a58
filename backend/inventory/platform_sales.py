"""Stock of the orders from the outside platforms, settled many orders at a time (a pull window):
they arrive paid, so their units are sold at once (FEFO), given back when the platform cancels
or refunds before shipping, and leave the lots when shipped. Part of the inventory service: the
same ledger and the same rules as one order at a time, in a few statements per batch.

The lots a batch touches are locked first, in id order like every other stock change (SELECT
... FOR UPDATE on PostgreSQL; SQLite has one writer), then planned in memory and changed by one
guarded UPDATE per lot, so no lot is ever sold below zero even if it moved after our read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Integer, and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from backend.errors import Conflict
from backend.inventory.models import (
    COMMIT,
    COMMITTED,
    RELEASE,
    RELEASED,
    RESERVE,
    SELLABLE,
    SHIP,
    SHIPPED,
    Lot,
    StockMovement,
    StockReservation,
)
from backend.inventory.service import _changed, _sellable
from backend.timeutil import utcnow


class StockMoved(Conflict):
    """A lot changed between the batch's read and its write (only where rows are not locked):
    nothing of the batch may stand; the caller rolls back and tries again."""

    code, message = "STOCK_MOVED", "库存刚刚变动，请重试"


def settle(
    session: Session,
    *,
    sell: dict[int, dict[int, int]] | None = None,
    ship: Iterable[int] = (),
    release: dict[int, str] | None = None,
) -> dict[int, dict]:
    """Give back the units of the `release` orders ({platform order id: reason}), sell the
    `sell` orders their lines ({platform order id: {sku_id: quantity}}, in that order, each
    FEFO across lots, each all or nothing), then ship the `ship` orders' sold units (those sold
    just now included). Answers the sales that found too few units and took nothing:
    {platform order id: {"sku_id", "available"}}."""
    sell, release, ship = sell or {}, release or {}, set(ship)
    now = utcnow()
    holds = _committed_holds(session, set(release) | ship)
    lots = _lock_lots(session, {h.lot_id for h in holds}, {s for ls in sell.values() for s in ls})
    plan = _Plan(lots, now)
    for hold in holds:
        owner = hold.platform_order_id
        if owner in release:
            plan.move(hold.lot_id, hold.sku_id, owner, RELEASE, reserved=-hold.quantity)
            plan.reasons[(owner, RELEASE)] = release[owner]
            hold.status = RELEASED
        else:
            plan.move(
                hold.lot_id,
                hold.sku_id,
                owner,
                SHIP,
                on_hand=-hold.quantity,
                reserved=-hold.quantity,
            )
            hold.status = SHIPPED
    short = {}
    for owner, lines in sell.items():
        missing = plan.sell(owner, lines, shipped=owner in ship)
        if missing is not None:
            short[owner] = missing
    plan.write(session, now)
    return short


def _committed_holds(session: Session, owners: set[int]) -> list[StockReservation]:
    if not owners:
        return []
    return list(
        session.scalars(
            select(StockReservation)
            .where(
                StockReservation.platform_order_id.in_(owners),
                StockReservation.status == COMMITTED,
            )
            .order_by(StockReservation.lot_id, StockReservation.id)
        )
    )


def _lock_lots(session: Session, lot_ids: set[int], sku_ids: set[int]) -> list[tuple]:
    """The lots of these holds and the sellable lots with free units of these SKUs, locked in
    id order: (id, sku_id, on_hand, reserved, sellable)."""
    if not lot_ids and not sku_ids:
        return []
    now = utcnow()
    sellable = _sellable(now)
    wanted = []
    if lot_ids:
        wanted.append(Lot.id.in_(lot_ids))
    if sku_ids:
        wanted.append(and_(Lot.sku_id.in_(sku_ids), sellable, Lot.on_hand > Lot.reserved))
    return list(
        session.execute(
            select(Lot.id, Lot.sku_id, Lot.on_hand, Lot.reserved, Lot.use_by, Lot.status)
            .where(or_(*wanted))
            .order_by(Lot.id)
            .with_for_update()
        ).all()
    )


class _Plan:
    """The batch's changes to each lot and its ledger rows and holds, built in memory."""

    def __init__(self, lots: list[tuple], now):
        self.free: dict[int, int] = {}  # sellable lots: units nobody holds
        self.fefo: dict[int, list[int]] = defaultdict(list)  # sku → sellable lots, FEFO
        for lot_id, sku_id, on_hand, reserved, use_by, status in sorted(
            lots, key=lambda lot: (lot[4], lot[0])
        ):
            if status == SELLABLE and use_by > now:
                self.free[lot_id] = on_hand - reserved
                self.fefo[sku_id].append(lot_id)
        self.delta: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # lot → [on_hand, reserved]
        self.sold_from: set[int] = set()  # lots that must still be sellable when written
        self.movements: list[dict] = []
        self.holds: list[dict] = []
        self.reasons: dict[tuple[int, str], str] = {}

    def move(self, lot_id, sku_id, owner, kind, *, on_hand=0, reserved=0) -> None:
        self.delta[lot_id][0] += on_hand
        self.delta[lot_id][1] += reserved
        if lot_id in self.free:
            self.free[lot_id] += on_hand - reserved
        self.movements.append(
            {
                "lot_id": lot_id,
                "sku_id": sku_id,
                "kind": kind,
                "on_hand_delta": on_hand,
                "reserved_delta": reserved,
                "platform_order_id": owner,
            }
        )

    def sell(self, owner: int, lines: dict[int, int], *, shipped: bool) -> dict | None:
        """Take every line of one order, or nothing: answers what was short."""
        for sku_id in sorted(lines):
            available = sum(self.free[lot_id] for lot_id in self.fefo.get(sku_id, ()))
            if available < lines[sku_id]:
                return {"sku_id": sku_id, "available": available}
        for sku_id in sorted(lines):
            wanted = lines[sku_id]
            for lot_id in self.fefo[sku_id]:
                take = min(self.free[lot_id], wanted)
                if take == 0:
                    continue
                self.move(lot_id, sku_id, owner, RESERVE, reserved=take)
                self.move(lot_id, sku_id, owner, COMMIT)
                if shipped:
                    self.move(lot_id, sku_id, owner, SHIP, on_hand=-take, reserved=-take)
                self.sold_from.add(lot_id)
                self.holds.append(
                    {
                        "lot_id": lot_id,
                        "sku_id": sku_id,
                        "quantity": take,
                        "status": SHIPPED if shipped else COMMITTED,
                        "platform_order_id": owner,
                    }
                )
                wanted -= take
                if wanted == 0:
                    break
        return None

    def write(self, session: Session, now) -> None:
        """One guarded UPDATE per lot in id order, then the ledger rows and holds in bulk."""
        changes = [
            {
                "lot": lot_id,
                "on_hand": d[0],
                "reserved": d[1],
                "sold": int(lot_id in self.sold_from),
            }
            for lot_id, d in sorted(self.delta.items())
            if d != [0, 0]
        ]
        if changes:
            done = session.execute(
                update(Lot.__table__)
                .where(
                    Lot.id == bindparam("lot"),
                    Lot.reserved + bindparam("reserved") >= 0,
                    Lot.on_hand + bindparam("on_hand") >= Lot.reserved + bindparam("reserved"),
                    or_(bindparam("sold", type_=Integer) == 0, _sellable(now)),
                )
                .values(
                    on_hand=Lot.on_hand + bindparam("on_hand"),
                    reserved=Lot.reserved + bindparam("reserved"),
                ),
                changes,
            )
            if done.rowcount != len(changes):
                raise StockMoved()
        for movement in self.movements:
            kind = movement["kind"]
            movement["reason"] = (
                self.reasons.get((movement["platform_order_id"], kind)) or (_REASONS[kind])
            )
        if self.movements:
            session.execute(insert(StockMovement), self.movements)
        if self.holds:
            session.execute(insert(StockReservation), self.holds)
        if self.movements:
            _changed(session, {movement["sku_id"] for movement in self.movements})


_REASONS = {RESERVE: "下单锁定库存", COMMIT: "已支付", SHIP: "发货出库", RELEASE: "释放库存"}
