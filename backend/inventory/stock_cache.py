"""Available units per SKU, cached in Redis for every reader (catalogue, cart, live rooms).

An entry is "available|valid_until": it is dropped after the commit of any ledger movement of
its SKU, and is never trusted past the next use-by of the SKU's lots or one second after it was
computed, so a reader is never more than a second behind the ledger.
"""

from __future__ import annotations

import time

from sqlalchemy.orm import Session

from backend.queue import redis_client
from backend.transactions import on_commit

KEY = "heli:stock:available"
MAX_AGE_SECONDS = 1.0


def read(sku_ids: list[int]) -> dict[int, int]:
    """The cached values still valid now; SKUs missing from the answer must be computed."""
    if not sku_ids:
        return {}
    now = time.time()
    found = {}
    for sku_id, raw in zip(sku_ids, redis_client().hmget(KEY, sku_ids), strict=True):
        if raw is None:
            continue
        value, valid_until = raw.decode().split("|")
        if float(valid_until) > now:
            found[sku_id] = int(value)
    return found


def write(values: dict[int, tuple[int, float | None]]) -> None:
    """Store {sku_id: (available, next_use_by_timestamp or None)}."""
    if not values:
        return
    horizon = time.time() + MAX_AGE_SECONDS
    mapping = {
        sku_id: f"{available}|{min(horizon, next_use_by or horizon)}"
        for sku_id, (available, next_use_by) in values.items()
    }
    redis_client().hset(KEY, mapping=mapping)


def invalidate(session: Session, sku_ids: set[int]) -> None:
    """Drop these SKUs' entries once session's transaction commits."""
    pending = session.info.setdefault("heli_stock_dirty", set())
    pending.update(sku_ids)

    def drop() -> None:
        dirty = session.info.pop("heli_stock_dirty", set())
        if dirty:
            redis_client().hdel(KEY, *dirty)

    on_commit(session, drop, key="stock_cache")
