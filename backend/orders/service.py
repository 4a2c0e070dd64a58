"""Orders of the mini-program store: place (idempotently, reserving stock), cancel, expire,
ship, receive, auto-confirm."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.catalogue import service as catalogue
from backend.errors import BadRequest, Conflict, NotFound, RuleBroken
from backend.inventory import service as inventory
from backend.orders import events, lifecycle, limits
from backend.orders.models import (
    DELIVERED,
    PENDING_PAYMENT,
    SHIPPED,
    Order,
    OrderEvent,
    OrderItem,
    OrderRequest,
)
from backend.pagination import page_of
from backend.queue import enqueue_at
from backend.shipping import service as shipping
from backend.timeutil import SHANGHAI, to_aware_utc, utcnow
from backend.transactions import on_commit, retry_conflicts


@dataclass
class Placed:
    order: Order
    created: bool


def _request_hash(lines: dict[int, int], address: dict, remark: str) -> str:
    canonical = json.dumps(
        {"items": sorted(lines.items()), "address": address, "remark": remark},
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_number() -> str:
    now = to_aware_utc(utcnow()).astimezone(SHANGHAI)
    # 10 random digits: a busy flash sale makes hundreds of orders a second (26 characters,
    # within WeChat Pay's 32 for out_trade_no).
    return f"HL{now:%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


def _replay(session: Session, customer_id: int, key: str, request_hash: str) -> Placed | None:
    previous = session.scalar(
        select(OrderRequest).where(
            OrderRequest.customer_id == customer_id, OrderRequest.idempotency_key == key
        )
    )
    if previous is None:
        return None
    if previous.request_hash != request_hash:
        raise Conflict(
            "该 Idempotency-Key 已用于另一笔不同的下单请求", code="IDEMPOTENCY_KEY_REUSED"
        )
    return Placed(
        order=get_order(session, customer_id=customer_id, order_id=previous.order_id), created=False
    )


def _merge_lines(items: list[tuple[int, int]]) -> dict[int, int]:
    config = current_app.config
    if not items:
        raise BadRequest("订单中没有商品", code="EMPTY_ORDER")
    lines: dict[int, int] = {}
    for sku_id, quantity in items:
        lines[sku_id] = lines.get(sku_id, 0) + quantity
    if len(lines) > config["MAX_ORDER_LINES"]:
        raise RuleBroken(f"一次最多购买 {config['MAX_ORDER_LINES']} 种商品", code="TOO_MANY_LINES")
    too_many = [s for s, q in lines.items() if q < 1 or q > config["MAX_ITEM_QUANTITY"]]
    if too_many:  # the same SKU on several lines adds up (the limits are settings: a 422)
        raise RuleBroken(
            f"每种商品数量需在 1 到 {config['MAX_ITEM_QUANTITY']} 之间",
            code="INVALID_QUANTITY",
            details={"sku_ids": too_many},
        )
    return lines


def place_order(
    session: Session,
    *,
    customer_id: int,
    idempotency_key: str,
    items: list[tuple[int, int]],
    address: dict,
    remark: str = "",
    ip: str | None = None,
    live_room_id: int | None = None,
    sharer: str | None = None,
) -> Placed:
    """Price the lines on the server, reserve their stock for the pay window and create the order.

    The same Idempotency-Key with the same body answers the first order; with another body, 409.
    Within the buyer's limits (orders/limits.py): 429 past the rates of the account and of `ip`
    (the address the request came from, None for the co-host bot), 409 past what one buyer may
    hold unpaid. An order placed in a live room keeps the room and the sharer who brought the
    buyer, as they were when it was created (a replay keeps the first order's).
    """
    limits.count_order(customer_id=customer_id, ip=ip)  # once, however often the rest is tried
    return _place_order(
        session,
        customer_id=customer_id,
        idempotency_key=idempotency_key,
        items=items,
        address=address,
        remark=remark,
        live_room_id=live_room_id,
        sharer=sharer,
    )


@retry_conflicts
def _place_order(
    session: Session,
    *,
    customer_id: int,
    idempotency_key: str,
    items: list[tuple[int, int]],
    address: dict,
    remark: str,
    live_room_id: int | None = None,
    sharer: str | None = None,
) -> Placed:
    lines = _merge_lines(items)
    request_hash = _request_hash(lines, address, remark)
    replay = _replay(session, customer_id, idempotency_key, request_hash)
    if replay:
        return replay

    skus = catalogue.skus_for_sale(session, list(lines))
    missing = sorted(set(lines) - set(skus))
    if missing:
        raise NotFound("商品不存在", code="SKU_NOT_FOUND", details={"sku_ids": missing})
    off_sale = sorted(s for s, sku in skus.items() if not (sku.on_sale and sku.product.on_sale))
    if off_sale:
        raise RuleBroken("商品已下架", code="SKU_OFF_SALE", details={"sku_ids": off_sale})
    shipping_fee = _shipping_fee(session, address=address, skus=skus, lines=lines)
    limits.check_holdings(session, customer_id=customer_id, lines=lines)

    order = _new_order(
        session,
        customer_id=customer_id,
        skus=skus,
        lines=lines,
        address=address,
        remark=remark,
        pay_minutes=current_app.config["PAY_WINDOW_MINUTES"],
        shipping_fee=shipping_fee,
    )
    order.live_room_id, order.sharer = live_room_id, sharer
    try:
        session.flush()
        session.add(
            OrderRequest(
                customer_id=customer_id,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                order_id=order.id,
            )
        )
        session.flush()
    except IntegrityError:
        # The same key is being used by a concurrent request that committed first.
        session.rollback()
        replay = _replay(session, customer_id, idempotency_key, request_hash)
        if replay:
            return replay
        raise
    try:
        inventory.reserve(session, order_id=order.id, lines=lines)
    except Exception:
        session.rollback()
        raise
    _created(session, order)
    session.commit()
    return Placed(order=order, created=True)


def _shipping_fee(session: Session, *, address: dict, skus: dict, lines: dict[int, int]) -> int:
    """The shipping of the lines to the address (fen); 0 while there is no address yet (a
    co-host bot hold or a flash-sale claim: set_address charges it before paying). 422
    REGION_NOT_SHIPPED for a live product to a province it does not go to."""
    if not address:
        return 0
    parcel = [(skus[sku_id], quantity) for sku_id, quantity in sorted(lines.items())]
    return shipping.charge(session, province_text=address["province"], lines=parcel).fee


def _new_order(
    session: Session,
    *,
    customer_id: int,
    skus: dict,
    lines: dict[int, int],
    address: dict,
    remark: str,
    pay_minutes: int,
    prices: dict[int, int] | None = None,
    flash_sale_id: int | None = None,
    shipping_fee: int = 0,
) -> Order:
    """An unpaid order for priced lines (catalogue prices unless `prices` says otherwise) and
    its shipping fee."""
    prices = prices or {sku_id: skus[sku_id].price for sku_id in lines}
    items = [
        OrderItem(
            sku_id=sku_id,
            product_name=skus[sku_id].product.name,
            grade=skus[sku_id].grade.name,
            spec=skus[sku_id].spec,
            unit_price=prices[sku_id],
            quantity=quantity,
            subtotal=prices[sku_id] * quantity,
            pieces_per_pack=skus[sku_id].pieces_per_pack,
        )
        for sku_id, quantity in sorted(lines.items())
    ]
    goods_total = sum(item.subtotal for item in items)
    order = Order(
        number=new_number(),
        customer_id=customer_id,
        goods_total=goods_total,
        shipping_fee=shipping_fee,
        total=goods_total + shipping_fee,
        address=address,
        remark=remark,
        items=items,
        flash_sale_id=flash_sale_id,
        pay_deadline=utcnow() + timedelta(minutes=pay_minutes),
    )
    session.add(order)
    return order


def _created(session: Session, order: Order) -> None:
    """Record the new order and schedule its expiry at the pay deadline, after commit."""
    events.record(session, order.id, "CREATED", total=order.total)
    order_id, deadline = order.id, order.pay_deadline
    on_commit(
        session,
        lambda: enqueue_at(
            to_aware_utc(deadline),
            "jobs.orders.expire_unpaid_order",
            order_id,
            job_id=f"expire-order-{order_id}",
        ),
    )


def create_flash_order(
    session: Session,
    *,
    customer_id: int,
    sku_id: int,
    quantity: int,
    price: int,
    pay_minutes: int,
    flash_sale_id: int,
    address: dict | None,
    live_room_id: int | None = None,
    sharer: str | None = None,
) -> Order:
    """The order a flash-sale claim becomes, at the sale price (the caller moves its stock from
    the sale and commits), with its shipping when the claim came with an address; 409 if the
    buyer already holds as much unpaid as they may, 422 for an address live products do not
    go to. `live_room_id` and `sharer`: the sale's room and who brought the buyer there."""
    limits.check_holdings(session, customer_id=customer_id, lines={sku_id: quantity})
    skus = catalogue.skus_for_sale(session, [sku_id])
    shipping_fee = _shipping_fee(
        session, address=address or {}, skus=skus, lines={sku_id: quantity}
    )
    order = _new_order(
        session,
        customer_id=customer_id,
        skus=skus,
        lines={sku_id: quantity},
        address=address or {},
        remark="直播秒杀",
        pay_minutes=pay_minutes,
        prices={sku_id: price},
        flash_sale_id=flash_sale_id,
        shipping_fee=shipping_fee,
    )
    order.live_room_id, order.sharer = live_room_id, sharer
    session.flush()
    _created(session, order)
    return order


def get_order(session: Session, *, customer_id: int | None, order_id: int) -> Order:
    """The order if it exists and belongs to customer_id (None: staff, any order)."""
    order = session.scalar(
        select(Order).where(Order.id == order_id).options(selectinload(Order.items))
    )
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        raise NotFound("订单不存在", code="ORDER_NOT_FOUND")
    return order


def list_orders(
    session: Session, *, customer_id: int, page: int, page_size: int, status: str | None = None
) -> tuple[list[Order], int]:
    """The customer's orders, newest first."""
    where = [Order.customer_id == customer_id]
    if status:
        where.append(Order.status == status)
    total = session.scalar(select(func.count()).select_from(Order).where(*where))
    orders = session.scalars(
        page_of(
            select(Order)
            .where(*where)
            .options(selectinload(Order.items))
            .order_by(Order.id.desc()),
            page,
            page_size,
        )
    )
    return list(orders), total


def cancel_unpaid(session: Session, *, order_id: int, reason: str) -> bool:
    """Cancel an order still waiting for payment; answers whether it was. The caller gives its
    units back (to a running flash sale, else `release_holds`) and commits."""
    return lifecycle.try_move(
        session, order_id, "CANCELLED", note={"reason": reason}, cancel_reason=reason
    )


def lock_orders(session: Session, *, order_ids: list[int]) -> None:
    """Hold these orders' rows until commit, in id order: a transaction that changes orders and
    their stock takes the orders first, then the stock, as a buyer's cancel or payment does."""
    if order_ids:
        session.execute(
            select(Order.id).where(Order.id.in_(order_ids)).order_by(Order.id).with_for_update()
        )


def release_holds(session: Session, *, order_id: int, reason: str) -> None:
    """A cancelled order's held units go back to their lots."""
    inventory.release(session, order_id=order_id, reason=reason)


def overdue_unpaid_order_ids(session: Session, *, limit: int = 500) -> list[int]:
    """Orders past their pay deadline still waiting (their scheduled expiry may have been lost)."""
    return list(
        session.scalars(
            select(Order.id)
            .where(Order.status == PENDING_PAYMENT, Order.pay_deadline <= utcnow())
            .order_by(Order.id)
            .limit(limit)
        )
    )


def ship_order(session: Session, *, order_id: int, carrier: str, tracking_no: str) -> Order:
    """A paid order leaves the plant with its tracking number."""
    order = get_order(session, customer_id=None, order_id=order_id)
    used = session.scalar(
        select(Order.id).where(Order.tracking_no == tracking_no, Order.id != order_id)
    )
    if used is not None:
        raise Conflict(
            "该运单号已用于其他订单", code="TRACKING_NO_USED", details={"order_id": used}
        )
    if not mark_shipped(session, order_id=order_id, carrier=carrier, tracking_no=tracking_no):
        lifecycle.ensure_allowed("SHIPPED", order.status)
    session.commit()
    session.refresh(order)
    return order


def mark_shipped(session: Session, *, order_id: int, carrier: str, tracking_no: str) -> bool:
    """Ship a paid order in the caller's transaction (its units leave their lots); False when
    the order is no longer paid (refunding, refunded, cancelled, shipped)."""
    shipped = lifecycle.try_move(
        session,
        order_id,
        "SHIPPED",
        note={"carrier": carrier, "tracking_no": tracking_no},
        carrier=carrier,
        tracking_no=tracking_no,
    )
    if shipped:
        inventory.ship(session, order_id=order_id)
    return shipped


def mark_delivered(session: Session, *, order_id: int, at) -> bool:
    """The courier delivered a shipped order at `at` (in the caller's transaction)."""
    return lifecycle.try_move(session, order_id, "DELIVERED", delivered_at=at)


def confirm_delivered(session: Session, *, order_id: int) -> bool:
    """The exact auto-confirm AUTO_CONFIRM_DAYS after delivery (scheduled at delivery)."""
    delivered_at = session.scalar(select(Order.delivered_at).where(Order.id == order_id))
    due = delivered_at and delivered_at + timedelta(days=current_app.config["AUTO_CONFIRM_DAYS"])
    if due is None or due > utcnow():
        return False
    moved = lifecycle.try_move(session, order_id, "COMPLETED", note={"by": "auto"})
    session.commit()
    return moved


def history(session: Session, order_id: int) -> list[OrderEvent]:
    return list(
        session.scalars(
            select(OrderEvent)
            .where(OrderEvent.order_id == order_id)
            .order_by(OrderEvent.created_at, OrderEvent.id)
        )
    )


@retry_conflicts
def receive_order(session: Session, *, customer_id: int, order_id: int) -> Order:
    """The consumer confirms receipt of a shipped order."""
    order = get_order(session, customer_id=customer_id, order_id=order_id)
    lifecycle.move(session, order_id, "COMPLETED", note={"by": "customer"})
    session.commit()
    session.refresh(order)
    return order


def auto_confirm_receipts(session: Session) -> int:
    """Complete orders delivered more than AUTO_CONFIRM_DAYS ago, and those shipped that long
    ago that no delivered scan ever reached (the exact timer set at delivery is
    confirm_delivered; this sweep catches what it missed). Answers how many."""
    cutoff = utcnow() - timedelta(days=current_app.config["AUTO_CONFIRM_DAYS"])
    due = session.scalars(
        select(Order.id).where(
            ((Order.status == DELIVERED) & (Order.delivered_at <= cutoff))
            | ((Order.status == SHIPPED) & (Order.shipped_at <= cutoff))
        )
    )
    count = sum(
        lifecycle.try_move(session, order_id, "COMPLETED", note={"by": "auto"})
        for order_id in list(due)
    )
    session.commit()
    return count


def restock_returned_goods(session: Session, *, order_id: int, staff_id: int) -> int:
    """Staff received a shipped order's goods back in sellable condition: they rejoin their lots
    (while those are still sellable). Answers how many units came back."""
    order = get_order(session, customer_id=None, order_id=order_id)
    if order.shipped_at is None:
        raise Conflict("订单尚未发货，无需退货入库", code="ORDER_NOT_SHIPPED")
    units = inventory.return_to_stock(session, order_id=order_id, staff_id=staff_id)
    if units:
        events.record(session, order_id, "GOODS_RETURNED", units=units, staff_id=staff_id)
    session.commit()
    return units


@retry_conflicts
def set_address(session: Session, *, customer_id: int, order_id: int, address: dict) -> Order:
    """The buyer gives (or changes) the delivery address of an order not yet paid, and its
    shipping fee and total follow: 422 REGION_NOT_SHIPPED for a live product to a province it
    does not go to, 409 for a fee that would change once paying has begun (WeChat Pay holds
    the total it was asked for)."""
    order = get_order(session, customer_id=customer_id, order_id=order_id)
    if order.status != PENDING_PAYMENT:
        raise Conflict("订单已支付，无法修改地址", code="ORDER_NOT_PENDING")
    lines = {item.sku_id: item.quantity for item in order.items}
    skus = catalogue.skus_for_sale(session, list(lines))
    fee = _shipping_fee(session, address=address, skus=skus, lines=lines)
    if fee != order.shipping_fee and _payment_begun(session, order.id):
        raise Conflict(
            "已发起支付，新地址的运费不同，无法修改；请取消订单后重新下单",
            code="SHIPPING_FEE_LOCKED",
            details={"shipping_fee": order.shipping_fee, "new_shipping_fee": fee},
        )
    order.address = address
    order.shipping_fee = fee
    order.total = order.goods_total + fee
    events.record(session, order.id, "ADDRESS_SET", shipping_fee=fee, total=order.total)
    session.commit()
    return order


def _payment_begun(session: Session, order_id: int) -> bool:
    """Whether WeChat Pay was asked for this order's total (payments records PAY_STARTED)."""
    return (
        session.scalar(
            select(OrderEvent.id).where(
                OrderEvent.order_id == order_id, OrderEvent.kind == "PAY_STARTED"
            )
        )
        is not None
    )
