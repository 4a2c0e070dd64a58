"""What the Official Account answers when someone looks up the live schedule, a trace code or
an order: the schedule at once (the bot's passive reply), the others by customer-service message
from a job (WeChat waits 5 seconds at most)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.customers.models import Customer
from backend.errors import NotFound
from backend.live import rooms
from backend.officialaccount.models import OAFollower
from backend.orders.models import Order
from backend.timeutil import to_shanghai_iso
from backend.trace import service as trace


def _minute(iso: str) -> str:
    """ "2026-11-25T08:30:00+08:00" -> "2026-11-25 08:30" """
    return iso[:16].replace("T", " ")


def live_schedule(session: Session) -> str:
    """The rooms live now and the next ones to start."""
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
    "DELIVERED": "已签收",
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
