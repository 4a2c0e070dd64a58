"""Staff accounts for the console (alliance staff, hosts, operators): who they are, their role,
whether they may sign in; and the alerts staff see on the console."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from backend.audit import service as audit
from backend.errors import BadRequest, Conflict, NotFound
from backend.staff import auth, throttle
from backend.staff.models import Staff, StaffAlert
from backend.staff.permissions import ADMIN, ROLES, role_label


def _known_role(role: str) -> str:
    if role not in ROLES:
        raise BadRequest("角色不存在", code="ROLE_UNKNOWN", details={"roles": list(ROLES)})
    return role


def create_staff(
    session: Session,
    *,
    username: str,
    password: str,
    display_name: str,
    role: str,
    by: Staff | None = None,
) -> Staff:
    """A new console account with one of the roles; usernames are unique."""
    _known_role(role)
    if session.scalar(select(Staff.id).where(Staff.username == username)):
        raise Conflict("用户名已存在", code="USERNAME_TAKEN")
    staff = Staff(
        username=username,
        display_name=display_name,
        role=role,
        password_hash=generate_password_hash(password),
    )
    session.add(staff)
    session.flush()
    _audit(
        session,
        by,
        "staff.create",
        staff,
        f"新建账号 {username}（{role_label(role)}）",
        None,
        {"role": role, "active": True},
    )
    session.commit()
    return staff


def _audit(session, by, action, staff, summary, before, after) -> None:
    audit.record(
        session,
        staff=by,
        action=action,
        target_type="staff",
        target_id=staff.id,
        summary=summary,
        before=before,
        after=after,
    )


def list_staff(session: Session) -> list[Staff]:
    return list(session.scalars(select(Staff).order_by(Staff.id)))


def get_staff(session: Session, staff_id: int) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("员工不存在", code="STAFF_NOT_FOUND")
    return staff


def _keep_an_admin(session: Session, staff: Staff) -> None:
    """The console must keep at least one active administrator, or nobody could manage it."""
    if staff.role != ADMIN or not staff.active:
        return
    admins = session.scalar(
        select(func.count(Staff.id)).where(Staff.role == ADMIN, Staff.active.is_(True))
    )
    if admins <= 1:
        raise Conflict("至少需要保留一名在职的管理员", code="LAST_ADMIN")


def set_active(session: Session, *, staff_id: int, active: bool, by_staff_id: int) -> Staff:
    """Enable or disable an account; disabling ends its sessions at once. Nobody disables
    themselves or the last administrator."""
    staff = get_staff(session, staff_id)
    if not active:
        if staff.id == by_staff_id:
            raise Conflict("不能停用自己的账号", code="CANNOT_DISABLE_SELF")
        _keep_an_admin(session, staff)
        staff.session_generation += 1
    if staff.active != active:
        said = "启用" if active else "停用"
        _audit(
            session,
            session.get(Staff, by_staff_id),
            "staff.active",
            staff,
            f"{said}账号 {staff.username}",
            {"active": staff.active},
            {"active": active},
        )
    staff.active = active
    session.commit()
    return staff


def assign_role(session: Session, *, staff_id: int, role: str, by: Staff | None = None) -> Staff:
    """Give the account another role; it applies from its next request."""
    _known_role(role)
    staff = get_staff(session, staff_id)
    if role != staff.role:
        _keep_an_admin(session, staff)
        _audit(
            session,
            by,
            "staff.role",
            staff,
            f"{staff.username} 角色 {role_label(staff.role)} → {role_label(role)}",
            {"role": staff.role},
            {"role": role},
        )
    staff.role = role
    session.commit()
    return staff


def reset_password(
    session: Session, *, staff_id: int, password: str, by: Staff | None = None
) -> Staff:
    """A new password set by an administrator: every session of the account ends and its
    failed sign-ins are forgotten."""
    staff = get_staff(session, staff_id)
    # the password itself is never recorded, not even hashed
    _audit(session, by, "staff.password", staff, f"重置 {staff.username} 的密码", None, None)
    staff.password_hash = generate_password_hash(password)
    staff.session_generation += 1
    session.commit()
    throttle.forget(staff.username)
    return staff


def sign_out(session: Session, *, staff_id: int) -> None:
    """Signing out ends every session of the account, so a saved cookie no longer works."""
    auth.end_sessions(session, staff_id=staff_id)


def raise_alert(session: Session, *, kind: str, title: str, **details) -> StaffAlert:
    """Put something on the staff console's alert list (the caller commits)."""
    alert = StaffAlert(kind=kind, title=title, details=details)
    session.add(alert)
    return alert


def recent_alerts(session: Session, *, limit: int = 50) -> list[StaffAlert]:
    return list(session.scalars(select(StaffAlert).order_by(StaffAlert.id.desc()).limit(limit)))
