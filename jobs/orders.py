from backend.extensions import db
from backend.flows import unpaid_orders
from backend.orders import service as orders
from backend.queue import enqueue
from jobs.base import job


@job
def expire_unpaid_order(order_id: int) -> str:
    return unpaid_orders.expire_unpaid(db.session, order_id=order_id)


@job
def expire_overdue_orders() -> int:
    """Safety net for expiry jobs that were lost (e.g. Redis flushed): one job per order."""
    due = orders.overdue_unpaid_order_ids(db.session)
    for order_id in due:
        enqueue("jobs.orders.expire_unpaid_order", order_id)
    return len(due)


@job
def auto_confirm_receipts() -> int:
    return orders.auto_confirm_receipts(db.session)


@job
def confirm_delivered(order_id: int) -> bool:
    """The exact auto-confirm, set when the courier delivered the order."""
    return orders.confirm_delivered(db.session, order_id=order_id)
