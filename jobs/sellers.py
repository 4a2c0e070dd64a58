from backend.extensions import db
from backend.sellers import service as sellers
from jobs.base import job


@job
def remind_and_expire_licences() -> dict:
    """Daily: licence expiry reminders (30, 7, 1 days before) and lapsed licences expired."""
    return sellers.remind_and_expire(db.session)
