"""Buying comments ("扣1", "3号要2份") turned into holds: a claim on the room's running flash
sale for that product (its per-person limit applies), else a store order at the list price.
Either way the stock is held for the pay window and the viewer gets an order to pay. The
comment id is the idempotency key, so a comment handled twice holds once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.clients.wechat import WeChatError, wechat_client
from backend.customers.models import Customer
from backend.errors import NotFound, RuleBroken
from backend.live import entries, flash_claims
from backend.live.models import LIVE, PAUSED, RUNNING, FlashSale, LiveClaim, LiveShelfItem
from backend.live.rooms import get_room
from backend.orders import service as orders
from backend.orders.models import PENDING_PAYMENT, Order
from backend.queue import enqueue
from backend.timeutil import to_shanghai_iso, utcnow
from backend.transactions import on_commit

PAY_PROMPT_TEMPLATE = "TPL_ORDER_TO_PAY"


@dataclass
class Held:
    order: Order
    number: int
    flash_sale_id: int | None
    created: bool


def claim_from_comment(
    session: Session,
    *,
    room_id: int,
    comment_id: str,
    customer_id: int,
    number: int,
    quantity: int,
) -> Held:
    """Hold `quantity` of shelf item `number` for the viewer, or a clear refusal (SoldOut,
    RuleBroken for limits, a sale not started or a room not live, NotFound for a number)."""
    done = session.scalar(
        select(LiveClaim).where(LiveClaim.room_id == room_id, LiveClaim.comment_id == comment_id)
    )
    if done is not None:
        order = orders.get_order(session, customer_id=customer_id, order_id=done.order_id)
        return Held(order, number, done.flash_sale_id, created=False)
    room = get_room(session, room_id)
    if room.live_status not in (LIVE, PAUSED):
        raise RuleBroken("本场直播已结束，不能再下单", code="ROOM_NOT_LIVE")
    item = session.scalar(
        select(LiveShelfItem).where(
            LiveShelfItem.room_id == room_id, LiveShelfItem.number == number
        )
    )
    if item is None:
        raise NotFound(f"没有 {number}号商品", code="SHELF_ITEM_NOT_FOUND")
    unpaid = session.scalar(
        select(LiveClaim)
        .join(Order, Order.id == LiveClaim.order_id)
        .where(
            LiveClaim.room_id == room_id,
            LiveClaim.customer_id == customer_id,
            LiveClaim.sku_id == item.sku_id,
            Order.status == PENDING_PAYMENT,
        )
    )
    if unpaid is not None:  # "扣1" again while the first hold waits for payment
        order = orders.get_order(session, customer_id=customer_id, order_id=unpaid.order_id)
        return Held(order, number, unpaid.flash_sale_id, created=False)
    sale = session.scalar(
        select(FlashSale)
        .where(
            FlashSale.room_id == room_id,
            FlashSale.sku_id == item.sku_id,
            FlashSale.status == RUNNING,
            FlashSale.ends_at > utcnow(),
        )
        .order_by(FlashSale.id.desc())
    )
    key = f"live-comment:{room_id}:{comment_id}"
    if sale is not None:
        order, created = flash_claims.claim_order_now(
            session,
            sale_id=sale.id,
            customer_id=customer_id,
            quantity=quantity,
            idempotency_key=key,
        )
    else:
        placed = orders.place_order(
            session,
            customer_id=customer_id,
            idempotency_key=key,
            items=[(item.sku_id, quantity)],
            address={},
            remark="直播间评论下单",
            live_room_id=room_id,
            sharer=entries.sharer_of(session, room_id=room_id, customer_id=customer_id),
        )
        order, created = placed.order, placed.created
    session.add(
        LiveClaim(
            room_id=room_id,
            comment_id=comment_id,
            customer_id=customer_id,
            sku_id=item.sku_id,
            quantity=quantity,
            order_id=order.id,
            flash_sale_id=sale.id if sale else None,
        )
    )
    on_commit(session, lambda: enqueue("jobs.live.send_pay_prompt", room_id, comment_id))
    try:
        session.commit()
    except IntegrityError:  # the same comment, handled concurrently: its order is the same
        session.rollback()
    return Held(order, number, sale.id if sale else None, created=created)


def send_pay_prompt(session: Session, *, room_id: int, comment_id: str) -> str:
    """Remind the viewer to pay by subscribe message, once per claim (if they granted one;
    43101 means they did not, and the prompt in the room is all they get)."""
    claimed = session.execute(
        update(LiveClaim)
        .where(
            LiveClaim.room_id == room_id,
            LiveClaim.comment_id == comment_id,
            LiveClaim.prompt_outcome.is_(None),
        )
        .values(prompt_outcome="sending")
    ).rowcount
    session.commit()
    if not claimed:
        return "already"
    claim = session.scalar(
        select(LiveClaim).where(LiveClaim.room_id == room_id, LiveClaim.comment_id == comment_id)
    )
    order = orders.get_order(session, customer_id=None, order_id=claim.order_id)
    openid = session.scalar(select(Customer.openid).where(Customer.id == order.customer_id))
    item = order.items[0]
    try:
        wechat_client().send_subscribe_message(
            openid,
            PAY_PROMPT_TEMPLATE,
            {
                "character_string1": {"value": order.number},
                "amount2": {"value": f"¥{order.total / 100:.2f}"},
                "thing3": {"value": f"{item.product_name}{item.grade} x{item.quantity}"[:20]},
                "time4": {"value": to_shanghai_iso(order.pay_deadline)[:16].replace("T", " ")},
            },
            page=f"pages/order/detail?id={order.id}",
        )
        outcome = "sent"
    except WeChatError as refused:
        if refused.errcode in (None, -1):
            session.execute(
                update(LiveClaim).where(LiveClaim.id == claim.id).values(prompt_outcome=None)
            )
            session.commit()
            raise  # transient: the job retries
        outcome = f"refused:{refused.errcode}"
    claim.prompt_outcome = outcome
    session.commit()
    return outcome
