"""Order pulls from the outside platforms: the scheduler's minute job enqueues each due shop;
a pull holds the shop's Redis lock (rq does not dedupe job ids, so two copies may run) and
retries transient failures with rq's backoff."""

import logging

from backend.clients.platforms.base import PlatformError
from backend.extensions import db
from backend.platforms import service as platforms
from backend.queue import enqueue, redis_client
from jobs.base import job

log = logging.getLogger(__name__)
QUEUE = "platforms"
LOCK_SECONDS = 600


@job
def schedule_pulls() -> int:
    """Every minute: enqueue a pull for each shop whose turn it is."""
    shop_ids = platforms.due_shop_ids(db.session)
    platforms.schedule_next_pull(db.session, shop_ids)
    for shop_id in shop_ids:
        enqueue("jobs.platforms.pull_shop", shop_id, queue=QUEUE)
    return len(shop_ids)


@job
def pull_shop(shop_id: int) -> dict:
    lock = redis_client().lock(f"heli:platform:pull:{shop_id}", timeout=LOCK_SECONDS)
    if not lock.acquire(blocking=False):
        return {"shop_id": shop_id, "skipped": "another pull holds the shop"}
    try:
        result = platforms.pull_shop(db.session, shop_id)
    except platforms.ShopUnauthorised:
        return {"shop_id": shop_id, "skipped": "authorisation broken"}
    except PlatformError as error:
        db.session.rollback()
        if error.kind == "invalid":  # our request is wrong: retrying cannot help
            log.error("pull of shop %s refused: %s %s", shop_id, error.code, error.message)
            return {"shop_id": shop_id, "failed": f"{error.code} {error.message}"}
        raise  # transient or rate-limited: rq retries with backoff, the cursor did not move
    finally:
        if lock.owned():
            lock.release()
    if not result.caught_up:  # far behind (down for long): go on at once
        enqueue("jobs.platforms.pull_shop", shop_id, queue=QUEUE)
    return {"shop_id": shop_id, "windows": result.windows, "orders": result.orders_read}


@job
def write_back_shipment(platform_order_id: int) -> bool:
    return platforms.write_back_shipment(db.session, platform_order_id)
