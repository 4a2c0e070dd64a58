"""Settlement with sellers for drop-shipped platform orders (一件代发): the wholesale price
(供货价) of each SKU per seller tier, the cost booked when a parcel ships and the adjustments of
refunds and dead-on-arrival compensation, and the monthly statements staff mark settled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.timeutil import utcnow


class SellerTier(db.Model):
    """A group of sellers who pay the same wholesale prices (tiers are data: 标准, 金牌, ...);
    exactly one is the default, the tier of every seller not put in another."""

    __tablename__ = "seller_tiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(30))
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SellerTierAssignment(db.Model):
    """The tier a seller was put in (a seller without a row is in the default tier)."""

    __tablename__ = "seller_tier_assignments"

    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), primary_key=True)
    tier_id: Mapped[int] = mapped_column(ForeignKey("seller_tiers.id"), index=True)
    assigned_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WholesalePrice(db.Model):
    """What a seller of a tier pays the alliance for one unit of a SKU, in fen."""

    __tablename__ = "wholesale_prices"
    __table_args__ = (UniqueConstraint("sku_id", "tier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    tier_id: Mapped[int] = mapped_column(ForeignKey("seller_tiers.id"))
    price: Mapped[int] = mapped_column(Integer)  # fen
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# An entry's kind: the wholesale cost of a shipped order (positive), its reversal when the
# platform refunds the order after shipping, or the alliance's dead-on-arrival compensation
# (both negative). Each kind exists once per platform order.
COST, REFUND, DEAD_ON_ARRIVAL = "COST", "REFUND", "DEAD_ON_ARRIVAL"
ENTRY_KINDS = (COST, REFUND, DEAD_ON_ARRIVAL)


class SettlementEntry(db.Model):
    """One line of a seller's account, booked in the month (Asia/Shanghai) it happened."""

    __tablename__ = "settlement_entries"
    __table_args__ = (UniqueConstraint("platform_order_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    platform_order_id: Mapped[int] = mapped_column(ForeignKey("platform_orders.id"))
    kind: Mapped[str] = mapped_column(String(16))
    month: Mapped[str] = mapped_column(String(7), index=True)  # "2026-12"
    amount: Mapped[int] = mapped_column(Integer)  # fen, signed: what the seller owes
    units: Mapped[int] = mapped_column(Integer, default=0)
    # [{sku_id, sku_code, quantity, unit_price, amount}] of a cost, with unit_price None where
    # no wholesale price was set (staff are alerted)
    lines: Mapped[list] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StatementSettlement(db.Model):
    """A month's statement of a seller paid and marked settled by staff, with what it said."""

    __tablename__ = "statement_settlements"
    __table_args__ = (UniqueConstraint("seller_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))
    amount_due: Mapped[int] = mapped_column(Integer)  # fen, as the statement said then
    settled_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    settled_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(String(200), default="")
