"""Following the live provider without anyone pressing sync: the rooms' status, every 10 s while a
room is live or starts within the hour (every minute otherwise), and the product cards waiting
for WeChat's audit, every 30 s while one is on screen in such a room (every 10 minutes
otherwise); a card that passed, or whose room went live, is pushed at once (cards.push_due).

The scheduler's periodic jobs call the followers on every tick (jobs/live.py); a run that is not
due does nothing. Each pace stretches when the rest of the day's share of the API's daily quota
would not last until WeChat's midnight at it, and a 45009 answer stops it for the day."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.clients import quota
from backend.clients.wechat import WeChatError
from backend.errors import UpstreamUnavailable
from backend.live import cards, rooms
from backend.live.models import ABNORMAL, LIVE, NOT_STARTED, PAUSED, LiveRoom
from backend.live.providers import provider
from backend.queue import redis_client
from backend.timeutil import naive_utc_from_timestamp

STATUS_API, AUDIT_API = "getliveinfo", "getgoodswarehouse"
FAST_SECONDS = 10  # rooms' status while a room is live or about to start
SLOW_SECONDS = 60  # otherwise, and a full pass over every room while fast
SOON = timedelta(hours=1)
AUDIT_HOT_SECONDS = 30  # a card on screen in such a room waits for its audit
AUDIT_COLD_SECONDS = 600
AUDIT_BATCH = 100
QUOTA_SHARE = 0.9  # of a daily quota the followers use; the rest is for hosts' own calls
BURST_SECONDS = 3600  # the fast pace is kept while the quota holds a show of this length
SLACK_SECONDS = 1.0  # a scheduler tick may fire a little early
KEEP_SECONDS = 2 * 24 * 3600
ACTIVE = (LIVE, PAUSED, ABNORMAL)
QUOTA_TEXT = "今日微信直播接口调用次数已用完，明日 0 点起恢复自动同步"


def _key(name: str, what: str) -> str:
    return f"heli:live:follow:{name}:{what}"


def pace(
    api: str, *, per_day: int, calls: int, fastest: float, slowest: float, now: float
) -> float | None:
    """Seconds between two runs of `calls` calls: `fastest` while today's share of the quota
    still holds an hour at that pace and the rest of the day at `slowest`; else the share left
    spread evenly until WeChat's midnight. None once the share is spent or WeChat answered
    45009 today."""
    if quota.is_spent(api, now):
        return None
    left = int(per_day * QUOTA_SHARE) - quota.used(api, now)
    if left < calls:
        return None
    until_midnight = quota.seconds_to_midnight(now)
    burst = min(BURST_SECONDS, until_midnight)
    if left >= calls * (burst / fastest + (until_midnight - burst) / slowest):
        return fastest
    return max(fastest, until_midnight * calls / left)


def _take_turn(name: str, every: float, now: float) -> bool:
    """Whether the follower's last run is `every` seconds old; if so this caller runs it."""
    redis = redis_client()
    last_key = _key(name, "last")

    def due() -> bool:
        last = redis.get(last_key)
        return last is None or now - float(last) >= every - SLACK_SECONDS

    if not due() or not redis.set(_key(name, "lock"), "1", nx=True, ex=30):
        return False
    try:
        if not due():  # another runner took this turn meanwhile
            return False
        redis.set(last_key, repr(now), ex=KEEP_SECONDS)
        return True
    finally:
        redis.delete(_key(name, "lock"))


def _note(name: str, now: float, every: float | None, error: str | None = None) -> None:
    body = {"at": now, "every": every, "error": error}
    redis_client().set(_key(name, "note"), json.dumps(body, ensure_ascii=False), ex=KEEP_SECONDS)


def status_note() -> dict:
    """How the rooms' status is followed, for the console: last sync, pace, the last error."""
    raw = redis_client().get(_key("statuses", "note"))
    note = json.loads(raw) if raw else {"at": None, "every": None, "error": None}
    return {"synced_at": note["at"], "every": note["every"], "error": note["error"]}


def _failure_text(errcode) -> str:
    if errcode == quota.QUOTA_SPENT:
        return QUOTA_TEXT
    code = f"（错误码 {errcode}）" if errcode is not None else ""
    return f"微信直播状态同步失败{code}，稍后自动重试"


def active_rooms(session: Session, now: float) -> list[LiveRoom]:
    """Rooms live (or paused, or in trouble) now, or due to start within the hour."""
    moment = naive_utc_from_timestamp(now)
    return list(
        session.scalars(
            select(LiveRoom).where(
                or_(
                    LiveRoom.live_status.in_(ACTIVE),
                    (LiveRoom.live_status == NOT_STARTED)
                    & (LiveRoom.starts_at <= moment + SOON)
                    & (LiveRoom.ends_at > moment),
                )
            )
        )
    )


def follow_statuses(session: Session, *, now: float | None = None) -> dict:
    """Mirror the rooms' status when due at the pace of the moment, then push the cards waiting
    for their room to go live. WeChat's refusals are noted for the console, not raised: the
    next tick tries again."""
    now = time.time() if now is None else now
    active = active_rooms(session, now)
    calls = int(redis_client().get(_key("statuses", "pages")) or 1)
    every = pace(
        STATUS_API,
        per_day=current_app.config["LIVE_STATUS_CALLS_PER_DAY"],
        calls=calls,
        fastest=FAST_SECONDS if active else SLOW_SECONDS,
        slowest=SLOW_SECONDS,
        now=now,
    )
    if every is None:
        _note("statuses", now, None, QUOTA_TEXT)
        return {"synced": False, "reason": "quota"}
    if not _take_turn("statuses", every, now):
        return {"synced": False, "reason": "not_due", "every": every}
    full = not active or _take_turn("statuses-full", SLOW_SECONDS, now)
    before = quota.used(STATUS_API)
    try:
        changed = rooms.sync(
            session, wanted=None if full else {room.external_id for room in active}
        )
    except UpstreamUnavailable as failure:
        session.rollback()
        errcode = failure.details.get("errcode")
        _note("statuses", now, every, _failure_text(errcode))
        return {"synced": False, "reason": "error", "errcode": errcode}
    if full:
        pages = max(1, quota.used(STATUS_API) - before)
        redis_client().set(_key("statuses", "pages"), pages, ex=KEEP_SECONDS)
    pushed = cards.push_due(session)
    _note("statuses", now, every)
    return {"synced": True, "changed": changed, "full": full, "every": every, "pushed": pushed}


def _check_audits(session: Session, pending: list) -> int:
    answers = provider().goods_audit([goods.goods_id for goods in pending])
    return cards.record_audits(session, pending, answers)


def follow_audits(session: Session, *, now: float | None = None) -> dict:
    """Ask WeChat about the cards awaiting audit when due (cards on screen in a live or imminent
    room first and more often), then push the ones that passed and wait on screen."""
    now = time.time() if now is None else now
    pending = cards.awaiting_audit(session)
    if not pending:
        return {"checked": 0}
    hot_skus = cards.on_screen_sku_ids(session, [room.id for room in active_rooms(session, now)])
    pending.sort(key=lambda goods: goods.sku_id not in hot_skus)  # hot ones first
    hot = bool(hot_skus) and pending[0].sku_id in hot_skus
    every = pace(
        AUDIT_API,
        per_day=current_app.config["LIVE_AUDIT_CALLS_PER_DAY"],
        calls=1,
        fastest=AUDIT_HOT_SECONDS if hot else AUDIT_COLD_SECONDS,
        slowest=AUDIT_COLD_SECONDS,
        now=now,
    )
    if every is None:
        _note("audits", now, None, QUOTA_TEXT)
        return {"checked": 0, "reason": "quota"}
    if not _take_turn("audits", every, now):
        return {"checked": 0, "reason": "not_due", "every": every}
    batch = pending[:AUDIT_BATCH]
    try:
        changed = _check_audits(session, batch)
    except WeChatError as exc:
        session.rollback()
        _note("audits", now, every, _failure_text(exc.errcode))
        return {"checked": 0, "reason": "error", "errcode": exc.errcode}
    pushed = cards.push_due(session)
    _note("audits", now, every)
    return {"checked": len(batch), "changed": changed, "pushed": pushed, "every": every}


def sync_now(session: Session) -> int:
    """The host's 立即同步: every room's status now, the waiting cards' audits (while today's
    share of that quota lasts), and the cards that became pushable. Answers rooms changed."""
    now = time.time()
    changed = rooms.sync(session)
    pending = cards.awaiting_audit(session)[:AUDIT_BATCH]
    per_day = current_app.config["LIVE_AUDIT_CALLS_PER_DAY"]
    allowed = pace(AUDIT_API, per_day=per_day, calls=1, fastest=1, slowest=1, now=now)
    if pending and allowed is not None:
        try:
            _check_audits(session, pending)
        except WeChatError:
            session.rollback()  # the audit follower asks again on its own
    cards.push_due(session)
    _note("statuses", now, status_note()["every"])
    return changed
