from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.timeutil import utcnow

SELLABLE, EXPIRED = "SELLABLE", "EXPIRED"
# Out of sale for one buyer from the moment it is packed: an adopted unit's harvest.
KEPT = "KEPT"

# Ledger movement kinds and what they do to a lot's (on_hand, reserved).
RECEIVE = "RECEIVE"  # packed: +on_hand
RESERVE = "RESERVE"  # an order holds units: +reserved
RELEASE = "RELEASE"  # a hold given back (unpaid, cancelled, refunded before shipping): -reserved
COMMIT = "COMMIT"  # the order was paid: the hold no longer expires (no quantity change)
SHIP = "SHIP"  # the units left with the parcel: -on_hand, -reserved
EXPIRE = "EXPIRE"  # use-by reached: the unheld remainder leaves sale: -on_hand
ADJUST = "ADJUST"  # staff stock-take with a reason: ±on_hand
RETURN = "RETURN"  # shipped units came back in sellable condition: +on_hand
KINDS = (RECEIVE, RESERVE, RELEASE, COMMIT, SHIP, EXPIRE, ADJUST, RETURN)


class Lot(db.Model):
    """Packs of one SKU from one batch, with a use-by time. Stock is the sum of sellable lots."""

    __tablename__ = "lots"
    __table_args__ = (
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    received: Mapped[int] = mapped_column(Integer)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    packed_at: Mapped[datetime]
    use_by: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(12), default=SELLABLE, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# Hold states: HELD until the pay deadline, COMMITTED once paid, then SHIPPED;
# RELEASED when given back, MOVED when its lot expired and the units came from another lot.
HELD, COMMITTED, SHIPPED, RELEASED, MOVED = "HELD", "COMMITTED", "SHIPPED", "RELEASED", "MOVED"


class StockReservation(db.Model):
    """Units of one lot held by an order, by a flash sale for its claimers, or sold to an order
    of an outside platform."""

    __tablename__ = "stock_reservations"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    flash_sale_id: Mapped[int | None] = mapped_column(ForeignKey("flash_sales.id"), index=True)
    platform_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("platform_orders.id"), index=True
    )
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=HELD)
    returned: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StockMovement(db.Model):
    """The stock ledger: a lot's on_hand and reserved always equal the sums of its rows."""

    __tablename__ = "stock_movements"
    # the ledger's flow by day and kind (reports) is read from this index alone
    __table_args__ = (Index("ix_stock_movements_flow", "created_at", "kind", "on_hand_delta"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), index=True)
    on_hand_delta: Mapped[int] = mapped_column(Integer, default=0)
    reserved_delta: Mapped[int] = mapped_column(Integer, default=0)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    flash_sale_id: Mapped[int | None] = mapped_column(ForeignKey("flash_sales.id"), index=True)
    platform_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("platform_orders.id"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reason: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
