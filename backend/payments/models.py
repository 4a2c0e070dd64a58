from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.timeutil import utcnow

NOTPAY = "NOTPAY"
SUCCESS = "SUCCESS"
CLOSED = "CLOSED"


class Payment(db.Model):
    """A WeChat Pay v3 transaction for an order; out_trade_no is the order number."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    out_trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    amount: Mapped[int] = mapped_column(Integer)
    payer_openid: Mapped[str] = mapped_column(String(64))
    prepay_id: Mapped[str | None] = mapped_column(String(64))
    prepay_expires_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(12), default=NOTPAY)
    transaction_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    paid_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(12))  # notification / query
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Refund(db.Model):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    after_sale_id: Mapped[int | None] = mapped_column(ForeignKey("after_sales.id"), unique=True)
    out_refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(80), default="")
    # PENDING (not yet accepted by WeChat Pay) → PROCESSING → SUCCESS / ABNORMAL / CLOSED
    status: Mapped[str] = mapped_column(String(12), default="PENDING")
    refund_id: Mapped[str | None] = mapped_column(String(64))
    succeeded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PaymentAnomaly(db.Model):
    """Something about money staff must look at: wrong amount, paid after cancel, refund failed."""

    __tablename__ = "payment_anomalies"
    __table_args__ = (UniqueConstraint("kind", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    reference: Mapped[str] = mapped_column(String(100))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    resolved: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
