"""Adoption jobs (issue 20): thin rq job functions over backend.adoption."""

from backend.adoption import harvest_orders
from backend.extensions import db
from jobs.base import job


# -- harvest: packed harvest batches become the adopters' orders ---------------------------------
@job
def order_packed_harvests() -> int:
    """Safety net for the packing hook: every packed harvest batch without its order gets one."""
    return harvest_orders.order_packed_harvests(db.session)
