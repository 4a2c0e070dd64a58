"""Scheduled messages (自动发言): the host sets a text, an interval and a window, and the co-host
bot posts it into the room as its own comment on every tick while the room is live.

A tick is one interval counted from the announcement's anchor (the window's start, else when it
was last enabled or its interval changed). Each tick is posted at most once, whichever bot
process gets there first and however often a bot restarts: a Redis SET NX per announcement per
tick decides (as jobs/scheduler.py guards its periodic runs). A tick reached more than half an
interval late (the room went live, or the bot was down, in its second half) is skipped rather
than posted just before the next one."""

from __future__ import annotations

import re
import time
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.errors import BadRequest, NotFound, RuleBroken
from backend.live import comments
from backend.live.models import LIVE, LiveAnnouncement, LiveRoom
from backend.live.rooms import get_room
from backend.queue import redis_client
from backend.timeutil import SHANGHAI, to_aware_utc, to_shanghai_iso, utcnow

MAX_TEXT = 140
MIN_INTERVAL, MAX_INTERVAL = 60, 3600  # seconds
MAX_PER_ROOM = 20
LATE_FRACTION = 0.5  # a tick reached later than this part of an interval is skipped
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_text(raw: str) -> str:
    """The text as the bot may post it: the checks of the room's other comments (no control
    characters, not empty, within the length, none of the words the alliance never shows)."""
    text = _CONTROL.sub("", raw).strip()
    if not text:
        raise BadRequest("请填写发言内容", code="ANNOUNCEMENT_EMPTY")
    if len(text) > MAX_TEXT:
        raise BadRequest(f"发言内容不能超过 {MAX_TEXT} 个字", code="ANNOUNCEMENT_TOO_LONG")
    lowered = text.lower()
    blocked = current_app.config.get("LIVE_COMMENT_BLOCKLIST", comments.BLOCKLIST)
    found = [word for word in blocked if word in lowered]
    if found:
        raise RuleBroken(
            f"发言内容包含不允许的词：{'、'.join(found)}",
            code="ANNOUNCEMENT_BLOCKED",
            details={"words": found},
        )
    return text


def _check_window(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at and ends_at and ends_at <= starts_at:
        raise BadRequest("结束时间必须晚于开始时间", code="INVALID_WINDOW")
    if ends_at and ends_at <= utcnow():
        raise RuleBroken("结束时间已过，请重新设置发送时段", code="WINDOW_OVER")


def _check_interval(seconds: int) -> None:
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise BadRequest(
            f"发送间隔需在 {MIN_INTERVAL} 秒到 {MAX_INTERVAL // 60} 分钟之间",
            code="INVALID_INTERVAL",
        )


def get_announcement(session: Session, *, room_id: int, announcement_id: int) -> LiveAnnouncement:
    """The room's announcement; NotFound for another room's."""
    found = session.get(LiveAnnouncement, announcement_id)
    if found is None or found.room_id != room_id:
        raise NotFound("自动发言不存在", code="ANNOUNCEMENT_NOT_FOUND")
    return found


def list_announcements(session: Session, *, room_id: int) -> list[LiveAnnouncement]:
    get_room(session, room_id)
    return list(
        session.scalars(
            select(LiveAnnouncement)
            .where(LiveAnnouncement.room_id == room_id)
            .order_by(LiveAnnouncement.id)
        )
    )


def create(
    session: Session,
    *,
    room_id: int,
    text: str,
    interval_seconds: int,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    enabled: bool = True,
    staff_id: int | None = None,
) -> LiveAnnouncement:
    """A new scheduled message for the room (times naive UTC; neither: while the room is live)."""
    get_room(session, room_id)
    text = clean_text(text)
    _check_interval(interval_seconds)
    _check_window(starts_at, ends_at)
    count = session.scalar(
        select(func.count())
        .select_from(LiveAnnouncement)
        .where(LiveAnnouncement.room_id == room_id)
    )
    if count >= MAX_PER_ROOM:
        raise RuleBroken(
            f"每个直播间最多设置 {MAX_PER_ROOM} 条自动发言", code="TOO_MANY_ANNOUNCEMENTS"
        )
    announcement = LiveAnnouncement(
        room_id=room_id,
        text=text,
        interval_seconds=interval_seconds,
        starts_at=starts_at,
        ends_at=ends_at,
        enabled=enabled,
        anchor_at=starts_at or utcnow(),
        created_by=staff_id,
    )
    session.add(announcement)
    session.commit()
    return announcement


UNSET = object()


def change(
    session: Session,
    *,
    room_id: int,
    announcement_id: int,
    text: str | None = None,
    interval_seconds: int | None = None,
    starts_at=UNSET,
    ends_at=UNSET,
    enabled: bool | None = None,
) -> LiveAnnouncement:
    """Edit, pause (enabled False) or resume an announcement. Resuming it, or changing its
    interval or window, starts its ticks again from now (or the window's start)."""
    announcement = get_announcement(session, room_id=room_id, announcement_id=announcement_id)
    if text is not None:
        announcement.text = clean_text(text)
    restart = False
    if interval_seconds is not None and interval_seconds != announcement.interval_seconds:
        _check_interval(interval_seconds)
        announcement.interval_seconds, restart = interval_seconds, True
    if starts_at is not UNSET or ends_at is not UNSET:
        new_start = announcement.starts_at if starts_at is UNSET else starts_at
        new_end = announcement.ends_at if ends_at is UNSET else ends_at
        _check_window(new_start, new_end)
        announcement.starts_at, announcement.ends_at, restart = new_start, new_end, True
    if enabled is not None and enabled != announcement.enabled:
        announcement.enabled, restart = enabled, restart or enabled
    if restart:
        announcement.anchor_at = announcement.starts_at or utcnow()
    session.commit()
    return announcement


def delete(session: Session, *, room_id: int, announcement_id: int) -> None:
    announcement = get_announcement(session, room_id=room_id, announcement_id=announcement_id)
    session.delete(announcement)
    session.commit()


def _seconds(value: datetime | None) -> float | None:
    return None if value is None else to_aware_utc(value).timestamp()


def tick_guard(announcement: LiveAnnouncement, tick: int) -> str:
    """The Redis key that lets one process post this tick; the anchor and interval are in it,
    so an announcement restarted or given another interval counts its ticks afresh."""
    anchor = int(_seconds(announcement.anchor_at))
    return (
        f"heli:live:announcement:{announcement.id}:{anchor}:{announcement.interval_seconds}:{tick}"
    )


def due_tick(announcement: LiveAnnouncement, now: float) -> int | None:
    """The tick to post now: inside the window, and not more than half an interval late."""
    starts, ends = _seconds(announcement.starts_at), _seconds(announcement.ends_at)
    if (starts is not None and now < starts) or (ends is not None and now >= ends):
        return None
    since = now - _seconds(announcement.anchor_at)
    if since < 0:
        return None
    interval = announcement.interval_seconds
    tick = int(since // interval)
    if since - tick * interval > interval * LATE_FRACTION:
        return None
    return tick


def post_due(session: Session, *, room_id: int, now: float | None = None) -> list[int]:
    """Post the room's announcements whose tick is due, each tick once across every bot
    process; nothing while the room is not live. Answers the ids posted."""
    now = time.time() if now is None else now
    if session.scalar(select(LiveRoom.live_status).where(LiveRoom.id == room_id)) != LIVE:
        return []
    active = session.scalars(
        select(LiveAnnouncement)
        .where(LiveAnnouncement.room_id == room_id, LiveAnnouncement.enabled.is_(True))
        .order_by(LiveAnnouncement.id)
    ).all()
    redis, posted = redis_client(), []
    for announcement in active:
        tick = due_tick(announcement, now)
        if tick is None:
            continue
        guard = tick_guard(announcement, tick)
        if not redis.set(guard, "1", nx=True, ex=2 * announcement.interval_seconds):
            continue  # another bot (or this one before a restart) posted this tick
        comments.publish_reply(
            room_id, announcement.text, kind="announcement", announcement_id=announcement.id
        )
        posted.append(announcement.id)
    if posted:
        session.execute(
            update(LiveAnnouncement)
            .where(LiveAnnouncement.id.in_(posted))
            .values(
                posted_count=LiveAnnouncement.posted_count + 1,
                last_posted_at=utcnow(),
            )
        )
    session.commit()  # ends the read, so the next look sees the host's changes
    return posted


def _clock(value: datetime | None) -> str | None:
    if value is None:
        return None
    local = to_aware_utc(value).astimezone(SHANGHAI)
    return f"{local:%m-%d %H:%M}"


def window_text(announcement: LiveAnnouncement) -> str:
    start, end = _clock(announcement.starts_at), _clock(announcement.ends_at)
    if start is None and end is None:
        return "直播期间"
    return f"{start or '开播'} 至 {end or '下播'}（直播中）"


def interval_text(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    if rest:
        return f"每 {seconds} 秒"
    return "每 1 小时" if minutes == 60 else f"每 {minutes} 分钟"


def render(announcement: LiveAnnouncement) -> dict:
    return {
        "id": announcement.id,
        "room_id": announcement.room_id,
        "text": announcement.text,
        "interval_seconds": announcement.interval_seconds,
        "interval_text": interval_text(announcement.interval_seconds),
        "starts_at": to_shanghai_iso(announcement.starts_at),
        "ends_at": to_shanghai_iso(announcement.ends_at),
        "window_text": window_text(announcement),
        "enabled": announcement.enabled,
        "status_text": "发送中" if announcement.enabled else "已暂停",
        "posted_count": announcement.posted_count,
        "last_posted_at": to_shanghai_iso(announcement.last_posted_at),
    }
