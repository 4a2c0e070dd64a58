from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.timeutil import utcnow

ACTIVE, AUTH_BROKEN, DISABLED = "ACTIVE", "AUTH_BROKEN", "DISABLED"


class Shop(db.Model):
    """A seller's shop on an outside platform, with its tokens (encrypted at rest) and the
    cursor of its order pulls."""

    __tablename__ = "platform_shops"
    __table_args__ = (UniqueConstraint("platform", "shop_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    platform: Mapped[str] = mapped_column(String(10))
    shop_key: Mapped[str] = mapped_column(String(64))  # the platform's shop id
    name: Mapped[str] = mapped_column(String(80), default="")
    access_token: Mapped[str] = mapped_column(Text)  # encrypted
    refresh_token: Mapped[str | None] = mapped_column(Text)  # encrypted
    token_expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default=ACTIVE, index=True)
    # The seller ships this shop's orders from their own stock: they take none of the
    # alliance's lots and never reach the warehouse's desk.
    self_fulfilled: Mapped[bool] = mapped_column(default=False)
    # Every order updated before this moment has been read (the pull cursor).
    synced_through: Mapped[datetime | None]
    next_pull_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    pulled_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# What an order did to our stock: nothing yet, sold (units out of the lots' free stock),
# released (cancelled/refunded before shipping), shipped, or waiting for staff (a SKU code we
# cannot map, or too little stock for an order the platform already took).
STOCK_NONE, STOCK_SOLD, STOCK_RELEASED, STOCK_SHIPPED = "NONE", "SOLD", "RELEASED", "SHIPPED"
STOCK_UNMAPPED, STOCK_SHORT = "UNMAPPED", "SHORT"


class PlatformOrder(db.Model):
    """An order from a seller's shop on an outside platform, as its platform last told us."""

    __tablename__ = "platform_orders"
    __table_args__ = (
        UniqueConstraint("platform", "order_no"),
        # sales by day and platform, and the sellers' ranking, read from this index alone
        Index("ix_platform_orders_sales", "paid_at", "status", "platform", "seller_id", "total"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(10))
    order_no: Mapped[str] = mapped_column(String(64))  # the platform's order id
    shop_id: Mapped[int] = mapped_column(ForeignKey("platform_shops.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), index=True)  # ours: UNPAID, PAID, ...
    platform_status: Mapped[str] = mapped_column(String(60))
    placed_at: Mapped[datetime]
    platform_updated_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    total: Mapped[int] = mapped_column(Integer)  # fen
    shipping_fee: Mapped[int] = mapped_column(Integer, default=0)
    lines: Mapped[list] = mapped_column(
        JSON
    )  # [{sku_code, platform_sku_id, title, quantity, unit_price, sku_id}]
    receiver: Mapped[dict] = mapped_column(JSON)  # as the platform gives it (masked/encrypted)
    stock_state: Mapped[str] = mapped_column(String(10), default=STOCK_NONE, index=True)
    carrier: Mapped[str | None] = mapped_column(String(30))
    tracking_no: Mapped[str | None] = mapped_column(String(40))
    shipped_back_at: Mapped[datetime | None]  # the tracking number reached the platform
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SkuMapping(db.Model):
    """A seller's own SKU code on a platform that staff mapped to one of ours."""

    __tablename__ = "platform_sku_mappings"
    __table_args__ = (UniqueConstraint("platform", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(64))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
