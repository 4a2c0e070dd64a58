"""Business-flow limits (OWASP API6) on everything that holds stock for a buyer: how many
unpaid orders and units one customer may hold at once (per SKU and in total), and how often an
account or an address may place orders or claim flash-sale units. Every door goes through here:
the store (place_order), the co-host bot's holds (place_order, flash_claims.claim) and
flash-sale claims (create_flash_order, and the rates and units per address counted in the claim
script). The rates themselves are counted by backend.ratelimit; every figure is a setting in
backend.config."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import ratelimit
from backend.customers.models import Customer
from backend.errors import Conflict
from backend.orders.models import PENDING_PAYMENT, Order, OrderItem
from backend.transactions import lock_row


def count_order(*, customer_id: int, ip: str | None) -> None:
    """One more order attempt by this account (and from this address when known), or 429."""
    ratelimit.count(("order-customer", customer_id), ("order-ip", ip))


def claim_rates(*, customer_id: int, ip: str | None) -> ratelimit.Windows:
    """The counters one more flash-sale claim attempt by this account (and address when known)
    counts: the claim script counts them in its own round trip, and refuses (429) past them."""
    return ratelimit.windows(("claim-customer", customer_id), ("claim-ip", ip))


def claims_per_ip_per_sale() -> int:
    """Units of one flash sale that may be claimed from one address (the claim script counts)."""
    return current_app.config["CLAIMS_PER_IP_PER_SALE"]


def check_holdings(session: Session, *, customer_id: int, lines: dict[int, int]) -> None:
    """Refuse (409) a new unpaid order of `lines` ({sku_id: units}) that would take the customer
    past MAX_UNPAID_ORDERS_PER_CUSTOMER, MAX_HELD_UNITS_PER_CUSTOMER or
    MAX_HELD_UNITS_PER_SKU_PER_CUSTOMER. Locks the customer until the caller's commit, so two
    orders placed at once are counted one after the other."""
    config = current_app.config
    lock_row(session, Customer, customer_id)
    unpaid = session.scalar(
        select(func.count())
        .select_from(Order)
        .where(Order.customer_id == customer_id, Order.status == PENDING_PAYMENT)
    )
    most = config["MAX_UNPAID_ORDERS_PER_CUSTOMER"]
    if unpaid >= most:
        raise Conflict(
            f"您已有 {unpaid} 笔待支付订单，请先支付或取消后再下单",
            code="UNPAID_ORDERS_LIMIT",
            details={"unpaid_orders": unpaid, "limit": most},
        )
    held = dict(
        session.execute(
            select(OrderItem.sku_id, func.sum(OrderItem.quantity))
            .join(Order, Order.id == OrderItem.order_id)
            .where(Order.customer_id == customer_id, Order.status == PENDING_PAYMENT)
            .group_by(OrderItem.sku_id)
        ).all()
    )
    per_sku = config["MAX_HELD_UNITS_PER_SKU_PER_CUSTOMER"]
    over = sorted(s for s, units in lines.items() if int(held.get(s, 0)) + units > per_sku)
    if over:
        raise Conflict(
            f"同一商品待支付的数量最多 {per_sku} 份，请先支付已有订单或减少数量",
            code="SKU_HELD_UNITS_LIMIT",
            details={
                "sku_ids": over,
                "limit": per_sku,
                "left_for_you": {s: max(0, per_sku - int(held.get(s, 0))) for s in over},
            },
        )
    total, most_units = sum(int(n) for n in held.values()), config["MAX_HELD_UNITS_PER_CUSTOMER"]
    if total + sum(lines.values()) > most_units:
        raise Conflict(
            f"待支付的商品最多 {most_units} 份，请先支付已有订单或减少数量",
            code="HELD_UNITS_LIMIT",
            details={
                "held": total,
                "limit": most_units,
                "left_for_you": max(0, most_units - total),
            },
        )
