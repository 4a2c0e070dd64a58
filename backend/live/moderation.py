"""Keeping a room clean: offences per viewer (refused or spam comments), muting repeat
offenders for the room, and hiding comments the bot judged spam. Mutes live in the database
(the console lists them) and in a Redis set (every comment checks it)."""

from __future__ import annotations

import hashlib
import re

from flask import current_app
from redis.client import Pipeline
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.live.models import LiveMute
from backend.queue import redis_client

OFFENCE_MEMORY_SECONDS = 2 * 3600  # a show's length: offences from an earlier show are forgiven


def _muted_key(room_id: int) -> str:
    return f"heli:live:room:{room_id}:muted"


def _hidden_key(room_id: int) -> str:
    return f"heli:live:room:{room_id}:hidden"


def is_muted(room_id: int, customer_id: int) -> bool:
    return bool(redis_client().sismember(_muted_key(room_id), customer_id))


def record_offence(session: Session, *, room_id: int, customer_id: int, reason: str) -> bool:
    """Count an offence; at the configured count the viewer is muted for the room. Answers
    whether this offence muted them."""
    key = f"heli:live:room:{room_id}:offences:{customer_id}"
    redis = redis_client()
    count, _ = redis.pipeline().incr(key).expire(key, OFFENCE_MEMORY_SECONDS).execute()
    if count < current_app.config["LIVE_MUTE_AFTER_OFFENCES"] or is_muted(room_id, customer_id):
        return False
    mute(session, room_id=room_id, customer_id=customer_id, reason=reason)
    return True


def mute(session: Session, *, room_id: int, customer_id: int, reason: str) -> None:
    if (
        session.scalar(
            select(LiveMute.id).where(
                LiveMute.room_id == room_id, LiveMute.customer_id == customer_id
            )
        )
        is None
    ):
        session.add(LiveMute(room_id=room_id, customer_id=customer_id, reason=reason[:200]))
        try:
            session.commit()
        except IntegrityError:  # muted by a concurrent offence
            session.rollback()
    redis_client().sadd(_muted_key(room_id), customer_id)


def unmute(session: Session, *, room_id: int, customer_id: int) -> None:
    mute_row = session.scalar(
        select(LiveMute).where(LiveMute.room_id == room_id, LiveMute.customer_id == customer_id)
    )
    if mute_row is not None:
        session.delete(mute_row)
        session.commit()
    redis = redis_client()
    redis.srem(_muted_key(room_id), customer_id)
    redis.delete(f"heli:live:room:{room_id}:offences:{customer_id}")


def muted_viewers(session: Session, room_id: int) -> list[LiveMute]:
    return list(
        session.scalars(select(LiveMute).where(LiveMute.room_id == room_id).order_by(LiveMute.id))
    )


def hide(room_id: int, comment_id: str, *, pipe: Pipeline | None = None) -> None:
    (pipe or redis_client()).sadd(_hidden_key(room_id), comment_id)


def hidden(room_id: int) -> set[str]:
    return {value.decode() for value in redis_client().smembers(_hidden_key(room_id))}


# Ways spammers move buyers off the platform: phone numbers, WeChat/QQ ids, links.
_CONTACT = re.compile(
    r"1[3-9]\d{9}"
    r"|(?:微信|薇信|威信|v信|vx|wx|扣扣|qq|加v|\+v)\s*[:：号]?\s*[a-z0-9_-]{5,}"
    r"|https?://|www\.|\.com\b|\.cn\b",
    re.IGNORECASE,
)
REPEAT_WINDOW_SECONDS = 60
REPEATS_ALLOWED = 2  # the same text a third time within the window is flooding


def spam_reasons(room_id: int, said: list[tuple[int, str, bool]]) -> list[str | None]:
    """Why each comment (customer id, text, whether it is a claim) that passed content security
    is still spam, or None: contact details, or the same text again and again (a repeated "扣1"
    is a buyer, not spam). One round trip for the whole batch."""
    reasons: list[str | None] = []
    pipe = redis_client().pipeline(transaction=False)
    counted = []
    for customer_id, text, is_claim in said:
        if _CONTACT.search(text.replace(" ", "")):
            reasons.append("发布联系方式或链接")
            continue
        reasons.append(None)
        if not is_claim:
            digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
            key = f"heli:live:room:{room_id}:repeat:{customer_id}:{digest}"
            pipe.incr(key).expire(key, REPEAT_WINDOW_SECONDS)
            counted.append(len(reasons) - 1)
    if counted:
        repeats = pipe.execute()[::2]
        for index, seen in zip(counted, repeats, strict=True):
            if seen > REPEATS_ALLOWED:
                reasons[index] = "重复刷屏"
    return reasons
