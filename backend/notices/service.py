"""Sellers' notices: the inbox, and delivering each over WeChat exactly once. Order events
(from the store and every platform), licence reminders and alliance broadcasts all become
SellerNotice rows (the inbox, which keeps everything) and each goes out as an Official Account
template message to a seller who bound and follows the account.

Exactly once under crashes: a worker claims a delivery (PENDING → SENDING, committed) before
calling WeChat, and sends with client_msg_id = the notice id, so WeChat itself drops a resend
within 10 minutes. A delivery left SENDING by a dead worker is claimed again by the sweeper and
sent again with the same client_msg_id: the seller still gets one message. Transient refusals
(-1, 45009, no answer) go back to PENDING for a later try — at once when WeChat was only busy,
paced after a frequency limit; permanent ones (43004 not following, 40003 ...) end FAILED with
the reason."""

from __future__ import annotations

import time
from collections.abc import Callable
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
    RUNNING,
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
QUEUE = "notices"  # order pushes, served before other jobs
FINISH_KEEP_SECONDS = 600  # WeChat's client_msg_id window: a resend answers within it
TRANSIENT_ERRCODES = {None, -1, 45009, 45011}
FREQUENCY_ERRCODES = {45009, 45011}  # over WeChat's rate: wait before trying again
QUICK_RETRY_SECONDS = (0.2, 1, 2, 5, 15, 30)  # WeChat busy (-1) or no answer
PACED_RETRY_SECONDS = (1, 2, 5, 15, 30)  # over a frequency limit, or our own budget spent
WAIT_IN_PLACE_SECONDS = 0.5  # a retry this soon waits in the worker; later ones go back to rq
SEND_BATCH = 10  # claimed in one commit, their outcomes stored in one
LOST_SECONDS = 60  # a delivery nobody touched this long lost its job (> any backoff)
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
            queue=QUEUE,
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


def _deliveries(session: Session, notices: list[SellerNotice]) -> dict[int, NoticeDelivery]:
    """Each notice's delivery, made now for a notice older than deliveries."""
    ids = [notice.id for notice in notices]
    found = {
        delivery.notice_id: delivery
        for delivery in session.scalars(
            select(NoticeDelivery).where(
                NoticeDelivery.notice_id.in_(ids), NoticeDelivery.channel == CHANNEL
            )
        )
    }
    missing = [notice for notice in notices if notice.id not in found]
    if missing:
        for notice in missing:
            session.add(
                NoticeDelivery(
                    notice_id=notice.id, broadcast_id=notice.broadcast_id, channel=CHANNEL
                )
            )
        try:
            session.commit()
        except IntegrityError:  # created concurrently
            session.rollback()
        return _deliveries(session, notices)
    return found


def _stale() -> timedelta:
    """A claim older than this belonged to a dead worker (a send takes a few seconds at most)."""
    return timedelta(seconds=current_app.config["NOTICE_STALE_SECONDS"])


def _claim(session: Session, delivery_ids: list[int]) -> set[int]:
    """Take the deliveries for this worker (PENDING, or SENDING left by a dead worker), in one
    commit; answers the ones taken."""
    stale = utcnow() - _stale()
    claimed = session.scalars(
        update(NoticeDelivery)
        .where(
            NoticeDelivery.id.in_(delivery_ids),
            (NoticeDelivery.state == PENDING)
            | ((NoticeDelivery.state == SENDING) & (NoticeDelivery.claimed_at < stale)),
        )
        .values(state=SENDING, claimed_at=utcnow(), attempts=NoticeDelivery.attempts + 1)
        .returning(NoticeDelivery.id)
    ).all()
    session.commit()
    return set(claimed)


def retry_after(refused: WeChatError | TimeoutError, attempt: int) -> float:
    """Seconds to wait before the next try of a transient refusal: almost none when WeChat was
    only busy or did not answer, paced when we went over a frequency limit."""
    paced = isinstance(refused, TimeoutError) or refused.errcode in FREQUENCY_ERRCODES
    steps = PACED_RETRY_SECONDS if paced else QUICK_RETRY_SECONDS
    return steps[min(attempt, len(steps) - 1)]


def deliver_or_retry(
    session: Session,
    notice_ids: list[int],
    attempt: int,
    *,
    later: Callable[[list[int], int, float], object],
    before_batch: Callable[[], object] = lambda: None,
) -> dict[int, str]:
    """Send notices SEND_BATCH at a time; transient refusals are tried again in this worker
    when the wait is short, else handed to later(notice ids, attempt, seconds), which enqueues
    the next try ("retry"). Answers each notice's state."""
    states: dict[int, str] = {}
    while notice_ids:
        again, delay = [], 0.0
        for at in range(0, len(notice_ids), SEND_BATCH):
            before_batch()
            for notice_id, outcome in deliver_many(
                session, notice_ids[at : at + SEND_BATCH]
            ).items():
                if isinstance(outcome, Exception):
                    again.append(notice_id)
                    delay = max(delay, retry_after(outcome, attempt))
                    outcome = "retry"
                states[notice_id] = outcome
        notice_ids, attempt = again, attempt + 1
        if again and delay > WAIT_IN_PLACE_SECONDS:
            later(again, attempt, delay)
            break
        time.sleep(delay)
    return states


Outcome = str | WeChatError | TimeoutError


def deliver_many(session: Session, notice_ids: list[int]) -> dict[int, Outcome]:
    """Send notices, each once: what is done stays done, a cancelled broadcast's and an
    unreachable seller's are skipped, the rest are claimed in one commit, sent one by one
    within the channel's budget, and their outcomes stored in one commit. Answers each
    notice's state, or the transient refusal (its delivery PENDING again, to try later)."""
    notices = list(session.scalars(select(SellerNotice).where(SellerNotice.id.in_(notice_ids))))
    outcomes: dict[int, Outcome] = {notice_id: "missing" for notice_id in notice_ids}
    deliveries = _deliveries(session, notices) if notices else {}
    cancelled = set(
        session.scalars(
            select(Broadcast.id).where(
                Broadcast.id.in_({n.broadcast_id for n in notices if n.broadcast_id}),
                Broadcast.status == CANCELLED,
            )
        )
    )
    followers = {
        follower.seller_id: follower
        for follower in session.scalars(
            select(OAFollower).where(OAFollower.seller_id.in_({n.seller_id for n in notices}))
        )
    }
    now, finished, to_send = utcnow(), [], []
    for notice in notices:
        delivery, follower = deliveries[notice.id], followers.get(notice.seller_id)
        outcomes[notice.id] = delivery.state
        if delivery.state not in (PENDING, SENDING):
            continue
        if notice.broadcast_id in cancelled:
            reason = "广播已取消"
        elif follower is None or not follower.reachable:
            reason = "未绑定公众号" if follower is None else "未关注或拒收公众号消息"
        else:
            to_send.append((notice, delivery.id, follower))
            continue
        finished.append({"id": delivery.id, "state": SKIPPED, "reason": reason, "finished_at": now})
        outcomes[notice.id] = SKIPPED
    if finished:
        session.execute(update(NoticeDelivery), finished)
        session.commit()
    claimed = _claim(session, [delivery_id for _, delivery_id, _ in to_send]) if to_send else ()
    results, sent = [], {}
    for notice, delivery_id, follower in to_send:
        if delivery_id not in claimed:
            outcomes[notice.id] = "claimed elsewhere"
            continue
        outcomes[notice.id], values = _send(notice, follower)
        results.append({"id": delivery_id, **values})
        if values.get("msgid"):
            sent[values["msgid"]] = (notice.id, delivery_id)
    if results:  # a crash before this commit leaves them SENDING: resent, WeChat drops it
        session.execute(update(NoticeDelivery), results)
        session.commit()
    if sent:  # their TEMPLATESENDJOBFINISH may have come before their msgid was stored
        early = redis_client().pipeline()
        for msgid in sent:
            early.getdel(f"heli:notice:finish:{msgid}")
        for (notice_id, delivery_id), status in zip(sent.values(), early.execute(), strict=True):
            if status is not None:
                outcomes[notice_id] = _apply_finish(session, delivery_id, status.decode())
        session.commit()
    return outcomes


def _send(notice: SellerNotice, follower: OAFollower) -> tuple[Outcome, dict]:
    """One template message within the channel's budget; answers the outcome and the
    delivery's new values."""
    config = current_app.config
    try:
        ratelimit.take(f"wechat:{CHANNEL}", config["NOTICE_OA_PER_SECOND"])
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
    except TimeoutError as spent:  # our own budget: nothing was sent
        return spent, {"state": PENDING, "reason": "发送额度等待超时"}
    except WeChatError as refused:
        if refused.errcode in TRANSIENT_ERRCODES:
            return refused, {"state": PENDING, "reason": f"临时错误 {refused.errcode}"}
        if refused.errcode == 43004:
            follower.following = False
        reason = ERRCODE_REASONS.get(refused.errcode, refused.errmsg[:80])
        return FAILED, {
            "state": FAILED,
            "openid": follower.openid,
            "reason": f"{refused.errcode} {reason}",
            "finished_at": utcnow(),
        }
    return SENT, {
        "state": SENT,
        "openid": follower.openid,
        "msgid": str(answer.get("msgid", "")),
        "sent_at": utcnow(),
        "reason": "",
    }


def template_finished(session: Session, *, msgid: str, status: str) -> None:
    """WeChat's TEMPLATESENDJOBFINISH: the message reached the phone, or why not."""
    by_msgid = select(NoticeDelivery.id).where(NoticeDelivery.msgid == msgid)
    delivery_id = session.scalar(by_msgid)
    if delivery_id is None:  # before the sender stored the msgid: it looks here once it has
        early = f"heli:notice:finish:{msgid}"
        redis_client().set(early, status, ex=FINISH_KEEP_SECONDS)
        # it may have stored it and looked meanwhile: whoever takes the status back applies it
        delivery_id = session.scalar(by_msgid)
        if delivery_id is None or redis_client().getdel(early) is None:
            return
    _apply_finish(session, delivery_id, status)


def _apply_finish(session: Session, delivery_id: int, status: str) -> str:
    """Record a sent message's fate; answers the delivery's state."""
    if status.replace(" ", "").lower() == "success":
        state, reason = DELIVERED, ""
    else:
        state = FAILED
        reason = "用户拒收" if "block" in status else f"微信发送失败：{status}"[:120]
    finished = session.execute(
        update(NoticeDelivery)
        .where(NoticeDelivery.id == delivery_id, NoticeDelivery.state == SENT)
        .values(state=state, finished_at=utcnow(), **({"reason": reason} if reason else {}))
    ).rowcount
    return (
        state
        if finished
        else session.scalar(select(NoticeDelivery.state).where(NoticeDelivery.id == delivery_id))
    )


def waiting_deliveries(session: Session, *, limit: int = 5000) -> list[int]:
    """Notices whose delivery lost its job: claimed by a worker that died (the claim went
    stale), an order push nobody tried for LOST_SECONDS, or a running broadcast whose fan-out
    made no progress for as long (its chunks never reached rq). The sweeper enqueues them again
    (a claim makes a second copy harmless). A chunk whose worker died is taken over sooner, by
    its lease (broadcasts.take_over_lost_chunks)."""
    now, stale, lost = utcnow(), _stale(), timedelta(seconds=LOST_SECONDS)
    running = select(Broadcast.id).where(Broadcast.status == RUNNING)
    stalled = (
        select(NoticeDelivery.broadcast_id)
        .where(NoticeDelivery.broadcast_id.in_(running))
        .group_by(NoticeDelivery.broadcast_id)
        .having(func.coalesce(func.max(NoticeDelivery.claimed_at), now - 2 * lost) < now - lost)
    )
    dead_worker = (NoticeDelivery.state == SENDING) & (NoticeDelivery.claimed_at < now - stale)
    lost_push = (
        (NoticeDelivery.state == PENDING)
        & NoticeDelivery.broadcast_id.is_(None)
        & (func.coalesce(NoticeDelivery.claimed_at, NoticeDelivery.created_at) < now - lost)
    )
    stalled_fan_out = (
        (NoticeDelivery.state == PENDING)
        & NoticeDelivery.broadcast_id.in_(stalled)
        & (NoticeDelivery.created_at < now - lost)
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
