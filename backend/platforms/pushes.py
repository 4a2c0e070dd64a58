"""The platforms' order pushes (Douyin, Youzan): a verified push makes an immediate read of its
shop's recent orders, so a new order reaches its seller in seconds; the pulls every few minutes
stay the safety net that misses nothing.

A message counts once per (platform, message id) (a Redis SET NX for DEDUPE_SECONDS): the
platforms resend until they hear success, and may send a message twice. The orders a shop's
pushes name gather in a Redis set; one read per shop is queued at a time (a flag taken by
SET NX and dropped when the read starts), so a burst of pushes costs one read, and a push that
arrives while a read runs queues the next one. Nothing is taken from a push but which order to
read: its state comes from the order API."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.clients.platforms import pushes as wire
from backend.platforms.models import ACTIVE, Shop
from backend.queue import enqueue, redis_client

log = logging.getLogger(__name__)

QUEUE = "platform_pushes"  # served before the pulls' queue by the platform worker
DEDUPE_SECONDS = 3 * 24 * 3600  # longer than any platform's resend schedule
QUEUED_SECONDS = 120  # a lost read job frees the shop's flag after this
# Reads again when the order API does not show a pushed change yet (Youzan documents a lag
# of up to 30 s between a message and its order search); after these the pulls take over.
REREAD_SECONDS = (1, 2, 5, 10, 20, 30)
CREDENTIALS = {
    "douyin": ("DOUYIN_APP_KEY", "DOUYIN_APP_SECRET"),
    "youzan": ("YOUZAN_CLIENT_ID", "YOUZAN_CLIENT_SECRET"),
}

BadPush = wire.BadPush
PUSHING = wire.PUSHING
REPLIES = wire.REPLIES


def _pending_key(shop_id: int) -> str:
    return f"heli:platform:pushed:{shop_id}"


def _queued_key(shop_id: int) -> str:
    return f"heli:platform:push-read:{shop_id}"


def receive(session: Session, platform: str, headers, raw: bytes) -> dict[str, int]:
    """Take a push: BadPush when its signature (over the raw body) fails or it cannot be read;
    else each new message's order is queued for an immediate read of its shop. Answers how
    many messages were new, duplicates, for shops we do not know, and reads queued."""
    key_name, secret_name = CREDENTIALS.get(platform, ("", ""))
    config = current_app.config
    if not key_name or not config.get(key_name):
        raise BadPush(f"{platform} 不推送消息")
    changes = wire.parse(platform, headers, raw, config[key_name], config[secret_name])
    counts = {"new": 0, "duplicate": 0, "unknown_shop": 0, "reads_queued": 0}
    if not changes:
        return counts
    redis = redis_client()
    seen = redis.pipeline()
    for change in changes:
        key = f"heli:platform:push:{platform}:{change.message_id}"
        seen.set(key, 1, nx=True, ex=DEDUPE_SECONDS)
    fresh = [change for change, new in zip(changes, seen.execute(), strict=True) if new]
    counts["duplicate"] = len(changes) - len(fresh)
    shops = (
        dict(
            session.execute(
                select(Shop.shop_key, Shop.id).where(
                    Shop.platform == platform,
                    Shop.shop_key.in_({change.shop_key for change in fresh}),
                    Shop.status == ACTIVE,
                )
            ).all()
        )
        if fresh
        else {}
    )
    session.rollback()  # read only: no transaction left open
    wanted: dict[int, list[str]] = {}
    for change in fresh:
        shop_id = shops.get(change.shop_key)
        if shop_id is None:
            counts["unknown_shop"] += 1
            log.warning("%s push for a shop we do not know: %s", platform, change.shop_key)
            continue
        counts["new"] += 1
        at = change.at.replace(tzinfo=UTC).timestamp() if change.at else ""
        wanted.setdefault(shop_id, []).append(f"{change.order_id}|{at}")
    if wanted:
        queue = redis.pipeline()
        for shop_id, members in wanted.items():
            queue.sadd(_pending_key(shop_id), *members)
            queue.set(_queued_key(shop_id), 1, nx=True, ex=QUEUED_SECONDS)
        flags = queue.execute()[1::2]
        for shop_id, queued in zip(wanted, flags, strict=True):
            if queued:  # else a read is queued already and will see these too
                enqueue("jobs.platforms.pull_pushed", shop_id, queue=QUEUE)
                counts["reads_queued"] += 1
    return counts


def take_pushed(shop_id: int) -> list[tuple[str, datetime | None]]:
    """The orders pushed for the shop since its last read (order id, change time if said);
    from now on a new push queues another read."""
    redis = redis_client()
    pipe = redis.pipeline(transaction=True)
    pipe.delete(_queued_key(shop_id))
    pipe.smembers(_pending_key(shop_id))
    pipe.delete(_pending_key(shop_id))
    _, members, _ = pipe.execute()
    found = []
    for member in members:
        order_id, _, at = member.decode().rpartition("|")
        when = datetime.fromtimestamp(float(at), UTC).replace(tzinfo=None) if at else None
        found.append((order_id, when))
    return found
