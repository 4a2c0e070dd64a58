"""Where and how the alliance ships, as rows staff edit: one zone per province (and one default
for the provinces without their own row)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.timeutil import utcnow

DEFAULT_ZONE = "*"  # the province of the row that answers for every province without its own


class ShippingZone(db.Model):
    """What shipping to a province costs (fen) and takes, and whether live products go there."""

    __tablename__ = "shipping_zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A province's full name as backend.shipping.provinces spells it (山东省), or DEFAULT_ZONE.
    province: Mapped[str] = mapped_column(String(20), unique=True)
    ships_live: Mapped[bool] = mapped_column(default=True)
    first_weight_fee: Mapped[int] = mapped_column(Integer)  # the first kg
    extra_kg_fee: Mapped[int] = mapped_column(Integer)  # each further kg begun
    cold_chain_fee: Mapped[int] = mapped_column(Integer, default=0)  # once a parcel needs cold
    days: Mapped[str] = mapped_column(String(20))  # 送达时效 as buyers read it, e.g. "1-2天"
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
