"""Sellers' notices: the inbox, and delivering each over WeChat exactly once. Order events
(from the store and every platform), licence reminders and alliance broadcasts all become
SellerNotice rows (the inbox, which keeps everything) and each goes out as an Official Account
template message to a seller who bound and follows the account.

Exactly once under crashes: a worker claims a delivery (PENDING → SENDING, committed) before
calling WeChat, and sends with client_msg_id = the notice id, so WeChat itself drops a resend
within 10 minutes. A delivery left SENDING by a dead worker is claimed again by the sweeper and
sent again with the same client_msg_id: the seller still gets one message. Transient refusals
(-1, 45009, no answer) go back to PENDING for a later try; permanent ones (43004 not
following, 40003 ...) end FAILED with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import ratelimit
from backend.clients.wechat import WeChatError, oa_client
from backend.errors import NotFound
from backend.notices.models import (
    CANCELLED,
    DELIVERED,
    FAILED,
    PENDING,
    SENDING,
    SENT,
    SKIPPED,
    Broadcast,
    NoticeDelivery,
    SellerNotice,
)
from backend.officialaccount.models import OAFollower
from backend.officialaccount.templates import FIELD_LIMIT, template_data
from backend.pagination import page_of
from backend.queue import enqueue_many, redis_client
from backend.timeutil import to_shanghai_iso, utcnow
from backend.transactions import on_commit

CHANNEL = "oa_template"
FINISH_KEEP_SECONDS = 600  # WeChat's client_msg_id window: a resend answers within it
TRANSIENT_ERRCODES = {None, -1, 45009, 45011}
ERRCODE_REASONS = {
    43004: "未关注公众号",
    40003: "openid 无效",
    40037: "模板无效",
    47003: "模板参数不合规",
    43101: "用户拒收",
    48001: "接口未授权",
}


# -- the inbox -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Notice:
    """One notice for a seller's inbox; the dedupe key makes it exist once."""

    seller_id: int
    kind: str
    title: str
    body: str
    dedupe_key: str
    link: str = ""
    data: dict = field(default_factory=dict)


def notify(
    session: Session,
    *,
    seller_id: int,
    kind: str,
    title: str,
    body: str,
    dedupe_key: str,
    link: str = "",
    **data,
) -> bool:
    """Put a notice in a seller's inbox once per dedupe key, and send it over WeChat once the
    caller commits; answers whether it was new."""
    return notify_many(session, [Notice(seller_id, kind, title, body, dedupe_key, link, data)]) == 1


def notify_many(session: Session, notices: list[Notice]) -> int:
    """notify() for many notices in a few statements; answers how many were new."""
    keys = {notice.dedupe_key for notice in notices}
    if not keys:
        return 0
    seen = set(
        session.scalars(select(SellerNotice.dedupe_key).where(SellerNotice.dedupe_key.in_(keys)))
    )
    rows = []
    for notice in notices:
        if notice.dedupe_key in seen:
            continue
        seen.add(notice.dedupe_key)
        rows.append(
            {
                "seller_id": notice.seller_id,
                "kind": notice.kind,
                "title": notice.title[:80],
                "body": notice.body,
                "data": notice.data,
                "dedupe_key": notice.dedupe_key,
                "link": notice.link,
            }
        )
    if not rows:
        return 0
    notice_ids = list(session.scalars(insert(SellerNotice).returning(SellerNotice.id), rows))
    # its WeChat delivery exists with it, so a lost job is found by the sweeper
    session.execute(
        insert(NoticeDelivery), [{"notice_id": id_, "channel": CHANNEL} for id_ in notice_ids]
    )
    on_commit(
        session,
        lambda: enqueue_many(
            "jobs.notices.deliver_notice",
            [(notice_id,) for notice_id in notice_ids],
            queue="notices",
        ),
    )
    return len(rows)


def inbox(
    session: Session, *, seller_id: int, unread_only: bool, page: int, page_size: int
) -> tuple[list[SellerNotice], int]:
    """A seller's notices, newest first."""
    where = [SellerNotice.seller_id == seller_id]
    if unread_only:
        where.append(SellerNotice.read_at.is_(None))
    total = session.scalar(select(func.count()).select_from(SellerNotice).where(*where))
    rows = session.scalars(
        page_of(
            select(SellerNotice).where(*where).order_by(SellerNotice.id.desc()), page, page_size
        )
    )
    return list(rows), total


def mark_read(session: Session, *, seller_id: int, notice_id: int) -> SellerNotice:
    notice = session.get(SellerNotice, notice_id)
    if notice is None or notice.seller_id != seller_id:
        raise NotFound("通知不存在", code="NOTICE_NOT_FOUND")
    if notice.read_at is None:
        notice.read_at = utcnow()
        session.commit()
    return notice


# -- delivery over WeChat --------------------------------------------------------------------
def _detail(notice: SellerNotice) -> str:
    """The second field: the notice body's first line, cut to fit."""
    line = notice.body.strip().splitlines()[0] if notice.body.strip() else notice.kind
    return line if len(line) <= FIELD_LIMIT else line[: FIELD_LIMIT - 1] + "…"


def ensure_delivery(session: Session, notice: SellerNotice) -> NoticeDelivery:
    delivery = session.scalar(
        select(NoticeDelivery).where(
            NoticeDelivery.notice_id == notice.id, NoticeDelivery.channel == CHANNEL
        )
    )
    if delivery is None:
        delivery = NoticeDelivery(
            notice_id=notice.id, broadcast_id=notice.broadcast_id, channel=CHANNEL
        )
        session.add(delivery)
        try:
            session.commit()
        except IntegrityError:  # created concurrently
            session.rollback()
            return ensure_delivery(session, notice)
    return delivery


def _stale() -> timedelta:
    """A claim older than this belonged to a dead worker (a send takes a few seconds at most)."""
    return timedelta(seconds=current_app.config["NOTICE_STALE_SECONDS"])


def _claim(session: Session, delivery_id: int) -> bool:
    """Take the delivery for this worker (PENDING, or SENDING left by a dead worker)."""
    stale = utcnow() - _stale()
    claimed = session.execute(
        update(NoticeDelivery)
        .where(
            NoticeDelivery.id == delivery_id,
            (NoticeDelivery.state == PENDING)
            | ((NoticeDelivery.state == SENDING) & (NoticeDelivery.claimed_at < stale)),
        )
        .values(state=SENDING, claimed_at=utcnow(), attempts=NoticeDelivery.attempts + 1)
    ).rowcount
    session.commit()
    return bool(claimed)


def _finish(session: Session, delivery_id: int, **values) -> None:
    session.execute(update(NoticeDelivery).where(NoticeDelivery.id == delivery_id).values(**values))
    session.commit()


def deliver(session: Session, notice_id: int) -> str:
    """Send one notice (once). Answers the delivery's state; WeChatError on a transient refusal
    (the delivery is PENDING again, for a retry)."""
    notice = session.get(SellerNotice, notice_id)
    if notice is None:
        return "missing"
    delivery = ensure_delivery(session, notice)
    if delivery.state not in (PENDING, SENDING):
        return delivery.state
    if notice.broadcast_id is not None and _cancelled(session, notice.broadcast_id):
        _finish(session, delivery.id, state=SKIPPED, reason="广播已取消", finished_at=utcnow())
        return SKIPPED
    follower = session.scalar(select(OAFollower).where(OAFollower.seller_id == notice.seller_id))
    if follower is None or not follower.reachable:
        reason = "未绑定公众号" if follower is None else "未关注或拒收公众号消息"
        _finish(session, delivery.id, state=SKIPPED, reason=reason, finished_at=utcnow())
        return SKIPPED
    config = current_app.config
    ratelimit.take(f"wechat:{CHANNEL}", config["NOTICE_OA_PER_SECOND"])  # before the claim:
    if not _claim(session, delivery.id):  # a claim must not age while waiting for the budget
        return "claimed elsewhere"
    try:
        answer = oa_client().send_template(
            openid=follower.openid,
            template_id=config["WECHAT_OA_NOTICE_TEMPLATE"],
            data=template_data(
                notice.title[:FIELD_LIMIT],
                _detail(notice),
                to_shanghai_iso(notice.created_at)[:16].replace("T", " "),
            ),
            url=config["PUBLIC_BASE_URL"] + notice.link if notice.link else None,
            client_msg_id=f"heli-notice-{notice.id}",
        )
    except WeChatError as refused:
        if refused.errcode in TRANSIENT_ERRCODES:
            _finish(session, delivery.id, state=PENDING, reason=f"临时错误 {refused.errcode}")
            raise
        reason = ERRCODE_REASONS.get(refused.errcode, refused.errmsg[:80])
        _finish(
            session,
            delivery.id,
            state=FAILED,
            openid=follower.openid,
            reason=f"{refused.errcode} {reason}",
            finished_at=utcnow(),
        )
        if refused.errcode == 43004:
            follower.following = False
            session.commit()
        return FAILED
    msgid = str(answer.get("msgid", ""))
    _finish(
        session,
        delivery.id,
        state=SENT,
        openid=follower.openid,
        msgid=msgid,
        sent_at=utcnow(),
        reason="",
    )
    early = redis_client().getdel(f"heli:notice:finish:{msgid}")
    if early is not None:
        session.refresh(delivery)
        _apply_finish(delivery, early.decode())
        session.commit()
        return delivery.state
    return SENT


def _cancelled(session: Session, broadcast_id: int) -> bool:
    return session.scalar(select(Broadcast.status).where(Broadcast.id == broadcast_id)) == CANCELLED


def template_finished(session: Session, *, msgid: str, status: str) -> None:
    """WeChat's TEMPLATESENDJOBFINISH: the message reached the phone, or why not."""
    delivery = session.scalar(select(NoticeDelivery).where(NoticeDelivery.msgid == msgid))
    if delivery is None:  # it may arrive before we stored the msgid (a crash, then a resend)
        redis_client().set(f"heli:notice:finish:{msgid}", status, ex=FINISH_KEEP_SECONDS)
        return
    _apply_finish(delivery, status)


def _apply_finish(delivery: NoticeDelivery, status: str) -> None:
    if delivery.state != SENT:
        return
    delivery.finished_at = utcnow()
    if status.replace(" ", "").lower() == "success":
        delivery.state = DELIVERED
    else:
        delivery.state = FAILED
        delivery.reason = "用户拒收" if "block" in status else f"微信发送失败：{status}"[:120]


def waiting_deliveries(session: Session, *, limit: int = 5000) -> list[int]:
    """Notices whose delivery lost its job: claimed by a worker that died, an order push never
    tried, or a broadcast whose fan-out made no progress for a while. The sweeper enqueues
    them again (a claim makes a second copy harmless)."""
    now, stale = utcnow(), _stale()
    stalled = (
        select(NoticeDelivery.broadcast_id)
        .where(NoticeDelivery.broadcast_id.is_not(None))
        .group_by(NoticeDelivery.broadcast_id)
        .having(func.coalesce(func.max(NoticeDelivery.claimed_at), now - 2 * stale) < now - stale)
    )
    dead_worker = (NoticeDelivery.state == SENDING) & (NoticeDelivery.claimed_at < now - stale)
    lost_push = (
        (NoticeDelivery.state == PENDING)
        & NoticeDelivery.broadcast_id.is_(None)
        & (NoticeDelivery.created_at < now - 2 * stale)
    )
    stalled_fan_out = (
        (NoticeDelivery.state == PENDING)
        & NoticeDelivery.broadcast_id.in_(stalled)
        & (NoticeDelivery.created_at < now - stale)
    )
    return list(
        session.scalars(
            select(NoticeDelivery.notice_id)
            .where(dead_worker | lost_push | stalled_fan_out)
            .order_by(NoticeDelivery.id)
            .limit(limit)
        )
    )


def delivery_counts(session: Session, *, broadcast_id: int) -> dict:
    rows = session.execute(
        select(NoticeDelivery.state, func.count())
        .where(NoticeDelivery.broadcast_id == broadcast_id)
        .group_by(NoticeDelivery.state)
    ).all()
    return dict(rows)
