"""Alliance broadcasts: staff compose a notice for all sellers or a tagged subset, now or at a
time; at its time the notices are written to every recipient's inbox and fanned out through rq
in chunks (the delivery rules of notices.service apply to each); staff can cancel a running
broadcast and watch its delivery report fill.

Who the recipients are is decided above, by backend.flows.broadcasts: this module is handed
their ids.

A chunk runs under a lease in Redis, renewed before each batch of sends: when its worker dies,
the lease runs out within NOTICE_STALE_SECONDS and the next chunk to finish (or the sweeper)
enqueues it again; what it had sent already is skipped by the delivery's state, and what it was
sending goes out again with the same client_msg_id, which WeChat drops."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from backend.audit import service as audit
from backend.errors import BadRequest, Conflict, RuleBroken, get_or_404
from backend.notices import service as notices
from backend.notices.models import (
    CANCELLED,
    DELIVERED,
    DONE,
    FAILED,
    PENDING,
    RUNNING,
    SCHEDULED,
    SENDING,
    SENT,
    SKIPPED,
    Broadcast,
    NoticeDelivery,
    SellerNotice,
)
from backend.officialaccount.templates import template_data
from backend.queue import enqueue, enqueue_at, enqueue_in, redis_client
from backend.staff.models import Staff
from backend.timeutil import to_aware_utc, to_shanghai_iso, utcnow
from backend.transactions import on_commit

CATEGORIES = {
    "typhoon": "台风预警",
    "price": "价格指导",
    "training": "培训课程",
    "rules": "品牌规范",
    "other": "联盟通知",
}
STATUS_NAMES = {SCHEDULED: "待开始", RUNNING: "发送中", DONE: "已完成", CANCELLED: "已取消"}
# The report's parts, in the order of its bar; they add up to the sellers it matched.
PARTS = {
    "sent": "已发送",
    "failed": "发送失败",
    "unreachable": "微信无法触达",
    "cancelled": "取消未发",
    "pending": "排队中",
}
CANCELLED_REASON = "广播已取消"
MAX_BODY = 1000
WRITE_CHUNK = 500
LEASES = "heli:notice:chunk-leases"  # sorted set: chunk token → when its lease ends (ms)
# Broadcast chunks wait on their own queue, after order pushes ("notices") and other jobs.
QUEUE = "broadcasts"


# -- compose, start, fan out ---------------------------------------------------------------------
def create(
    session: Session,
    *,
    title: str,
    body: str,
    category: str,
    link: str,
    target: dict,
    recipients: int,
    send_at: datetime | None,
    staff: Staff | None,
    reachable: int | None = None,
    audience: str = "",
) -> Broadcast:
    """A broadcast to the `recipients` sellers that `target` picks (`reachable` of them over
    WeChat, `audience` in words), checked against WeChat's template rules before anything is
    sent, and audited in the same commit."""
    title, body = title.strip(), body.strip()
    if not title or not body:
        raise BadRequest("标题和正文不能为空", code="EMPTY_NOTICE")
    if len(body) > MAX_BODY:
        raise BadRequest(f"正文最多 {MAX_BODY} 个字", code="BODY_TOO_LONG")
    if not category:  # no default: a price notice must never go out as a typhoon warning
        raise BadRequest("请选择通知类别", code="CATEGORY_REQUIRED")
    if category not in CATEGORIES:
        raise BadRequest(
            "未知的通知类别", code="INVALID_CATEGORY", details={"categories": CATEGORIES}
        )
    if link and not (link.startswith("/") or link.startswith("https://")):
        raise BadRequest("链接需以 / 或 https:// 开头", code="INVALID_LINK")
    template_data(title, CATEGORIES[category], "2026-01-01 00:00")
    now = utcnow()
    if send_at is not None and send_at < now - timedelta(seconds=60):
        raise BadRequest("发送时间不能早于现在", code="SEND_AT_IN_PAST")
    if not recipients:
        raise RuleBroken("没有符合条件的卖家", code="NO_RECIPIENTS")
    broadcast = Broadcast(
        title=title,
        body=body,
        category=category,
        link=link,
        target=target,
        send_at=send_at or now,
        status=SCHEDULED,
        recipients=recipients,
        created_by=staff.id if staff else None,
    )
    session.add(broadcast)
    session.flush()
    broadcast_id, when = broadcast.id, broadcast.send_at
    at = to_shanghai_iso(when)[:16].replace("T", " ")
    audit.record(
        session,
        staff=staff,
        action="broadcast.send",
        target_type="broadcast",
        target_id=broadcast_id,
        summary=f"发布广播“{title}”（{CATEGORIES[category]}）给 {recipients} 位卖家"
        + (f"，微信可达 {reachable} 位" if reachable is not None else "")
        + f"；对象：{audience or '全部卖家'}；{'立即发送' if when <= now else at + ' 发送'}",
        after={"category": CATEGORIES[category], "recipients": recipients, "reachable": reachable},
    )
    if when <= now:
        on_commit(session, lambda: enqueue("jobs.notices.start_broadcast", broadcast_id))
    else:
        on_commit(
            session,
            lambda: enqueue_at(to_aware_utc(when), "jobs.notices.start_broadcast", broadcast_id),
        )
    session.commit()
    return broadcast


def get(session: Session, broadcast_id: int) -> Broadcast:
    return get_or_404(session, Broadcast, broadcast_id, "广播不存在", code="BROADCAST_NOT_FOUND")


def begin(session: Session, broadcast_id: int) -> Broadcast | None:
    """Mark a broadcast running when its time came; None when it is done or cancelled."""
    broadcast = get(session, broadcast_id)
    if broadcast.status not in (SCHEDULED, RUNNING):
        return None
    broadcast.status, broadcast.started_at = RUNNING, broadcast.started_at or utcnow()
    session.commit()
    return broadcast


def fan_out(session: Session, broadcast: Broadcast, seller_ids: list[int]) -> int:
    """Write the inbox notices (once each) and enqueue the fan-out in chunks. Running it again
    writes nothing new and only enqueues what still waits."""
    broadcast_id = broadcast.id
    have = set(
        session.scalars(
            select(SellerNotice.seller_id).where(SellerNotice.broadcast_id == broadcast_id)
        )
    )
    fresh = [seller_id for seller_id in seller_ids if seller_id not in have]
    for at in range(0, len(fresh), WRITE_CHUNK):
        _write(session, broadcast, fresh[at : at + WRITE_CHUNK])
    broadcast.recipients = len(have) + len(fresh)
    session.commit()
    waiting = list(
        session.scalars(
            select(NoticeDelivery.notice_id)
            .where(NoticeDelivery.broadcast_id == broadcast_id, NoticeDelivery.state == PENDING)
            .order_by(NoticeDelivery.id)
        )
    )
    _enqueue_chunks(waiting)
    return len(waiting)


def _write(session: Session, broadcast: Broadcast, seller_ids: list[int]) -> None:
    now = utcnow()
    session.execute(
        insert(SellerNotice),
        [
            {
                "seller_id": seller_id,
                "kind": f"BROADCAST_{broadcast.category.upper()}",
                "title": broadcast.title,
                "body": broadcast.body,
                # the push opens the seller's copy in full; staff's own link is "了解更多" there
                "data": {"category": CATEGORIES[broadcast.category], "more": broadcast.link},
                "dedupe_key": f"broadcast:{broadcast.id}:{seller_id}",
                "broadcast_id": broadcast.id,
                "link": f"/seller/broadcasts/{broadcast.id}",
                "created_at": now,
            }
            for seller_id in seller_ids
        ],
    )
    notice_ids = session.scalars(
        select(SellerNotice.id).where(
            SellerNotice.broadcast_id == broadcast.id, SellerNotice.seller_id.in_(seller_ids)
        )
    ).all()
    session.execute(
        insert(NoticeDelivery),
        [
            {
                "notice_id": notice_id,
                "broadcast_id": broadcast.id,
                "channel": notices.CHANNEL,
                "state": PENDING,
                "attempts": 0,
                "reason": "",
                "created_at": now,
            }
            for notice_id in notice_ids
        ],
    )
    session.commit()


def _enqueue_chunks(notice_ids: list[int], attempt: int = 0) -> None:
    size = current_app.config["NOTICE_CHUNK"]
    for at in range(0, len(notice_ids), size):
        enqueue("jobs.notices.deliver_chunk", notice_ids[at : at + size], attempt, queue=QUEUE)


def deliver_chunk(session: Session, notice_ids: list[int], attempt: int = 0) -> dict:
    """Send a chunk under its lease; what WeChat refused for now goes out again a little
    later (paced by the refusals' codes). Answers how many ended in each state."""
    lease = _lease(notice_ids)
    states = notices.deliver_or_retry(
        session,
        notice_ids,
        attempt,
        later=lambda again, attempt, delay: enqueue_in(
            delay, "jobs.notices.deliver_chunk", again, attempt, queue=QUEUE
        ),
        before_batch=lambda: _renew(lease),
    )
    _release(lease)
    take_over_lost_chunks()
    finish_done(session)
    return dict(Counter(states.values()))


def _lease_ends() -> int:
    return int((time.time() + current_app.config["NOTICE_STALE_SECONDS"]) * 1000)


def _lease(notice_ids: list[int]) -> str:
    token = uuid.uuid4().hex
    pipe = redis_client().pipeline()
    pipe.set(f"{LEASES}:{token}", json.dumps(notice_ids), ex=86400)
    pipe.zadd(LEASES, {token: _lease_ends()})
    pipe.execute()
    return token


def _renew(token: str) -> None:
    redis_client().zadd(LEASES, {token: _lease_ends()}, xx=True)  # not once taken over


def _release(token: str) -> None:
    pipe = redis_client().pipeline()
    pipe.zrem(LEASES, token)
    pipe.delete(f"{LEASES}:{token}")
    pipe.execute()


def take_over_lost_chunks() -> int:
    """Enqueue again the chunks whose lease ran out (their worker died); answers how many."""
    redis = redis_client()
    taken = 0
    for token in redis.zrangebyscore(LEASES, 0, int(time.time() * 1000)):
        if not redis.zrem(LEASES, token):  # another taker won it
            continue
        notice_ids = redis.getdel(f"{LEASES}:{token.decode()}")
        if notice_ids:
            enqueue("jobs.notices.deliver_chunk", json.loads(notice_ids), queue=QUEUE)
            taken += 1
    return taken


def due(session: Session) -> list[int]:
    """Scheduled broadcasts whose time passed without their job (it was lost)."""
    late = utcnow() - timedelta(seconds=current_app.config["NOTICE_STALE_SECONDS"])
    return list(
        session.scalars(
            select(Broadcast.id).where(Broadcast.status == SCHEDULED, Broadcast.send_at < late)
        )
    )


def finish_done(session: Session) -> list[int]:
    """Running broadcasts with nothing left to send are done."""
    running = session.scalars(select(Broadcast).where(Broadcast.status == RUNNING)).all()
    done = []
    for broadcast in running:
        waiting = session.scalar(
            select(func.count())
            .select_from(NoticeDelivery)
            .where(
                NoticeDelivery.broadcast_id == broadcast.id,
                NoticeDelivery.state.in_((PENDING, SENDING)),
            )
        )
        if not waiting:
            broadcast.status, broadcast.finished_at = DONE, utcnow()
            done.append(broadcast.id)
    session.commit()
    return done


def cancel(session: Session, broadcast_id: int, *, staff: Staff | None = None) -> Broadcast:
    """Stop a broadcast: what was not sent yet is skipped (it stays in the inboxes)."""
    broadcast = get(session, broadcast_id)
    if broadcast.status not in (SCHEDULED, RUNNING):
        raise Conflict("广播已发送完毕或已取消，不能再取消", code="BROADCAST_NOT_CANCELLABLE")
    audit.record(
        session,
        staff=staff,
        action="broadcast.cancel",
        target_type="broadcast",
        target_id=broadcast_id,
        summary=f"取消广播“{broadcast.title}”（{STATUS_NAMES[broadcast.status]}时）",
        before={"status": STATUS_NAMES[broadcast.status]},
        after={"status": STATUS_NAMES[CANCELLED]},
    )
    broadcast.status, broadcast.cancelled_at = CANCELLED, utcnow()
    session.execute(
        update(NoticeDelivery)
        .where(NoticeDelivery.broadcast_id == broadcast_id, NoticeDelivery.state == PENDING)
        .values(state=SKIPPED, reason=CANCELLED_REASON, finished_at=utcnow())
    )
    session.commit()
    return broadcast


# -- the report ------------------------------------------------------------------------------------
def report(session: Session, broadcast_id: int) -> dict:
    """Sent (WeChat took it), delivered (to the phone), failed by reason, unreachable over
    WeChat by reason, cancelled, pending, and read in the inbox. While it runs the parts add up
    to the sellers it matched: sent + failed + unreachable + cancelled + pending = recipients
    (a notice not written yet is pending)."""
    broadcast = get(session, broadcast_id)
    states = notices.delivery_counts(session, broadcast_id=broadcast_id)
    reasons = session.execute(
        select(NoticeDelivery.state, NoticeDelivery.reason, func.count())
        .where(
            NoticeDelivery.broadcast_id == broadcast_id,
            NoticeDelivery.state.in_((FAILED, SKIPPED)),
        )
        .group_by(NoticeDelivery.state, NoticeDelivery.reason)
    ).all()
    read = session.scalar(
        select(func.count())
        .select_from(SellerNotice)
        .where(SellerNotice.broadcast_id == broadcast_id, SellerNotice.read_at.is_not(None))
    )
    written = sum(states.values())
    total = max(broadcast.recipients, written)
    queued = states.get(PENDING, 0) + states.get(SENDING, 0)
    skipped = {r: n for s, r, n in reasons if s == SKIPPED}
    cancelled = skipped.get(CANCELLED_REASON, 0)
    unreachable = {r: n for r, n in skipped.items() if r != CANCELLED_REASON}
    parts = {
        "sent": states.get(SENT, 0) + states.get(DELIVERED, 0),
        "failed": states.get(FAILED, 0),
        "unreachable": sum(unreachable.values()),
        "cancelled": cancelled,
        "pending": queued + (total - written),
    }
    return {
        "id": broadcast.id,
        "title": broadcast.title,
        "body": broadcast.body,
        "category": broadcast.category,
        "category_name": CATEGORIES[broadcast.category],
        "target": broadcast.target,
        "status": broadcast.status,
        "status_name": STATUS_NAMES[broadcast.status],
        "send_at": to_shanghai_iso(broadcast.send_at),
        "recipients": total,
        **parts,
        "parts": [
            {
                "key": key,
                "name": name,
                "count": parts[key],
                "percent": round(100 * parts[key] / total, 2) if total else 0,
            }
            for key, name in PARTS.items()
        ],
        "delivered": states.get(DELIVERED, 0),
        "failed_by_reason": {r: n for s, r, n in reasons if s == FAILED},
        "unreachable_by_reason": unreachable,
        "skipped": sum(skipped.values()),
        "skipped_by_reason": skipped,
        "read": read,
        "progress": round((total - parts["pending"]) / total, 4) if total else 1.0,
    }


def list_broadcasts(session: Session, *, limit: int = 50) -> list[Broadcast]:
    return list(session.scalars(select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)))
