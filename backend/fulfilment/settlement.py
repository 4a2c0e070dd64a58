"""What WeChat's shipping management tells us about a mini-program payment: when shipping is
complete and when the funds are settled (trade_manage_order_settlement, sent twice), and when
a paid order waits too long to ship (trade_manage_remind_shipping)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.orders import events
from backend.orders.models import Order, OrderEvent
from backend.staff import service as staff


def take_push(session: Session, message: dict) -> str:
    """Record a push once (WeChat may send it again); answers what was done."""
    event = message.get("Event")
    number = str(message.get("merchant_trade_no", ""))
    order_id = session.scalar(select(Order.id).where(Order.number == number))
    if order_id is None:
        return "unknown order"
    if event == "trade_manage_order_settlement":
        kind = "WECHAT_SETTLED" if message.get("settlement_time") else "WECHAT_SHIPPING_DONE"
        return _once(session, order_id, kind, message)
    if event == "trade_manage_remind_shipping":
        if _once(session, order_id, "WECHAT_REMIND_SHIPPING", message) == "recorded":
            staff.raise_alert(
                session,
                kind="WECHAT_REMIND_SHIPPING",
                title=f"微信提醒：订单 {number} 支付后长时间未发货",
                order_id=order_id,
            )
            session.commit()
        return "alerted"
    return "ignored"


def _once(session: Session, order_id: int, kind: str, message: dict) -> str:
    seen = session.scalar(
        select(OrderEvent.id).where(OrderEvent.order_id == order_id, OrderEvent.kind == kind)
    )
    if seen is not None:
        return "already"
    keep = ("transaction_id", "shipped_time", "settlement_time", "confirm_receive_time", "msg")
    events.record(session, order_id, kind, **{k: message[k] for k in keep if k in message})
    session.commit()
    return "recorded"
