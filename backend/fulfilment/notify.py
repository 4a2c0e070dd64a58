"""What the buyer is told about their parcel by subscribe message: shipped, delivered, a
delivery problem, refunded; each once per order (a retried job, two nodes or a duplicated push
send nothing twice). A buyer who granted no credit gets 43101, which is kept as the outcome."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.clients.wechat import WeChatError, wechat_client
from backend.customers.models import Customer
from backend.fulfilment.models import BuyerMessage, Parcel
from backend.orders.models import Order
from backend.timeutil import to_shanghai_iso, utcnow

TEMPLATES = {
    "SHIPPED": "TPL_ORDER_SHIPPED",
    "DELIVERED": "TPL_ORDER_DELIVERED",
    "TROUBLE": "TPL_DELIVERY_TROUBLE",
    "REFUNDED": "TPL_REFUND",
}
TROUBLE_WORDS = {
    "EXCEPTION": "快递派送异常，我们正在处理",
    "RETURNED": "包裹被退回，我们会联系您",
    "REFUSED": "包裹被拒收，我们会联系您",
}


def tell_buyer(session: Session, *, order_id: int, kind: str) -> str:
    """Send the order's `kind` message unless it was sent; answers its outcome ("already" when
    another run sent it). A transient WeChat failure propagates for the job's retry."""
    template = TEMPLATES[kind]
    session.add(BuyerMessage(order_id=order_id, kind=kind, outcome="sending"))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return "already"
    order = session.get(Order, order_id)
    parcel = session.scalar(select(Parcel).where(Parcel.order_id == order_id))
    openid = session.scalar(select(Customer.openid).where(Customer.id == order.customer_id))
    try:
        wechat_client().send_subscribe_message(
            openid,
            template,
            _data(kind, order, parcel),
            page=f"pages/order/detail?id={order.id}",
        )
        outcome = "sent"
    except WeChatError as refused:
        if refused.errcode in (None, -1):
            session.execute(
                delete(BuyerMessage).where(
                    BuyerMessage.order_id == order_id, BuyerMessage.kind == kind
                )
            )
            session.commit()
            raise
        outcome = f"refused:{refused.errcode}"
    message = session.scalar(
        select(BuyerMessage).where(BuyerMessage.order_id == order_id, BuyerMessage.kind == kind)
    )
    message.outcome = outcome
    session.commit()
    return outcome


def _data(kind: str, order: Order, parcel: Parcel | None) -> dict:
    now = to_shanghai_iso(utcnow())[:16].replace("T", " ")
    if parcel is not None:
        goods = parcel.summary
    else:  # an adoption's order has no goods lines: its remark names the unit
        goods = order.items[0].product_name if order.items else (order.remark or order.number)
    goods = goods[:20]
    tracking = (parcel.tracking_no if parcel else order.tracking_no) or "-"
    if kind == "SHIPPED":
        return {
            "character_string1": {"value": order.number},
            "thing2": {"value": goods},
            "character_string3": {"value": tracking},
            "time4": {"value": now},
        }
    if kind == "DELIVERED":
        return {
            "character_string1": {"value": order.number},
            "thing2": {"value": "已签收，如有死货请在签收后尽快申请理赔"[:20]},
            "time3": {"value": now},
        }
    if kind == "TROUBLE":
        state = (parcel.courier_state if parcel else "") or "EXCEPTION"
        return {
            "character_string1": {"value": order.number},
            "thing2": {"value": goods},
            "thing3": {"value": TROUBLE_WORDS.get(state, TROUBLE_WORDS["EXCEPTION"])[:20]},
        }
    return {
        "character_string1": {"value": order.number},
        "amount2": {"value": f"¥{order.refunded_total / 100:.2f}"},
        "phrase3": {"value": "已退款"},
        "time4": {"value": now},
        "thing5": {"value": goods},
    }
