from backend.extensions import db
from backend.settlement import service as settlement
from jobs.base import job


@job
def reconcile_refunds() -> int:
    """Reverse the wholesale cost of shipped platform orders their platform has since refunded."""
    return settlement.reconcile_refunds(db.session)
