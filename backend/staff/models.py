from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.timeutil import utcnow


class Staff(db.Model):
    """Alliance staff, hosts and operators who sign in to the console."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(40))
    password_hash: Mapped[str] = mapped_column(String(256))
    # One of backend/staff/permissions.py's ROLES: admin, operations, warehouse, host, ...
    role: Mapped[str] = mapped_column(String(20), default="operations")
    active: Mapped[bool] = mapped_column(default=True)
    # A console session names the generation it began in; signing out, being disabled or a new
    # password moves it on, which ends every session of the account at once.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffAlert(db.Model):
    """Something staff should see on the console (expiring lots, holds that could not move)."""

    __tablename__ = "staff_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(120))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    read_at: Mapped[datetime | None]
