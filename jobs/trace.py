from backend.extensions import db
from backend.queue import redis_client
from backend.trace import persist
from jobs.base import job

LOCK = "heli:lock:persist-scans"


@job
def persist_scans() -> int:
    """Move the scan log into the database; one runner at a time (rq does not dedupe)."""
    if not redis_client().set(LOCK, "1", nx=True, ex=120):
        return 0
    try:
        moved = total = persist.persist_scans(db.session)
        while moved == 5000:  # a backlog: keep going until it is drained
            moved = persist.persist_scans(db.session)
            total += moved
        return total
    finally:
        redis_client().delete(LOCK)
