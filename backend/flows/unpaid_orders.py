"""Ending an order that waits for payment — by the buyer, at the pay deadline, or when the lot
holding its units expires. It spans orders (the status), payments (WeChat Pay must close first, so
the order cannot be paid after), live (a flash-sale order's units go back to the running sale)
and inventory (the rest go back to their lots)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.adoption import adopting
from backend.errors import Conflict
from backend.inventory import expiry
from backend.live import flash_sales
from backend.orders import events, lifecycle
from backend.orders import service as orders
from backend.orders.models import ADOPTION, Order
from backend.payments import service as payments
from backend.queue import enqueue
from backend.staff import service as staff
from backend.timeutil import utcnow
from backend.transactions import on_commit, retry_conflicts

LOT_EXPIRED_REASON = "商品批次已到期且库存不足，订单已自动取消"


def _cancel(session: Session, order_id: int, reason: str) -> bool:
    """Cancel the unpaid order and give its units back; the caller commits."""
    if not orders.cancel_unpaid(session, order_id=order_id, reason=reason):
        return False
    order = session.get(Order, order_id)
    if order.kind == ADOPTION:  # the unit it held goes back
        adoption = adopting.adoption_of_order(session, order_id)
        if adoption is not None:
            adopting.end_unpaid(session, adoption_id=adoption.id)
    if order.flash_sale_id is not None:
        flash_sales.give_back(session, order=order)
    orders.release_holds(session, order_id=order_id, reason=reason)
    return True


@retry_conflicts
def cancel_order(session: Session, *, customer_id: int, order_id: int) -> Order:
    """The consumer cancels an unpaid order: WeChat Pay closes first, so it can't be paid after."""
    order = orders.get_order(session, customer_id=customer_id, order_id=order_id)
    lifecycle.ensure_allowed("CANCELLED", order.status)
    if payments.close_open_payment(session, order_id=order.id) == payments.ALREADY_PAID:
        raise Conflict("订单已支付，无法取消", code="ORDER_ALREADY_PAID")
    _cancel(session, order.id, "用户取消")
    session.commit()
    session.refresh(order)
    return order


@retry_conflicts
def expire_unpaid(session: Session, *, order_id: int) -> str:
    """At the pay deadline: settle a payment that happened, else close it and cancel the order."""
    order = session.get(Order, order_id)
    if order is None or order.status not in lifecycle.TRANSITIONS["CANCELLED"].sources:
        return "not_pending"
    if order.pay_deadline > utcnow():
        return "not_due"
    if payments.close_open_payment(session, order_id=order_id) == payments.ALREADY_PAID:
        return "paid"
    cancelled = _cancel(session, order_id, "超时未支付")
    session.commit()
    return "cancelled" if cancelled else "not_pending"


@retry_conflicts
def take_lot_off_sale(session: Session, *, lot_id: int) -> dict:
    """At a lot's use-by: its open holds move to other lots of the SKU; an unpaid order that
    cannot be served is cancelled with the reason shown to the buyer, a paid one goes to staff,
    and a running flash sale offers fewer units."""
    orders.lock_orders(session, order_ids=expiry.order_ids_holding(session, lot_id=lot_id))
    result = expiry.expire(session, lot_id=lot_id)
    for order_id in set(result["moved"]):
        events.record(session, order_id, "STOCK_MOVED", from_lot_id=lot_id)
    for order_id in set(result["unmoved_unpaid"]):
        if _cancel(session, order_id, LOT_EXPIRED_REASON):
            on_commit(
                session,
                lambda order_id=order_id: enqueue(
                    "jobs.payments.close_payment", order_id, job_id=f"close-payment-{order_id}"
                ),
            )
    for order_id in set(result["unmoved_paid"]):
        staff.raise_alert(
            session,
            kind="PAID_ORDER_LOT_EXPIRED",
            title="已支付订单所用批次到期，且没有其他批次可替换，请人工处理",
            order_id=order_id,
            lot_id=lot_id,
        )
    for platform_order_id in set(result["unmoved_platform"]):
        staff.raise_alert(
            session,
            kind="PLATFORM_ORDER_LOT_EXPIRED",
            title="平台订单所用批次到期，且没有其他批次可替换，请人工处理",
            platform_order_id=platform_order_id,
            lot_id=lot_id,
        )
    lost: dict[int, int] = {}
    for sale_id, units in result["unmoved_sale"]:
        lost[sale_id] = lost.get(sale_id, 0) + units
    for sale_id, units in lost.items():
        flash_sales.lose_expired_units(session, sale_id=sale_id, units=units, lot_id=lot_id)
    session.commit()
    return result
