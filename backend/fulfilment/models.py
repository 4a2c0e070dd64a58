"""The warehouse's parcels: every order that takes the alliance's stock becomes one parcel, waits
for its wave (the cut-off that collects it), is picked by lot, packed with its trace codes,
labelled with a courier's waybill, shipped and tracked to the door."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.timeutil import utcnow

# A parcel's way through the warehouse. WAITING: admitted, in a wave or waiting for one;
# PACKED: its codes bound, a waybill on its way; SHIPPED: labelled and handed to the courier
# (the order is SHIPPED); DELIVERED; STOPPED: its order was cancelled or refunded before it left.
WAITING, PACKED, SHIPPED, DELIVERED, STOPPED = (
    "WAITING",
    "PACKED",
    "SHIPPED",
    "DELIVERED",
    "STOPPED",
)
PARCEL_STATUSES = (WAITING, PACKED, SHIPPED, DELIVERED, STOPPED)
# Channels: the mini-program store, a live-room claim, or a seller's platform shop (by platform).
MINIPROGRAM, LIVE = "MINIPROGRAM", "LIVE"


class Wave(db.Model):
    """The parcels one cut-off collected (e.g. 14:00 for same-day cold-chain dispatch)."""

    __tablename__ = "waves"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)  # one wave per cut-off
    cutoff_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Parcel(db.Model):
    """One order's parcel, whatever the channel; what the desk lists and filters."""

    __tablename__ = "parcels"
    # deliveries by day and courier (the dead-on-arrival report) are read from this index alone
    __table_args__ = (Index("ix_parcels_delivered", "delivered_at", "carrier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    platform_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("platform_orders.id"), unique=True
    )
    channel: Mapped[str] = mapped_column(String(12), index=True)
    order_number: Mapped[str] = mapped_column(String(64), index=True)
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("sellers.id"), index=True)
    paid_at: Mapped[datetime] = mapped_column(index=True)
    units: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(200))  # "乳山鲜活牡蛎 大 5斤装 x2"
    receiver_name: Mapped[str] = mapped_column(String(40), default="")
    phone_last4: Mapped[str] = mapped_column(String(4), default="", index=True)
    province: Mapped[str] = mapped_column(String(20), default="", index=True)
    status: Mapped[str] = mapped_column(String(10), default=WAITING, index=True)
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("waves.id"), index=True)
    carrier: Mapped[str | None] = mapped_column(String(10))
    tracking_no: Mapped[str | None] = mapped_column(String(40), unique=True)
    label_url: Mapped[str | None] = mapped_column(String(300))
    push_salt: Mapped[str | None] = mapped_column(String(32))
    courier_state: Mapped[str | None] = mapped_column(String(20))
    last_event_at: Mapped[datetime | None]
    waybill_error: Mapped[str | None] = mapped_column(String(200))
    packed_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    packed_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    wechat_uploaded_at: Mapped[datetime | None]
    wechat_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    codes: Mapped[list[ParcelCode]] = relationship(order_by="ParcelCode.id")


class ParcelCode(db.Model):
    """A trace code stuck on a parcel: each code is bound once, ever."""

    __tablename__ = "parcel_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("trace_codes.id"), unique=True)
    code: Mapped[str] = mapped_column(String(32))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    bound_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    bound_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrackingEvent(db.Model):
    """A courier's scan of a parcel, as its pushes told it (each once, whatever the order)."""

    __tablename__ = "tracking_events"
    __table_args__ = (UniqueConstraint("parcel_id", "at", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(20))
    context: Mapped[str] = mapped_column(String(300), default="")
    location: Mapped[str] = mapped_column(String(80), default="")


class BuyerMessage(db.Model):
    """A subscribe message about an order (shipped, delivered, a delivery problem, refunded):
    sent once per order and kind, its outcome kept."""

    __tablename__ = "buyer_messages"
    __table_args__ = (UniqueConstraint("order_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
