"""The alliance's Official Account bot: sellers (and staff) bind their WeChat with a one-time
code from the console; anyone can look up a trace code, the live schedule, or an order of
their own; follow, unfollow and template-delivery events keep each follower's reachability.

WeChat waits 5 seconds for an answer, so the callback answers fast things at once and queues
lookups, which answer by customer-service message. Each message is handled once (MsgId, or
sender + time + event for events)."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from backend.errors import DomainError
from backend.flows import oa_lookups
from backend.notices import service as notices
from backend.officialaccount import service as officialaccount
from backend.officialaccount.models import OAFollower
from backend.queue import enqueue, redis_client
from backend.sellers import service as sellers
from backend.staff import service as staff
from backend.trace import codes
from backend.transactions import on_commit

SEEN_TTL_SECONDS = 24 * 3600  # WeChat retries within 15 s; a day is plenty
_BIND = re.compile(r"^(?:绑定|bd|bind)?\s*(\d{8})$", re.IGNORECASE)
_ORDER_NUMBER = re.compile(r"HL\d{24}", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s\-_]")

HELP = (
    "您好，这里是乳山牡蛎产业联盟。\n"
    "· 发送包装上的防伪码，查询产地与加工全程\n"
    "· 发送订单号（HL开头），查询您的订单\n"
    "· 发送“直播”，查看直播安排\n"
    "· 联盟卖家发送控制台给出的 8 位绑定码，绑定接收订单与通知"
)


def _seen_key(message) -> str:
    if getattr(message, "id", None):
        return f"heli:oa:seen:{message.id}"
    event = getattr(message, "event", "")
    return f"heli:oa:seen:{message.source}:{message.create_time}:{event}"


def handle(session: Session, message) -> str | None:
    """Answer one parsed message (wechatpy message or event): the reply text, or None for a
    message WeChat already delivered (it retries after 5 s). A failure forgets the message,
    so WeChat's retry gets another go."""
    seen = _seen_key(message)
    if not redis_client().set(seen, 1, nx=True, ex=SEEN_TTL_SECONDS):
        return None
    try:
        follower = officialaccount.follower(session, message.source)
        if message.type == "event":
            reply = _event(session, follower, message)
        else:
            officialaccount.heard_from(follower)
            reply = (
                _text(session, follower, message.content or "") if message.type == "text" else HELP
            )
        session.commit()
    except BaseException:
        session.rollback()
        redis_client().delete(seen)
        raise
    return reply


def _event(session: Session, follower: OAFollower, event) -> str | None:
    name = event.event.lower()
    if name in ("subscribe", "subscribe_scan"):
        officialaccount.followed(follower)
        scene = getattr(event, "scene_id", None) or ""
        if scene.startswith("bind_"):  # a bind QR code shown on the console
            return _bind(session, follower, scene.removeprefix("bind_"))
        return HELP
    if name == "unsubscribe":
        officialaccount.unfollowed(follower)
        return None
    if name == "templatesendjobfinish":
        officialaccount.template_finished(follower, status=event.status or "")
        notices.template_finished(session, msgid=str(event.id), status=event.status or "")
        return None
    officialaccount.heard_from(follower)
    return None


def _bind(session: Session, follower: OAFollower, code: str) -> str:
    try:
        kind, bound_id = officialaccount.bind(session, follower, code)
    except DomainError as refused:
        return refused.message
    if kind == officialaccount.SELLER:
        name = sellers.get_seller(session, bound_id).name
        return f"绑定成功：{name}。新订单、退款和联盟通知将通过本公众号发送给您。"
    name = staff.get_staff(session, bound_id).display_name
    return f"绑定成功：{name}。直播总结等消息将通过本公众号发送给您。"


def _text(session: Session, follower: OAFollower, content: str) -> str:
    text = content.strip()
    bind = _BIND.match(text)
    if bind:
        return _bind(session, follower, bind.group(1))
    order, openid = _ORDER_NUMBER.search(text), follower.openid
    if order:
        number = order.group(0).upper()
        on_commit(
            session,
            lambda: enqueue("jobs.officialaccount.answer_order", openid, number),
        )
        return "正在查询订单，请稍候…"
    code = codes.normalize(_SEPARATORS.sub("", text))
    if code:
        on_commit(session, lambda: enqueue("jobs.officialaccount.answer_trace", openid, code))
        return "正在查询防伪码，请稍候…"
    if "直播" in text:
        return oa_lookups.live_schedule(session)
    if text in ("解绑", "解除绑定"):
        officialaccount.unbind(follower)
        return "已解除绑定，将不再通过本公众号接收卖家通知。"
    return HELP
