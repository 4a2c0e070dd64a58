"""The life of an order: every status, every allowed move and the event that causes it.

This module is the only code that changes `Order.status` (tests/test_order_lifecycle.py checks
that no other module assigns it). A move is one conditional UPDATE ... WHERE status IN (the
event's sources), so of two racing moves exactly one wins; the other gets `IllegalTransition`
(or False from `try_move`). Each move is written to the order's history (`order_events`, kind =
the event). The statuses are the mini-program's contract and grow only by adding: fulfilment
added DELIVERED between SHIPPED and COMPLETED (the courier's delivered scan).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.clients.platforms.base import OUR_STATUSES as PLATFORM_STATUSES
from backend.errors import Conflict
from backend.orders.events import record
from backend.orders.models import (
    CANCELLED,
    COMPLETED,
    DELIVERED,
    PAID,
    PENDING_PAYMENT,
    REFUNDED,
    REFUNDING,
    SHIPPED,
    Order,
)
from backend.timeutil import utcnow

STATUSES = (PENDING_PAYMENT, PAID, SHIPPED, DELIVERED, COMPLETED, CANCELLED, REFUNDING, REFUNDED)
# A target meaning "back to the status the refund request interrupted" (status_before_refund).
RESUME = "RESUME"


@dataclass(frozen=True)
class Transition:
    event: str
    sources: tuple[str, ...]
    target: str
    cause: str
    # What the person who asked is told when the order's status does not allow the move.
    refused_code: str = "ORDER_STATUS_CONFLICT"
    refused_message: str = "订单当前状态不允许该操作"


TRANSITIONS: dict[str, Transition] = {
    t.event: t
    for t in (
        Transition(
            "PAID",
            (PENDING_PAYMENT, CANCELLED),
            PAID,
            "WeChat Pay confirms the payment; a payment that lands after the pay window "
            "cancelled the order still counts (stock is taken again, or the money refunded)",
        ),
        Transition(
            "CANCELLED",
            (PENDING_PAYMENT,),
            CANCELLED,
            "the buyer cancels, the pay window ends, or the order's lot expired with no "
            "other lot to serve it",
            "ORDER_NOT_CANCELLABLE",
            "只有待支付的订单可以取消",
        ),
        Transition(
            "SHIPPED",
            (PAID,),
            SHIPPED,
            "the parcel leaves with its tracking number",
            "ORDER_NOT_SHIPPABLE",
            "只有已支付的订单可以发货",
        ),
        Transition(
            "DELIVERED",
            (SHIPPED,),
            DELIVERED,
            "the courier's delivered scan: the auto-confirm timer and the dead-on-arrival "
            "window start here",
        ),
        Transition(
            "COMPLETED",
            (SHIPPED, DELIVERED),
            COMPLETED,
            "the buyer confirms receipt, or AUTO_CONFIRM_DAYS pass after delivery (after "
            "shipping when no delivered scan ever came)",
            "ORDER_NOT_RECEIVABLE",
            "只有已发货的订单可以确认收货",
        ),
        Transition(
            "REFUND_REQUESTED",
            (PAID, SHIPPED, DELIVERED, COMPLETED),
            REFUNDING,
            "the buyer asks for a refund or a return (a dead-on-arrival claim does not stop "
            "the order), or money came for a cancelled order whose stock is gone",
            "ORDER_NOT_REFUNDABLE",
            "该订单当前状态不能申请退款",
        ),
        Transition("REFUND_REJECTED", (REFUNDING,), RESUME, "staff reject the refund request"),
        Transition(
            "PARTLY_REFUNDED",
            (REFUNDING,),
            RESUME,
            "a refund smaller than what is left of the order was paid back",
        ),
        Transition(
            "REFUNDED",
            (REFUNDING, SHIPPED, DELIVERED, COMPLETED),
            REFUNDED,
            "the refunds paid back reach the order's total",
        ),
    )
}

# The time each move stamps on the order besides its status.
_STAMPS = {
    "PAID": "paid_at",
    "CANCELLED": "cancelled_at",
    "SHIPPED": "shipped_at",
    "DELIVERED": "delivered_at",
    "COMPLETED": "completed_at",
}


class IllegalTransition(Conflict):
    code, message = "ORDER_STATUS_CONFLICT", "订单当前状态不允许该操作"


def try_move(
    session: Session, order_id: int, event: str, *, note: dict | None = None, **values
) -> bool:
    """Move the order by event if its status allows, answering whether it moved. `values` are
    other columns set in the same UPDATE; `note` goes into the order's history."""
    transition = TRANSITIONS[event]
    changes = {**values, "updated_at": utcnow()}
    if transition.target == RESUME:
        changes["status"] = Order.status_before_refund
        changes.setdefault("status_before_refund", None)
    else:
        changes["status"] = transition.target
    if transition.target == REFUNDING:
        changes.setdefault("status_before_refund", Order.status)
    if event in _STAMPS:
        changes.setdefault(_STAMPS[event], utcnow())
    moved = session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status.in_(transition.sources))
        .values(**changes)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        return False
    loaded = session.identity_map.get(session.identity_key(Order, (order_id,)))
    if loaded is not None:  # a loaded order reads the new values on its next access
        session.expire(loaded, list(changes))
    record(session, order_id, event, **(note or {}))
    return True


def ensure_allowed(event: str, status: str) -> None:
    """Raise the event's refusal unless an order in this status can take it (a check before
    work that must not start for an order that cannot move; the move itself checks again)."""
    transition = TRANSITIONS[event]
    if status not in transition.sources:
        raise IllegalTransition(
            transition.refused_message,
            code=transition.refused_code,
            details={"status": status, "event": event},
        )


def move(
    session: Session, order_id: int, event: str, *, note: dict | None = None, **values
) -> None:
    """Move the order by event, or raise the event's refusal with the order's status."""
    if try_move(session, order_id, event, note=note, **values):
        return
    status = session.scalar(select(Order.status).where(Order.id == order_id))
    ensure_allowed(event, status)
    raise IllegalTransition(details={"status": status, "event": event})  # moved meanwhile


def follow_platform(platform_order, status: str) -> None:
    """An order from a seller's platform shop takes the status its platform reports: the platform
    owns that order's life (a refund it grants or a cancellation can come at any point), so every
    move is taken, in our own statuses only (the adapters map the platform's to ours)."""
    if status not in PLATFORM_STATUSES:
        raise ValueError(f"unknown platform order status {status!r}")
    platform_order.status = status
