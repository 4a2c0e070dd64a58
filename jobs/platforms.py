"""Order pulls from the outside platforms: the scheduler's minute job enqueues each due shop;
a pull holds the shop's Redis lock (rq does not dedupe job ids, so two copies may run) and
retries transient failures with rq's backoff."""

import logging
from datetime import UTC, datetime

from backend.clients.platforms.base import PlatformError
from backend.extensions import db
from backend.platforms import pushes
from backend.platforms import service as platforms
from backend.queue import enqueue, enqueue_in, redis_client
from jobs.base import job

log = logging.getLogger(__name__)
QUEUE = "platforms"
LOCK_SECONDS = 600
PUSH_LOCK_WAIT_SECONDS = 10  # a pushed read waits this long for a running pull of its shop


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
    lock = _shop_lock(shop_id)
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


def _shop_lock(shop_id: int):
    return redis_client().lock(f"heli:platform:pull:{shop_id}", timeout=LOCK_SECONDS)


def _epoch(at: datetime | None) -> float | None:
    return at.replace(tzinfo=UTC).timestamp() if at else None


@job
def pull_pushed(shop_id: int, again: list | None = None, attempt: int = 0) -> dict:
    """A platform pushed changes of the shop's orders: read its recent orders now. Orders the
    order API does not show yet are read again after REREAD_SECONDS (then the pulls take
    over)."""
    wanted = pushes.take_pushed(shop_id)
    wanted += [
        (order_id, datetime.fromtimestamp(at, UTC).replace(tzinfo=None) if at else None)
        for order_id, at in again or ()
    ]
    if not wanted:
        return {"shop_id": shop_id, "orders": 0}
    lock = _shop_lock(shop_id)
    if not lock.acquire(blocking=True, blocking_timeout=PUSH_LOCK_WAIT_SECONDS):
        missing, delay = wanted, 1.0  # a pull holds the shop: try again as soon as it is done
    else:
        try:
            missing = platforms.pull_recent(db.session, shop_id, wanted)
        except platforms.ShopUnauthorised:
            return {"shop_id": shop_id, "skipped": "authorisation broken"}
        except PlatformError as error:
            db.session.rollback()
            log.warning("pushed read of shop %s failed: %s", shop_id, error)
            missing = [] if error.kind == "invalid" else wanted
        finally:
            if lock.owned():
                lock.release()
        if attempt >= len(pushes.REREAD_SECONDS):
            missing = []  # the pulls will find them
        else:
            delay, attempt = pushes.REREAD_SECONDS[attempt], attempt + 1
    if missing:
        again = [(order_id, _epoch(at)) for order_id, at in missing]
        enqueue_in(delay, "jobs.platforms.pull_pushed", shop_id, again, attempt, queue=pushes.QUEUE)
    return {"shop_id": shop_id, "orders": len(wanted), "not_yet_listed": len(missing)}


@job
def write_back_shipment(platform_order_id: int) -> bool:
    return platforms.write_back_shipment(db.session, platform_order_id)
