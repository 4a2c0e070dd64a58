from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.timeutil import utcnow

SCHEDULED, RUNNING, ENDED = "SCHEDULED", "RUNNING", "ENDED"


class FlashSale(db.Model):
    """N units of a SKU at a price for T seconds, with a per-person limit (秒杀)."""

    __tablename__ = "flash_sales"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("live_rooms.id"), index=True)
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
    released_units: Mapped[int] = mapped_column(Integer, default=0)  # to stock: end, expired lot
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FlashClaim(db.Model):
    """A viewer's won claim, as the claim writer recorded it: the order it became, or why it
    could not become one (the buyer's holdings limits; its units went back)."""

    __tablename__ = "flash_claims"
    __table_args__ = (UniqueConstraint("flash_sale_id", "customer_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    flash_sale_id: Mapped[int] = mapped_column(ForeignKey("flash_sales.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    refusal: Mapped[dict | None] = mapped_column(JSON)  # {"code", "message", "details"}
    # Unpaid: its units went back to the "sale" (it still ran) or to "stock" (it had ended).
    returned_to: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# 小程序直播 live_status codes
LIVE, NOT_STARTED, FINISHED, BANNED, PAUSED, ABNORMAL, EXPIRED = 101, 102, 103, 104, 105, 106, 107
LIVE_STATUSES = {
    LIVE: "直播中",
    NOT_STARTED: "未开始",
    FINISHED: "已结束",
    BANNED: "禁播",
    PAUSED: "暂停",
    ABNORMAL: "异常",
    EXPIRED: "已过期",
}


class LiveRoom(db.Model):
    """A live room of the operation center, mirrored from the live provider."""

    __tablename__ = "live_rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20), default="wxa_live")
    external_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    anchor_name: Mapped[str] = mapped_column(String(30))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    live_status: Mapped[int] = mapped_column(Integer, default=NOT_STARTED, index=True)
    on_screen_sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveReminder(db.Model):
    """A viewer asked to be told when a room goes live; told once."""

    __tablename__ = "live_reminders"
    __table_args__ = (UniqueConstraint("room_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("live_rooms.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    sent_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveGoods(db.Model):
    """A SKU in the live provider's goods library (its product card), with the audit state."""

    __tablename__ = "live_goods"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), unique=True)
    goods_id: Mapped[str] = mapped_column(String(40))
    audit_id: Mapped[str] = mapped_column(String(40), default="")
    audit_status: Mapped[int] = mapped_column(Integer, default=1)  # 0 未审核 1 审核中 2 通过 3 驳回
    room_ids: Mapped[list] = mapped_column(JSON, default=list)  # rooms it was imported into
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveShelfItem(db.Model):
    """A product on a room's shelf, numbered as the host shows it ("3号")."""

    __tablename__ = "live_shelf_items"
    __table_args__ = (
        UniqueConstraint("room_id", "number"),
        UniqueConstraint("room_id", "sku_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("live_rooms.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveClaim(db.Model):
    """A buying comment ("3号要2份") that became a hold and an order to pay; one per comment."""

    __tablename__ = "live_claims"
    __table_args__ = (UniqueConstraint("room_id", "comment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("live_rooms.id"), index=True)
    comment_id: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    flash_sale_id: Mapped[int | None] = mapped_column(ForeignKey("flash_sales.id"))
    # The pay prompt by subscribe message: "sending", "sent" or "refused:<errcode>".
    prompt_outcome: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveMute(db.Model):
    """A viewer muted in a room after repeated refused or spam comments."""

    __tablename__ = "live_mutes"
    __table_args__ = (UniqueConstraint("room_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("live_rooms.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveShowSummary(db.Model):
    """What happened in a show, for the host: written once when the room ends."""

    __tablename__ = "live_show_summaries"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("live_rooms.id"), unique=True)
    figures: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveAnnouncement(db.Model):
    """A message the host scheduled (自动发言): the co-host bot posts it in the room every
    `interval_seconds` while the room is live, within the window when one is set."""

    __tablename__ = "live_announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("live_rooms.id"), index=True)
    text: Mapped[str] = mapped_column(String(140))
    interval_seconds: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime | None]  # neither set: for as long as the room is live
    ends_at: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(default=True)  # False: paused by the host
    # Ticks are counted from here: the window's start, else when it was last (re)enabled or its
    # interval changed, so the first post comes at once and the next one an interval later.
    anchor_at: Mapped[datetime]
    posted_count: Mapped[int] = mapped_column(Integer, default=0)
    last_posted_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LiveEntry(db.Model):
    """A viewer entering a room from the mini-program, with who brought them (the sharer named
    by the live-player plugin's share parameters): one per room and viewer, the sharer set once.
    Used for attributing the viewer's orders in that room, and for nothing else."""

    __tablename__ = "live_entries"
    __table_args__ = (UniqueConstraint("room_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("live_rooms.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    sharer: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(32))
    share_openid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attributed_at: Mapped[datetime | None]  # when the sharer was set
