"""Staff accounts for the console (alliance staff, hosts, operators)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from backend.errors import Conflict, NotFound, Unauthorized
from backend.staff.models import Staff, StaffAlert


def create_staff(
    session: Session, *, username: str, password: str, display_name: str, role: str = "staff"
) -> Staff:
    """A new console account; usernames are unique."""
    if session.scalar(select(Staff.id).where(Staff.username == username)):
        raise Conflict("用户名已存在", code="USERNAME_TAKEN")
    staff = Staff(
        username=username,
        display_name=display_name,
        role=role,
        password_hash=generate_password_hash(password),
    )
    session.add(staff)
    session.commit()
    return staff


def authenticate(session: Session, *, username: str, password: str) -> Staff:
    """The active account with these credentials, or Unauthorized (same answer for both wrongs)."""
    staff = session.scalar(select(Staff).where(Staff.username == username))
    if staff is None or not staff.active or not check_password_hash(staff.password_hash, password):
        raise Unauthorized("用户名或密码错误", code="BAD_CREDENTIALS")
    return staff


def get_staff(session: Session, staff_id: int) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("员工不存在", code="STAFF_NOT_FOUND")
    return staff


def get_active(session: Session, staff_id: int | None) -> Staff | None:
    staff = session.get(Staff, staff_id) if staff_id else None
    return staff if staff is not None and staff.active else None


def raise_alert(session: Session, *, kind: str, title: str, **details) -> StaffAlert:
    """Put something on the staff console's alert list (the caller commits)."""
    alert = StaffAlert(kind=kind, title=title, details=details)
    session.add(alert)
    return alert


def recent_alerts(session: Session, *, limit: int = 50) -> list[StaffAlert]:
    return list(session.scalars(select(StaffAlert).order_by(StaffAlert.id.desc()).limit(limit)))
