from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.timeutil import utcnow

SCHEDULED, RUNNING, ENDED = "SCHEDULED", "RUNNING", "ENDED"


class FlashSale(db.Model):
    """N units of a SKU at a price for T seconds, with a per-person limit (秒杀)."""

    __tablename__ = "flash_sales"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int | None] = mapped_column(Integer, index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    price: Mapped[int] = mapped_column(Integer)  # fen
    units: Mapped[int] = mapped_column(Integer)  # taken from the lots at start
    per_person_limit: Mapped[int] = mapped_column(Integer)
    pay_minutes: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default=SCHEDULED, index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    ended_at: Mapped[datetime | None]
    released_units: Mapped[int] = mapped_column(Integer, default=0)  # back to stock at the end
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FlashClaim(db.Model):
    """A viewer's successful claim: the order it became."""

    __tablename__ = "flash_claims"
    __table_args__ = (UniqueConstraint("flash_sale_id", "customer_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    flash_sale_id: Mapped[int] = mapped_column(ForeignKey("flash_sales.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    # Unpaid: its units went back to the "sale" (it still ran) or to "stock" (it had ended).
    returned_to: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
