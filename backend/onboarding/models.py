"""New sellers' applications to join the alliance, and licence holders' requests to renew."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.timeutil import utcnow

PENDING, APPROVED, REJECTED = "PENDING", "APPROVED", "REJECTED"


class SellerApplication(db.Model):
    """A would-be seller's application from the public page; the applicant follows it with the
    unguessable link of its token."""

    __tablename__ = "seller_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(30))
    shop_name: Mapped[str] = mapped_column(String(60), default="")
    phone: Mapped[str] = mapped_column(String(20), index=True)
    # the phone while the application waits: at most one pending application per phone
    pending_phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    town: Mapped[str] = mapped_column(String(30))
    cooperative: Mapped[str] = mapped_column(String(60), default="")
    platforms: Mapped[list] = mapped_column(JSON, default=list)
    product_ids: Mapped[list] = mapped_column(JSON, default=list)
    wants_licence: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(10), default=PENDING, index=True)
    reason: Mapped[str] = mapped_column(String(200), default="")  # why it was rejected
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("sellers.id"))
    licence_id: Mapped[int | None] = mapped_column(ForeignKey("brand_licences.id"))
    bind_code: Mapped[str | None] = mapped_column(String(8))  # shown until it expires
    bind_code_expires_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LicenceRenewal(db.Model):
    """A seller's request to renew their brand licence, decided by staff."""

    __tablename__ = "licence_renewals"

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    # the seller while the request waits: at most one pending request per seller
    pending_seller_id: Mapped[int | None] = mapped_column(unique=True)
    licence_id: Mapped[int] = mapped_column(ForeignKey("brand_licences.id"))
    status: Mapped[str] = mapped_column(String(10), default=PENDING, index=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    valid_until: Mapped[date | None]  # the new last day, once approved
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
