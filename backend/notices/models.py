from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.timeutil import utcnow

SCHEDULED, RUNNING, DONE, CANCELLED = "SCHEDULED", "RUNNING", "DONE", "CANCELLED"


class Broadcast(db.Model):
    """A notice from the alliance to all or some of its sellers, sent now or at a time."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(20))
    link: Mapped[str] = mapped_column(String(300), default="")
    target: Mapped[dict] = mapped_column(JSON)  # {} = everyone; else towns, tags, ...
    send_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default=SCHEDULED, index=True)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]


class SellerNotice(db.Model):
    """A notice for a seller; the inbox keeps every one, whatever WeChat did with it (its
    deliveries are NoticeDelivery rows). The dedupe key makes each notice exist once."""

    __tablename__ = "seller_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"), index=True)
    link: Mapped[str] = mapped_column(String(300), default="")  # where the notice leads
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


# A delivery's life: PENDING → SENDING (claimed by one worker, committed before the call) →
# SENT (WeChat took it, msgid known) → DELIVERED / FAILED (TEMPLATESENDJOBFINISH); or FAILED
# at once on a permanent refusal; SKIPPED when the seller cannot be reached on the channel or
# the broadcast was cancelled. The inbox holds the notice whatever happens here.
PENDING, SENDING, SENT, DELIVERED, FAILED, SKIPPED = (
    "PENDING",
    "SENDING",
    "SENT",
    "DELIVERED",
    "FAILED",
    "SKIPPED",
)


class NoticeDelivery(db.Model):
    """One notice on one channel (the Official Account's template messages)."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (UniqueConstraint("notice_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("seller_notices.id"))
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20), default="oa_template")
    state: Mapped[str] = mapped_column(String(10), default=PENDING, index=True)
    openid: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    msgid: Mapped[str | None] = mapped_column(String(40), index=True)
    reason: Mapped[str] = mapped_column(String(120), default="")  # why it failed or was skipped
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
