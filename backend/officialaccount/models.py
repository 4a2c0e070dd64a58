from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.timeutil import utcnow


class OAFollower(db.Model):
    """A user of the alliance's Official Account, with whether we can reach them there and the
    seller or staff account they bound."""

    __tablename__ = "oa_followers"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    following: Mapped[bool] = mapped_column(default=True)
    # The user refused template messages ("failed:user block"): following, yet unreachable.
    templates_blocked: Mapped[bool] = mapped_column(default=False)
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("sellers.id"), unique=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), unique=True)
    last_message_at: Mapped[datetime | None]  # customer-service messages need one in 48 h
    bound_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def reachable(self) -> bool:
        return self.following and not self.templates_blocked
