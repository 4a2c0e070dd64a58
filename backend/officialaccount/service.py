"""The alliance's Official Account bot: sellers (and staff) bind their WeChat with a one-time
code from the console; anyone can look up a trace code, the live schedule, or an order of
their own; follow, unfollow and template-delivery events keep each follower's reachability.

WeChat waits 5 seconds for an answer, so the callback answers fast things at once and queues
lookups, which answer by customer-service message. Each message is handled once (MsgId, or
sender + time + event for events)."""

from __future__ import annotations

import re
import secrets

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.clients.wechat import WeChatError, oa_client
from backend.customers.models import Customer
from backend.errors import NotFound
from backend.live import rooms
from backend.notices import service as notices
from backend.officialaccount.models import OAFollower
from backend.officialaccount.templates import FIELD_LIMIT, template_data
from backend.orders.models import Order
from backend.queue import enqueue, redis_client
from backend.sellers.models import Seller
from backend.staff.models import Staff
from backend.timeutil import to_shanghai_iso, utcnow
from backend.trace import codes
from backend.trace import service as trace
from backend.transactions import on_commit

BIND_CODE_TTL_SECONDS = 30 * 60
BIND_ATTEMPTS = 5  # wrong codes per follower per BIND_CODE_TTL_SECONDS
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


# -- bind codes (issued on the console) ------------------------------------------------------
def issue_bind_code(
    session: Session, *, seller_id: int | None = None, staff_id: int | None = None
) -> dict:
    """A one-time 8-digit code the seller (or staff member) sends to the OA within 30 minutes."""
    if (seller_id is None) == (staff_id is None):
        raise ValueError("a bind code is for one seller or one staff member")
    if seller_id is not None and session.get(Seller, seller_id) is None:
        raise NotFound("卖家不存在", code="SELLER_NOT_FOUND")
    if staff_id is not None and session.get(Staff, staff_id) is None:
        raise NotFound("员工不存在", code="STAFF_NOT_FOUND")
    target = f"seller:{seller_id}" if seller_id is not None else f"staff:{staff_id}"
    redis = redis_client()
    while True:
        code = f"{secrets.randbelow(10**8):08d}"
        if redis.set(f"heli:oa:bind:{code}", target, nx=True, ex=BIND_CODE_TTL_SECONDS):
            return {"code": code, "expires_in": BIND_CODE_TTL_SECONDS}


def _follower(session: Session, openid: str) -> OAFollower:
    follower = session.scalar(select(OAFollower).where(OAFollower.openid == openid))
    if follower is None:
        follower = OAFollower(openid=openid, following=True)
        session.add(follower)
        session.flush()
        # its UnionID (the link to a mini-program account) comes from user/info
        on_commit(session, lambda: enqueue("jobs.officialaccount.refresh_follower", openid))
    return follower


def _bind(session: Session, follower: OAFollower, code: str) -> str:
    redis = redis_client()
    attempts_key = f"heli:oa:bind-attempts:{follower.openid}"
    attempts, _ = (
        redis.pipeline().incr(attempts_key).expire(attempts_key, BIND_CODE_TTL_SECONDS).execute()
    )
    if attempts > BIND_ATTEMPTS:  # 8 digits are only safe while guesses are few
        return "尝试次数过多，请 30 分钟后再试"
    target = redis.getdel(f"heli:oa:bind:{code}")
    if target is None:
        return "绑定码无效或已过期，请在联盟控制台重新获取"
    kind, _, target_id = target.decode().partition(":")
    column = OAFollower.seller_id if kind == "seller" else OAFollower.staff_id
    for previous in session.scalars(select(OAFollower).where(column == int(target_id))):
        setattr(previous, column.key, None)  # one WeChat per seller: the newest binding wins
    session.flush()
    setattr(follower, column.key, int(target_id))
    follower.bound_at = utcnow()
    redis.delete(attempts_key)
    if kind == "seller":
        name = session.get(Seller, int(target_id)).name
        return f"绑定成功：{name}。新订单、退款和联盟通知将通过本公众号发送给您。"
    name = session.get(Staff, int(target_id)).display_name
    return f"绑定成功：{name}。直播总结等消息将通过本公众号发送给您。"


# -- handling one message ----------------------------------------------------------------
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
        follower = _follower(session, message.source)
        if message.type == "event":
            reply = _event(session, follower, message)
        else:
            follower.last_message_at = utcnow()
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
        follower.following = True
        follower.last_message_at = utcnow()
        scene = getattr(event, "scene_id", None) or ""
        if scene.startswith("bind_"):  # a bind QR code shown on the console
            return _bind(session, follower, scene.removeprefix("bind_"))
        return HELP
    if name == "unsubscribe":
        follower.following = False
        return None
    if name == "templatesendjobfinish":
        status = (event.status or "").replace(" ", "").lower()
        follower.templates_blocked = status == "failed:userblock"
        notices.template_finished(session, msgid=str(event.id), status=event.status or "")
        return None
    follower.last_message_at = utcnow()
    return None


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
        return live_schedule(session)
    if text in ("解绑", "解除绑定"):
        follower.seller_id = follower.staff_id = None
        return "已解除绑定，将不再通过本公众号接收卖家通知。"
    return HELP


# -- answers -------------------------------------------------------------------------------
def _minute(iso: str) -> str:
    """ "2026-11-25T08:30:00+08:00" -> "2026-11-25 08:30" """
    return iso[:16].replace("T", " ")


def live_schedule(session: Session) -> str:
    live = rooms.list_rooms(session, kind="live", page=1, page_size=3)["items"]
    upcoming = rooms.list_rooms(session, kind="upcoming", page=1, page_size=5)["items"]
    if not live and not upcoming:
        return "近期暂无直播安排，敬请关注。"
    lines = [f"【直播中】{room['name']}（主播 {room['anchor_name']}）" for room in live]
    lines += [
        f"【{_minute(room['starts_at'])}】{room['name']}（主播 {room['anchor_name']}）"
        for room in upcoming
    ]
    return "直播安排：\n" + "\n".join(lines) + "\n在小程序“直播”页进入直播间。"


def trace_answer(session: Session, *, openid: str, code: str) -> str:
    """A trace lookup, counted as a scan like the printed QR code's."""
    try:
        found = trace.scan(session, code, ip=f"oa:{openid}", place=trace.Place())
    except NotFound as missing:
        return missing.message
    origin, product = found["origin"], found["product"]
    lines = [
        found["message"],
        f"商品：{product['name']} {product['grade']} {product['spec']}",
        f"产地：{origin['sea_area']}（{origin['cooperative']}）",
        f"采捕：{_minute(origin['harvested_at'])}",
        f"卖家：{found['seller']['name']}（授权 {found['seller']['licence']}）",
        f"保质至：{_minute(found['lot']['use_by'])}",
        f"此码已查询 {found['scans']['count']} 次",
    ]
    return "\n".join(lines)


ORDER_STATUS_NAMES = {
    "PENDING_PAYMENT": "待付款",
    "PAID": "已付款，待发货",
    "SHIPPED": "已发货",
    "COMPLETED": "已完成",
    "CANCELLED": "已取消",
    "REFUNDING": "退款中",
    "REFUNDED": "已退款",
}


def order_answer(session: Session, *, openid: str, number: str) -> str:
    """An order's status, only for its own buyer (matched by UnionID across our apps)."""
    follower = session.scalar(select(OAFollower).where(OAFollower.openid == openid))
    order = session.scalar(select(Order).where(Order.number == number))
    buyer = session.get(Customer, order.customer_id) if order else None
    if (
        order is None
        or follower is None
        or not follower.unionid
        or buyer is None
        or buyer.unionid != follower.unionid
    ):  # the same answer whether it exists or not: order numbers are not secrets to probe
        return "未找到您的这笔订单。请确认订单号，并使用下单的微信查询。"
    lines = [f"订单 {order.number}：{ORDER_STATUS_NAMES.get(order.status, order.status)}"]
    placed = _minute(to_shanghai_iso(order.created_at))
    lines.append(f"金额：{order.total / 100:.2f} 元，下单于 {placed}")
    if order.tracking_no:
        lines.append(f"物流：{order.carrier} {order.tracking_no}")
    return "\n".join(lines)


def send_text(*, openid: str, content: str) -> bool:
    """A customer-service message; False when WeChat refuses (e.g. 45015: no message from the
    user within 48 hours) — the user then has the passive reply only."""
    try:
        oa_client().send_custom_text(openid=openid, content=content)
    except WeChatError as refused:
        if refused.errcode in (None, -1, 45009):
            raise  # transient: the job retries
        return False
    return True


def refresh_follower(session: Session, openid: str) -> None:
    """Fill in the follower's UnionID (links them to their mini-program account)."""
    info = oa_client().user_info(openid)
    follower = session.scalar(select(OAFollower).where(OAFollower.openid == openid))
    if follower is None:
        return
    follower.unionid = info.get("unionid") or follower.unionid
    follower.following = bool(info.get("subscribe", 0))
    session.commit()


def staff_openid(session: Session, staff_id: int | None) -> str | None:
    """Where a staff member (a host) reads messages: the OA account they bound and follow."""
    if staff_id is None:
        return None
    follower = session.scalar(select(OAFollower).where(OAFollower.staff_id == staff_id))
    return follower.openid if follower is not None and follower.reachable else None


def send_notice(*, openid: str, title: str, body: str, url: str, dedupe: str) -> None:
    """A 活动通知 template message (fields of 20 characters at most, as WeChat shows them);
    `dedupe` becomes client_msg_id, so a retried job does not notify twice."""
    template = current_app.config["WECHAT_OA_NOTICE_TEMPLATE"]
    if not template:
        return
    when = to_shanghai_iso(utcnow())[:16].replace("T", " ")
    data = template_data(title[:FIELD_LIMIT], body[:FIELD_LIMIT], when)
    oa_client().send_template(
        openid=openid, template_id=template, data=data, url=url, client_msg_id=dedupe[:32]
    )
