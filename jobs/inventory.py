from backend.extensions import db
from backend.flows import unpaid_orders
from backend.inventory import queries as inventory_queries
from backend.queue import enqueue
from backend.staff import service as staff
from jobs.base import job

EXPIRING_WITHIN_HOURS = 24


@job
def expire_lot(lot_id: int) -> dict:
    return unpaid_orders.take_lot_off_sale(db.session, lot_id=lot_id)


@job
def expire_due_lots() -> int:
    """Safety net for lot expiry jobs that were lost: one job per lot past its use-by."""
    due = inventory_queries.due_lot_ids(db.session)
    for lot_id in due:
        enqueue("jobs.inventory.expire_lot", lot_id)
    return len(due)


@job
def report_expiring_lots() -> int:
    """Daily: list the lots that reach their use-by within 24 hours for staff."""
    lots = inventory_queries.expiring_within(db.session, hours=EXPIRING_WITHIN_HOURS)
    if lots:
        staff.raise_alert(
            db.session,
            kind="LOTS_EXPIRING",
            title=f"{len(lots)} 个批次库存将在 24 小时内到期",
            lots=[
                {
                    "lot_id": lot.id,
                    "code": lot.code,
                    "available": lot.on_hand - lot.reserved,
                    "use_by": lot.use_by.isoformat() + "Z",
                }
                for lot in lots
            ],
        )
        db.session.commit()
    return len(lots)
