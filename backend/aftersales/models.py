from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.timeutil import utcnow

REFUND_ONLY = "REFUND_ONLY"  # before shipping: full refund, stock goes back
RETURN_REFUND = "RETURN_REFUND"  # after shipping: goods come back, full refund
DEAD_ON_ARRIVAL = "DEAD_ON_ARRIVAL"  # live shellfish arrived dead: partial refund by count

PENDING = "PENDING"
REJECTED = "REJECTED"
REFUNDING = "REFUNDING"
REFUNDED = "REFUNDED"
OPEN_STATUSES = (PENDING, REFUNDING)


class AfterSale(db.Model):
    __tablename__ = "after_sales"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    type: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(200))
    photos: Mapped[list] = mapped_column(JSON, default=list)
    dead_count: Mapped[int | None] = mapped_column(Integer)
    order_item_id: Mapped[int | None] = mapped_column(ForeignKey("order_items.id"))
    refund_amount: Mapped[int] = mapped_column(Integer)  # fen, computed by the server
    status: Mapped[str] = mapped_column(String(12), default=PENDING, index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    staff_note: Mapped[str] = mapped_column(String(200), default="")
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
