"""What happened in a show: the co-host bot counts as it goes (Redis, per room) and, once the
room has ended, the summary for the host is written once from those counts and the orders
(claims, paid orders, GMV). The host sees it on the console and gets it as a message."""

from __future__ import annotations

from flask import current_app
from redis.client import Pipeline
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.live import sharers
from backend.live.models import (
    FINISHED,
    LiveClaim,
    LiveMute,
    LiveRoom,
    LiveShowSummary,
)
from backend.officialaccount import service as officialaccount
from backend.orders.models import Order
from backend.queue import enqueue, redis_client
from backend.staff import service as staff
from backend.timeutil import to_shanghai_iso
from backend.transactions import on_commit

INTENT_NAMES = {
    "price": "价格",
    "grade": "规格大小",
    "origin": "产地海区",
    "harvest": "捕捞日期/新鲜度",
    "depuration": "净化",
    "shipping": "发货快递",
    "guarantee": "死蚝包赔",
    "how_to_buy": "怎么购买",
    "aftersales": "售后退款",
    "on_screen": "讲解中的商品",
    "stock": "库存",
    "unknown": "未识别的问题",
}
KEEP_UNANSWERED = 100
SUMMARY_KEEP_SECONDS = 7 * 24 * 3600


def _key(room_id: int, what: str) -> str:
    return f"heli:live:room:{room_id}:bot:{what}"


def count(pipe: Pipeline, room_id: int, what: str, by: int = 1) -> None:
    pipe.hincrby(_key(room_id, "stats"), what, by)


def record_comment(
    pipe: Pipeline,
    room_id: int,
    *,
    customer_id: int,
    text: str,
    questions: list[str],
    unanswered: bool,
) -> None:
    """Count one viewer comment: the viewer, the questions it asked, and whether it went
    unanswered (a question the bot did not understand)."""
    count(pipe, room_id, "comments")
    pipe.pfadd(_key(room_id, "viewers"), customer_id)
    for intent in questions:
        pipe.hincrby(_key(room_id, "intents"), intent, 1)
    if questions:
        count(pipe, room_id, "questions")
        pipe.zincrby(_key(room_id, "questions"), 1, text[:40])
    if unanswered:
        count(pipe, room_id, "unanswered")
        pipe.lpush(_key(room_id, "unanswered"), text[:100])
        pipe.ltrim(_key(room_id, "unanswered"), 0, KEEP_UNANSWERED - 1)


def _decoded(mapping: dict) -> dict[str, int]:
    return {key.decode(): int(value) for key, value in mapping.items()}


def live_figures(session: Session, room_id: int) -> dict:
    """The show's figures so far (the console shows them while it runs)."""
    redis = redis_client()
    stats = _decoded(redis.hgetall(_key(room_id, "stats")))
    intents = _decoded(redis.hgetall(_key(room_id, "intents")))
    top = redis.zrevrange(_key(room_id, "questions"), 0, 9, withscores=True)
    unanswered = [t.decode() for t in redis.lrange(_key(room_id, "unanswered"), 0, 19)]
    orders = session.execute(
        select(func.count(), func.coalesce(func.sum(Order.total), 0)).where(
            Order.id.in_(sharers.room_order_ids(room_id)), Order.paid_at.is_not(None)
        )
    ).one()
    claims = session.execute(
        select(func.count(), func.coalesce(func.sum(LiveClaim.quantity), 0)).where(
            LiveClaim.room_id == room_id
        )
    ).one()
    return {
        "viewers": redis.pfcount(_key(room_id, "viewers")),
        "comments": stats.get("comments", 0),
        "questions": stats.get("questions", 0),
        "answered": stats.get("answered", 0),
        "top_questions": [
            {"intent": intent, "name": INTENT_NAMES.get(intent, intent), "count": n}
            for intent, n in sorted(intents.items(), key=lambda pair: -pair[1])
            if intent != "unknown"
        ][:5],
        "top_question_texts": [{"text": t.decode(), "count": int(n)} for t, n in top],
        "claim_comments": stats.get("claims", 0),
        "holds": claims[0],
        "units_held": int(claims[1]),
        "claims_refused": stats.get("refused", 0),
        "paid_orders": orders[0],
        "gmv": int(orders[1]),  # fen, paid orders of the show (claims, flash sales, room orders)
        "sharers": sharers.by_sharer(session, room_id),  # the same orders by who brought the buyer
        "unanswered_count": stats.get("unanswered", 0),
        "unanswered": unanswered,
        "spam_hidden": stats.get("spam", 0),
        "muted_viewers": session.scalar(
            select(func.count()).select_from(LiveMute).where(LiveMute.room_id == room_id)
        ),
    }


def write_summary(session: Session, room_id: int) -> LiveShowSummary:
    """The summary of an ended show, written once; the host is told on the console."""
    existing = session.scalar(select(LiveShowSummary).where(LiveShowSummary.room_id == room_id))
    if existing is not None:
        return existing
    room = session.get(LiveRoom, room_id)
    figures = live_figures(session, room_id)
    figures["room"] = {
        "name": room.name,
        "anchor_name": room.anchor_name,
        "starts_at": to_shanghai_iso(room.starts_at),
        "ends_at": to_shanghai_iso(room.ends_at),
    }
    summary = LiveShowSummary(room_id=room_id, figures=figures)
    session.add(summary)
    try:
        session.flush()
    except IntegrityError:  # written concurrently
        session.rollback()
        return session.scalar(select(LiveShowSummary).where(LiveShowSummary.room_id == room_id))
    staff.raise_alert(
        session,
        kind="LIVE_SUMMARY",
        title=f"直播总结：{room.name}",
        room_id=room_id,
        text=summary_text(figures),
    )
    on_commit(session, lambda: enqueue("jobs.live.send_summary_to_host", room_id))
    session.commit()
    for what in ("stats", "viewers", "intents", "questions", "unanswered"):
        redis_client().expire(_key(room_id, what), SUMMARY_KEEP_SECONDS)
    return summary


def summary_text(figures: dict) -> str:
    """The summary as the message a host reads on the phone."""
    tops = "、".join(f"{t['name']}({t['count']})" for t in figures["top_questions"]) or "无"
    lines = [
        f"互动观众 {figures['viewers']} 人，评论 {figures['comments']} 条",
        f"提问 {figures['questions']} 条，热门问题：{tops}",
        f"评论下单 {figures['claim_comments']} 条，锁定 {figures['holds']} 单"
        f"（{figures['units_held']} 份），未成功 {figures['claims_refused']} 条",
        f"支付订单 {figures['paid_orders']} 单，成交额 {figures['gmv'] / 100:.2f} 元",
        f"成交来源：{_sources(figures.get('sharers', []))}",
        f"未回答的问题 {figures['unanswered_count']} 条",
    ]
    return "\n".join(lines)


def _sources(rows: list[dict], shown: int = 3) -> str:
    """The sharers who brought the most GMV, then natural traffic: "张三 2单 ¥198.00；…"."""
    selling = [row for row in rows if row["orders"]]
    named = [row for row in selling if row["sharer"] is not None][:shown]
    natural = [row for row in selling if row["sharer"] is None]
    parts = [f"{row['name']} {row['orders']}单 {row['gmv'] / 100:.2f}元" for row in named]
    parts += [f"{sharers.NATURAL} {row['orders']}单 {row['gmv'] / 100:.2f}元" for row in natural]
    return "；".join(parts) or "暂无"


def summarise_finished(session: Session) -> list[int]:
    """Write the summary of every ended room that has none yet."""
    room_ids = session.scalars(
        select(LiveRoom.id).where(
            LiveRoom.live_status == FINISHED,
            LiveRoom.id.not_in(select(LiveShowSummary.room_id)),
        )
    ).all()
    for room_id in room_ids:
        write_summary(session, room_id)
    return list(room_ids)


def get_summary(session: Session, room_id: int) -> dict | None:
    summary = session.scalar(select(LiveShowSummary).where(LiveShowSummary.room_id == room_id))
    if summary is None:
        return None
    return {**summary.figures, "created_at": to_shanghai_iso(summary.created_at)}


def show_figures(session: Session, room_id: int) -> dict:
    """The summary once the show ended (final), else the figures so far."""
    written = get_summary(session, room_id)
    if written is not None:
        return {"final": True, **written}
    return {"final": False, **live_figures(session, room_id)}


def send_to_host(session: Session, room_id: int) -> bool:
    """The summary as a message on the host's phone (the OA they bound), if they bound one."""
    room = session.get(LiveRoom, room_id)
    summary = get_summary(session, room_id)
    openid = officialaccount.staff_openid(session, room.created_by)
    if summary is None or openid is None:
        return False
    officialaccount.send_notice(
        openid=openid,
        title=f"直播总结：{room.name}",
        body=f"成交{summary['paid_orders']}单 {summary['gmv'] / 100:.2f}元",
        url=f"{current_app.config['PUBLIC_BASE_URL']}/console/live/rooms/{room_id}",
        dedupe=f"live-summary-{room_id}",
    )
    return True
