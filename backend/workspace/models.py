from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.timeutil import utcnow

REQUESTED = "REQUESTED"


class RenewalRequest(db.Model):
    """A seller asked, from their phone pages, for their brand licence to be renewed; staff
    decide (onboarding's review sets the status)."""

    __tablename__ = "licence_renewal_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    licence_id: Mapped[int | None] = mapped_column(ForeignKey("brand_licences.id"))
    status: Mapped[str] = mapped_column(String(12), default=REQUESTED, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
