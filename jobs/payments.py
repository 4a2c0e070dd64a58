from backend.aftersales import service as aftersales
from backend.extensions import db
from backend.payments import service as payments
from backend.queue import enqueue
from jobs.base import job


@job
def reconcile_payment(order_id: int) -> str:
    return payments.reconcile(db.session, order_id=order_id)


@job
def reconcile_pending_payments() -> int:
    """Ask WeChat Pay about unpaid orders whose notification may never have come."""
    due = payments.pending_payment_order_ids(db.session)
    for order_id in due:
        enqueue("jobs.payments.reconcile_payment", order_id)
    return len(due)


@job
def submit_refund(refund_id: int) -> str:
    return payments.submit_refund(db.session, refund_id=refund_id)


@job
def sync_refund(out_refund_no: str) -> str:
    return aftersales.apply_refund_result(db.session, payments.query_refund(out_refund_no))


@job
def settle_refunds() -> int:
    """Resubmit refunds WeChat Pay never accepted and query those still processing."""
    unsettled = payments.unsettled_refunds(db.session)
    for refund_id, status, out_refund_no in unsettled:
        if status == "PENDING":
            enqueue("jobs.payments.submit_refund", refund_id)
        else:
            enqueue("jobs.payments.sync_refund", out_refund_no)
    return len(unsettled)


@job
def close_payment(order_id: int) -> str:
    """Close the WeChat Pay order of an order we cancelled (a payment found instead is kept)."""
    outcome = payments.close_open_payment(db.session, order_id=order_id)
    db.session.commit()
    return outcome
