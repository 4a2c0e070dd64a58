from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.timeutil import utcnow


class Seller(db.Model):
    """A small e-commerce seller of the alliance's brand."""

    __tablename__ = "sellers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    contact_name: Mapped[str] = mapped_column(String(30), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    town: Mapped[str] = mapped_column(String(30), default="")
    cooperative: Mapped[str] = mapped_column(String(60), default="")
    tags: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


ACTIVE, SUSPENDED, EXPIRED = "ACTIVE", "SUSPENDED", "EXPIRED"


class BrandLicence(db.Model):
    """A seller's licence to use the regional brand "乳山牡蛎" on some products, for a period."""

    __tablename__ = "brand_licences"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    product_ids: Mapped[list] = mapped_column(JSON, default=list)  # the licence's scope
    valid_from: Mapped[date]
    valid_until: Mapped[date] = mapped_column(index=True)  # last valid day, Asia/Shanghai
    status: Mapped[str] = mapped_column(String(12), default=ACTIVE, index=True)
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    seller: Mapped[Seller] = relationship()


class SellerToken(db.Model):
    """A seller's key to the seller API (their shops, orders, notices); stored as a SHA-256.
    It works until it expires or staff revoke it."""

    __tablename__ = "seller_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(40), default="")  # what the seller uses it for
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
