from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.timeutil import utcnow

PENDING_PAYMENT = "PENDING_PAYMENT"
PAID = "PAID"
SHIPPED = "SHIPPED"
DELIVERED = "DELIVERED"
COMPLETED = "COMPLETED"
CANCELLED = "CANCELLED"
REFUNDING = "REFUNDING"
REFUNDED = "REFUNDED"

GOODS, ADOPTION, HARVEST = "goods", "adoption", "harvest"


class Order(db.Model):
    __tablename__ = "orders"
    # sales by day and channel (reports, the console's home) are read from this index alone
    __table_args__ = (
        Index("ix_orders_sales", "paid_at", "status", "live_room_id", "total", "refunded_total"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=PENDING_PAYMENT, index=True)
    # goods: the store's; adoption: paying for an adopted unit (nothing ships then);
    # harvest: an adopted unit's harvest, sent free on the date its adopter chose.
    kind: Mapped[str] = mapped_column(String(10), default=GOODS, server_default=GOODS)
    goods_total: Mapped[int] = mapped_column(Integer)  # fen
    shipping_fee: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer)
    refunded_total: Mapped[int] = mapped_column(Integer, default=0)
    address: Mapped[dict] = mapped_column(JSON)
    remark: Mapped[str] = mapped_column(String(200), default="")
    # Set for an order a flash-sale claim created; its unpaid units go back to the sale.
    flash_sale_id: Mapped[int | None] = mapped_column(ForeignKey("flash_sales.id"), index=True)
    # Set once, when the order is created in a live room: the room, and the sharer who brought
    # the viewer there (from the viewer's entry; None is natural traffic). Attribution only.
    live_room_id: Mapped[int | None] = mapped_column(ForeignKey("live_rooms.id"), index=True)
    sharer: Mapped[str | None] = mapped_column(String(64))
    pay_deadline: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    carrier: Mapped[str | None] = mapped_column(String(30))
    tracking_no: Mapped[str | None] = mapped_column(String(40))
    delivered_at: Mapped[datetime | None]  # the courier's delivered scan
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(60))
    # The status a full refund request interrupted, restored if staff reject it.
    status_before_refund: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    items: Mapped[list[OrderItem]] = relationship(back_populates="order", order_by="OrderItem.id")


class OrderItem(db.Model):
    """An order line with the product as it was sold (name, grade, spec, price snapshot)."""

    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    product_name: Mapped[str] = mapped_column(String(60))
    grade: Mapped[str] = mapped_column(String(20))
    spec: Mapped[str] = mapped_column(String(60))
    unit_price: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    subtotal: Mapped[int] = mapped_column(Integer)
    pieces_per_pack: Mapped[int | None] = mapped_column(Integer)

    order: Mapped[Order] = relationship(back_populates="items")


class OrderRequest(db.Model):
    """An Idempotency-Key a consumer used to place an order, with the body it came with."""

    __tablename__ = "order_requests"
    __table_args__ = (UniqueConstraint("customer_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderEvent(db.Model):
    """What happened to an order, in order; seller pushes and reports read from here."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
