"""Flash sales (秒杀): a host sells N units of a SKU at a price for T seconds with a per-person
limit. The units leave the lots at start; each claim is one atomic Redis script (window,
remaining units, the person's limit, the Idempotency-Key) and then becomes a hold plus an order
to pay within M minutes. Unpaid claims give their units back to the sale while it runs (to
stock after it ends), and at the end the rest goes back to stock. A scheduled check proves
units sold + held + remaining = units allocated."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.catalogue import service as catalogue
from backend.errors import BadRequest, Conflict, NotFound, RuleBroken, SoldOut, get_or_404
from backend.inventory import sales as sale_stock
from backend.inventory.models import COMMITTED, HELD, SHIPPED, StockReservation
from backend.live.models import ENDED, RUNNING, FlashClaim, FlashSale
from backend.orders import limits
from backend.orders import service as orders
from backend.orders.models import Order
from backend.queue import enqueue_at, redis_client
from backend.staff import service as staff
from backend.timeutil import to_aware_utc, utcnow
from backend.transactions import on_commit, retry_conflicts

# KEYS: sale hash, per-person counts, idempotency answers, per-address counts. ARGV: now,
# person, quantity, key, address ('' for none: the co-host bot's claims), units per address.
# Answers {status, value}: OK (units left), REPLAY (order id, or "PENDING|quantity|time|address"
# while the claim's order is being written), NO_SALE, NOT_STARTED, ENDED, OVER_LIMIT (units the
# person may still take), OVER_IP_LIMIT (units the address may still take), SOLD_OUT (units
# left). Units claimed from an address stay counted when their order expires unpaid.
CLAIM = """
local answer = redis.call('HGET', KEYS[3], ARGV[2] .. ':' .. ARGV[4])
if answer then return {'REPLAY', answer} end
local sale = redis.call('HMGET', KEYS[1], 'starts', 'ends', 'remaining', 'limit', 'state')
if not sale[1] then return {'NO_SALE', ''} end
local now, quantity = tonumber(ARGV[1]), tonumber(ARGV[3])
if sale[5] ~= 'RUNNING' or now >= tonumber(sale[2]) then return {'ENDED', ''} end
if now < tonumber(sale[1]) then return {'NOT_STARTED', ''} end
local mine, limit = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0'), tonumber(sale[4])
if mine + quantity > limit then return {'OVER_LIMIT', tostring(limit - mine)} end
local address = ARGV[5] or ''
if address ~= '' then
  local taken, most = tonumber(redis.call('HGET', KEYS[4], address) or '0'), tonumber(ARGV[6])
  if taken + quantity > most then return {'OVER_IP_LIMIT', tostring(most - taken)} end
end
local remaining = tonumber(sale[3])
if remaining < quantity then return {'SOLD_OUT', tostring(remaining)} end
redis.call('HINCRBY', KEYS[1], 'remaining', -quantity)
redis.call('HINCRBY', KEYS[2], ARGV[2], quantity)
if address ~= '' then redis.call('HINCRBY', KEYS[4], address, quantity) end
redis.call('HSET', KEYS[3], ARGV[2] .. ':' .. ARGV[4],
  'PENDING|' .. quantity .. '|' .. ARGV[1] .. '|' .. address)
return {'OK', tostring(remaining - quantity)}
"""

# A claim whose order was never written (its process died between the script and the
# database): give its units back, but only if its marker is still exactly the one seen.
# KEYS as CLAIM; ARGV: answer field, marker, person, quantity, address ('' for none).
REPAIR = """
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('HGET', KEYS[1], 'state') ~= 'RUNNING' then return 1 end
redis.call('HINCRBY', KEYS[1], 'remaining', tonumber(ARGV[4]))
redis.call('HINCRBY', KEYS[2], ARGV[3], -tonumber(ARGV[4]))
if ARGV[5] ~= '' then redis.call('HINCRBY', KEYS[4], ARGV[5], -tonumber(ARGV[4])) end
return 1
"""
STALE_CLAIM_SECONDS = 30

# Undo a claim whose order could not be written, or give an unpaid claim's units back.
# KEYS as CLAIM; ARGV: person, quantity, key ("" keeps the key's answer), address whose
# count goes back too ("": none, as for an unpaid claim).
GIVE_BACK = """
if redis.call('HGET', KEYS[1], 'state') ~= 'RUNNING' then return 0 end
redis.call('HINCRBY', KEYS[1], 'remaining', tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[2], ARGV[1], -tonumber(ARGV[2]))
if ARGV[3] ~= '' then redis.call('HDEL', KEYS[3], ARGV[1] .. ':' .. ARGV[3]) end
if (ARGV[4] or '') ~= '' then redis.call('HINCRBY', KEYS[4], ARGV[4], -tonumber(ARGV[2])) end
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


def _keys(sale_id: int) -> list[str]:
    base = f"heli:flash:{sale_id}"
    return [base, f"{base}:people", f"{base}:answers", f"{base}:addresses"]


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
    return get_or_404(session, FlashSale, sale_id, "秒杀活动不存在", code="FLASH_SALE_NOT_FOUND")


def claim(
    session: Session,
    *,
    sale_id: int,
    customer_id: int,
    quantity: int,
    idempotency_key: str,
    address: dict | None = None,
    ip: str | None = None,
) -> tuple[Order, bool]:
    """Race for units: (the order to pay, True) or a clear refusal. A repeated key answers the
    first claim's order (False). Within the buyer's limits (orders/limits.py): 429 past the
    claim rates of the account and of `ip` (the request's address; None for the co-host bot),
    422 past the units one address may claim of the sale, 409 past what one buyer may hold."""
    limits.count_claim(customer_id=customer_id, ip=ip)
    keys, ip = _keys(sale_id), ip or ""
    status, value = (
        part.decode()
        for part in redis_client().eval(
            CLAIM,
            len(keys),
            *keys,
            time.time(),
            customer_id,
            quantity,
            idempotency_key,
            ip,
            limits.claims_per_ip_per_sale(),
        )
    )
    if status == "REPLAY":
        if value.startswith("PENDING"):
            raise Conflict("抢购处理中，请稍后刷新", code="CLAIM_IN_PROGRESS")
        return orders.get_order(session, customer_id=customer_id, order_id=int(value)), False
    if status != "OK":
        _refuse(session, sale_id, status, value)
    try:
        order = _write_claim(
            session,
            sale_id=sale_id,
            customer_id=customer_id,
            quantity=quantity,
            idempotency_key=idempotency_key,
            address=address,
        )
    except BaseException:
        session.rollback()
        redis_client().eval(GIVE_BACK, len(keys), *keys, customer_id, quantity, idempotency_key, ip)
        raise
    redis_client().hset(keys[2], f"{customer_id}:{idempotency_key}", order.id)
    return order, True


@retry_conflicts
def _write_claim(
    session: Session,
    *,
    sale_id: int,
    customer_id: int,
    quantity: int,
    idempotency_key: str,
    address: dict | None,
) -> Order:
    """The order of a claim the Redis script granted, its units moved from the sale."""
    sale = _sale(session, sale_id)
    order = orders.create_flash_order(
        session,
        customer_id=customer_id,
        sku_id=sale.sku_id,
        quantity=quantity,
        price=sale.price,
        pay_minutes=sale.pay_minutes,
        flash_sale_id=sale.id,
        address=address,
    )
    sale_stock.sale_to_order(session, flash_sale_id=sale.id, order_id=order.id, quantity=quantity)
    session.add(
        FlashClaim(
            flash_sale_id=sale.id,
            customer_id=customer_id,
            idempotency_key=idempotency_key,
            quantity=quantity,
            order_id=order.id,
        )
    )
    session.commit()
    return order


def _refuse(session: Session, sale_id: int, status: str, value: str) -> None:
    if status == "NO_SALE":
        _sale(session, sale_id)  # NotFound for unknown sales
        raise RuleBroken("秒杀已结束", code="FLASH_SALE_ENDED")
    if status == "NOT_STARTED":
        raise RuleBroken("秒杀还未开始", code="FLASH_SALE_NOT_STARTED")
    if status == "ENDED":
        raise RuleBroken("秒杀已结束", code="FLASH_SALE_ENDED")
    if status == "OVER_LIMIT":
        raise RuleBroken(
            f"每人限购，您最多还能抢 {max(int(value), 0)} 份",
            code="OVER_PERSON_LIMIT",
            details={"left_for_you": max(int(value), 0)},
        )
    if status == "OVER_IP_LIMIT":
        most = limits.claims_per_ip_per_sale()
        raise RuleBroken(
            f"同一网络本场秒杀最多抢 {most} 份，当前网络还能抢 {max(int(value), 0)} 份",
            code="OVER_IP_LIMIT",
            details={"left_for_address": max(int(value), 0), "limit": most},
        )
    raise SoldOut("手慢了，已抢光", details={"remaining": max(0, int(value))})


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
    keys, customer_id = _keys(sale.id), order.customer_id
    on_commit(
        session,
        lambda: redis_client().eval(GIVE_BACK, len(keys), *keys, customer_id, units, "", ""),
    )


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
    """Stop a sale (at its end, or by the host): what it still holds goes back to stock."""
    sale = _sale(session, sale_id)
    if sale.status == ENDED:
        return sale
    redis_client().hset(_keys(sale_id)[0], "state", ENDED)  # no claim gets in from now on
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


def repair_stale_claims(session: Session, *, sale_id: int) -> int:
    """Claims left half-done by a process that died: finish the answer when the order exists,
    else give the units back. Answers how many were repaired."""
    keys, repaired = _keys(sale_id), 0
    for field, marker in redis_client().hgetall(keys[2]).items():
        field, marker = field.decode(), marker.decode()
        if not marker.startswith("PENDING"):
            continue
        _, quantity, claimed_at, *address = marker.split("|")
        if time.time() - float(claimed_at) < STALE_CLAIM_SECONDS:
            continue  # probably still being written
        customer_id, idempotency_key = field.split(":", 1)
        order_id = session.scalar(
            select(FlashClaim.order_id).where(
                FlashClaim.flash_sale_id == sale_id,
                FlashClaim.customer_id == int(customer_id),
                FlashClaim.idempotency_key == idempotency_key,
            )
        )
        if order_id is not None:
            redis_client().hset(keys[2], field, order_id)
        else:
            redis_client().eval(
                REPAIR, len(keys), *keys, field, marker, customer_id, quantity, "".join(address)
            )
        repaired += 1
    return repaired


def reconcile(session: Session, *, sale_id: int) -> dict:
    """Prove units paid + held + remaining (+ released at the end) = units allocated, and the
    sale's own holds = Redis's remaining while it runs; a mismatch is put before staff."""
    sale = _sale(session, sale_id)
    repair_stale_claims(session, sale_id=sale_id)
    claimed = _claimed_units(session, sale_id)
    in_sale = sale_stock.sale_held_units(session, sale_id)
    redis_left = int(redis_client().hget(_keys(sale_id)[0], "remaining") or 0)
    # Claims the script granted whose orders are still being written: not yet moved in the DB.
    in_flight = sum(
        int(marker.split(b"|")[1])
        for marker in redis_client().hvals(_keys(sale_id)[2])
        if marker.startswith(b"PENDING")
    )
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
