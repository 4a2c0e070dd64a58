"""Flash sales (秒杀): a host sells N units of a SKU at a price for T seconds with a per-person
limit. The units leave the lots at start; each claim is one atomic Redis script and then
becomes a hold plus an order to pay within M minutes, written by a worker (flash_claims.py).
Unpaid claims give their units back to the sale while it runs (to stock after it ends), and at
the end the rest goes back to stock. A scheduled check proves units sold + held + remaining =
units allocated."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.audit import service as audit
from backend.catalogue import service as catalogue
from backend.errors import BadRequest, NotFound, SoldOut
from backend.inventory import sales as sale_stock
from backend.inventory.models import COMMITTED, HELD, SHIPPED, StockReservation
from backend.live import flash_claims
from backend.live.models import ENDED, RUNNING, FlashClaim, FlashSale
from backend.orders.models import Order
from backend.queue import enqueue_at, redis_client
from backend.staff import service as staff
from backend.staff.models import Staff
from backend.timeutil import to_aware_utc, utcnow
from backend.transactions import lock_row, on_commit

# An unpaid claim's units go back to the running sale. KEYS: sale hash, per-person counts.
# ARGV: person, quantity.
GIVE_BACK = """
if redis.call('HGET', KEYS[1], 'state') ~= 'RUNNING' then return 0 end
redis.call('HINCRBY', KEYS[1], 'remaining', tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[2], ARGV[1], -tonumber(ARGV[2]))
return 1
"""


# Units the sale held on a lot that expired with no other lot to replace them are gone.
# KEYS as CLAIM; ARGV: units. Not clamped at 0: a claim the script granted meanwhile fails
# for want of stock and gives its units back, which brings remaining to the truth again.
LOSE = """
if redis.call('HGET', KEYS[1], 'state') ~= 'RUNNING' then return 0 end
redis.call('HINCRBY', KEYS[1], 'remaining', -tonumber(ARGV[1]))
return 1
"""


_keys = flash_claims.keys


def _publish(sale: FlashSale, remaining: int) -> None:
    redis_client().hset(
        _keys(sale.id)[0],
        mapping={
            "starts": to_aware_utc(sale.starts_at).timestamp(),
            "ends": to_aware_utc(sale.ends_at).timestamp(),
            "remaining": remaining,
            "limit": sale.per_person_limit,
            "state": sale.status,
        },
    )


def start_sale(
    session: Session,
    *,
    sku_id: int,
    units: int,
    price: int,
    seconds: int,
    per_person_limit: int,
    pay_minutes: int,
    staff_id: int | None,
    room_id: int | None = None,
    starts_in: int = 0,
) -> FlashSale:
    """Open a sale that starts now or in `starts_in` seconds (claims before then are refused,
    the co-host bot counts down): its units leave the lots at once (FEFO, ledger rows) or
    SoldOut."""
    if per_person_limit > units:
        raise BadRequest("每人限购数量不能超过秒杀总量", code="LIMIT_ABOVE_UNITS")
    sku = catalogue.skus_for_sale(session, [sku_id]).get(sku_id)
    if sku is None or not (sku.on_sale and sku.product.on_sale):
        raise NotFound("商品不存在或已下架", code="SKU_NOT_FOUND")
    now = utcnow() + timedelta(seconds=starts_in)
    sale = FlashSale(
        room_id=room_id,
        sku_id=sku_id,
        price=price,
        units=units,
        per_person_limit=per_person_limit,
        pay_minutes=pay_minutes,
        starts_at=now,
        ends_at=now + timedelta(seconds=seconds),
        status=RUNNING,
        created_by=staff_id,
    )
    session.add(sale)
    session.flush()
    try:
        sale_stock.hold_for_sale(session, flash_sale_id=sale.id, sku_id=sku_id, units=units)
    except SoldOut:
        session.rollback()
        raise
    audit.record(
        session,
        staff=session.get(Staff, staff_id) if staff_id else None,
        action="flash_sale.start",
        target_type="flash_sale",
        target_id=sale.id,
        summary=f"秒杀 {sku.product.name} {sku.spec}：{units} 份，¥{price / 100:.2f}，"
        f"每人限 {per_person_limit} 份",
        after={"price": price, "units": units, "per_person_limit": per_person_limit},
    )
    sale_id, ends_at = sale.id, sale.ends_at
    on_commit(
        session,
        lambda: enqueue_at(
            to_aware_utc(ends_at),
            "jobs.live.end_flash_sale",
            sale_id,
            job_id=f"end-flash-sale-{sale_id}",
        ),
    )
    session.commit()
    _publish(sale, units)
    return sale


def _sale(session: Session, sale_id: int) -> FlashSale:
    return flash_claims.sale_or_404(session, sale_id)


def give_back(session: Session, *, order: Order) -> None:
    """An unpaid claim's units go back to the sale while it runs (else the caller releases
    them to stock). The caller commits."""
    sale = session.get(FlashSale, order.flash_sale_id)
    claimed = session.scalar(select(FlashClaim).where(FlashClaim.order_id == order.id))
    if claimed is None or claimed.returned_to:
        return
    if sale.status != RUNNING or sale.ends_at <= utcnow():
        claimed.returned_to = "stock"  # the caller releases the holds to the lots
        return
    claimed.returned_to = "sale"
    units = sale_stock.order_to_sale(session, order_id=order.id, flash_sale_id=sale.id)
    # Units on a lot that expired with no replacement (the reason the order is cancelled) went
    # back to that lot, not to the sale.
    sale.released_units += claimed.quantity - units
    if not units:
        return  # (GIVE_BACK with 0 would send Redis "-0", which HINCRBY refuses)
    keys, customer_id = _keys(sale.id)[:2], order.customer_id
    on_commit(session, lambda: redis_client().eval(GIVE_BACK, 2, *keys, customer_id, units))


def lose_expired_units(session: Session, *, sale_id: int, units: int, lot_id: int) -> None:
    """Units the sale held on a lot that reached its use-by, with no other lot of the SKU to take
    them from, left the sale with the lot: it offers that many fewer (counted as released) and
    staff are told. The caller commits."""
    sale = _sale(session, sale_id)
    sale.released_units += units
    staff.raise_alert(
        session,
        kind="FLASH_SALE_LOT_EXPIRED",
        title=f"秒杀 {sale_id} 所用批次到期，且没有其他批次可替换，秒杀余量减少 {units} 份",
        flash_sale_id=sale_id,
        lot_id=lot_id,
        units=units,
    )
    keys = _keys(sale_id)
    on_commit(session, lambda: redis_client().eval(LOSE, len(keys), *keys, units))


def end_sale(session: Session, *, sale_id: int) -> FlashSale:
    """Stop a sale (at its end, or by the host): every claim it granted is written first, then
    what it still holds goes back to stock."""
    sale = _sale(session, sale_id)
    if sale.status == ENDED:
        return sale
    redis_client().hset(_keys(sale_id)[0], "state", ENDED)  # no claim gets in from now on
    flash_claims.settle_pending(session, sale_id=sale_id)
    lock_row(session, FlashSale, sale_id)
    session.refresh(sale)
    if sale.status == ENDED:  # ended meanwhile by someone else
        session.commit()
        return sale
    sale.status, sale.ended_at = ENDED, utcnow()
    sale.released_units += sale_stock.release_sale(session, flash_sale_id=sale.id)
    session.commit()
    return sale


def _claimed_units(session: Session, sale_id: int) -> dict[str, int]:
    rows = session.execute(
        select(StockReservation.status, func.coalesce(func.sum(StockReservation.quantity), 0))
        .where(
            StockReservation.flash_sale_id == sale_id,
            StockReservation.order_id.is_not(None),
            StockReservation.status.in_((HELD, COMMITTED, SHIPPED)),
        )
        .group_by(StockReservation.status)
    ).all()
    found = dict(rows)
    return {
        "held": int(found.get(HELD, 0)),
        "paid": int(found.get(COMMITTED, 0)) + int(found.get(SHIPPED, 0)),
    }


def sale_view(session: Session, *, sale_id: int) -> dict:
    """What viewers and the host see: remaining units, claimed and paid, and the countdown."""
    sale = _sale(session, sale_id)
    remaining = redis_client().hget(_keys(sale_id)[0], "remaining")
    claimed = _claimed_units(session, sale_id)
    left = 0 if sale.status == ENDED else max(0, int(remaining or 0))
    return {
        "id": sale.id,
        "sku_id": sale.sku_id,
        "price": sale.price,
        "units": sale.units,
        "per_person_limit": sale.per_person_limit,
        "status": sale.status,
        "remaining": left,
        "held": claimed["held"],
        "paid": claimed["paid"],
        "sold_out": sale.status == RUNNING and left == 0,
        "seconds_left": max(0, int((sale.ends_at - utcnow()).total_seconds()))
        if sale.status == RUNNING
        else 0,
        "starts_in": max(0, int((sale.starts_at - utcnow()).total_seconds()))
        if sale.status == RUNNING
        else 0,
    }


def reconcile(session: Session, *, sale_id: int) -> dict:
    """Prove units paid + held + remaining (+ released at the end) = units allocated, and the
    sale's own holds = Redis's remaining + claims not written yet while it runs; claims no writer
    finished in time are written first. A mismatch is put before staff."""
    sale = _sale(session, sale_id)
    flash_claims.settle_pending(
        session, sale_id=sale_id, older_than=flash_claims.STALE_CLAIM_SECONDS
    )
    # Writers of this sale wait meanwhile: the database and Redis are seen at one moment.
    lock_row(session, FlashSale, sale_id)
    session.refresh(sale)
    claimed = _claimed_units(session, sale_id)
    in_sale = sale_stock.sale_held_units(session, sale_id)
    redis_left, pending = flash_claims.redis_state(sale_id)
    moved = flash_claims.written(session, sale_id, pending)  # only Redis lags behind
    in_flight = sum(claim.quantity for claim in pending if claim.field not in moved)
    to_stock = session.scalar(
        select(func.coalesce(func.sum(FlashClaim.quantity), 0)).where(
            FlashClaim.flash_sale_id == sale_id, FlashClaim.returned_to == "stock"
        )
    )
    accounted = claimed["paid"] + claimed["held"] + in_sale + sale.released_units + to_stock
    balanced = accounted == sale.units
    if sale.status == RUNNING:
        balanced = balanced and in_sale == redis_left + in_flight
    report = {
        "sale_id": sale_id,
        "units": sale.units,
        **claimed,
        "in_sale": in_sale,
        "released": sale.released_units + to_stock,
        "redis_remaining": redis_left,
        "in_flight": in_flight,
        "balanced": balanced,
    }
    if not balanced:
        staff.raise_alert(
            session,
            kind="FLASH_SALE_UNBALANCED",
            title=f"秒杀 {sale_id} 库存对账不平，请检查",
            **report,
        )
    session.commit()
    return report


def open_sale_ids(session: Session) -> list[int]:
    return list(session.scalars(select(FlashSale.id).where(FlashSale.status == RUNNING)))
