"""Adoption's jobs: thin rq functions that load by id and call one service."""

from backend.adoption import growth_messages
from backend.extensions import db
from jobs.base import job

# -- growth updates (backend/adoption/growth.py) -----------------------------------------------


@job
def tell_growth_adopters(update_id: int) -> dict[str, int]:
    """Each active adopter of the update's unit gets its subscribe message once (a rerun sends
    nothing twice; 43101, no credit left, is kept as the outcome)."""
    return growth_messages.tell_adopters(db.session, update_id=update_id)
