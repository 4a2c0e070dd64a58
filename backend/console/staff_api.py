"""/console/api/staff: administrators list, create and disable staff accounts, assign roles and
reset passwords; /console/api/me says who is signed in and what they may do. The views register
on the console API blueprint of `api.py`."""

from __future__ import annotations

from backend.console.access import staff_required
from backend.console.api import bp
from backend.extensions import db
from backend.staff import permissions as perms
from backend.staff import service as staff_service
from backend.staff.models import Staff
from backend.staff.schemas import PasswordIn, RoleIn, StaffIn
from backend.timeutil import to_shanghai_iso


def staff_view(staff: Staff) -> dict:
    return {
        "id": staff.id,
        "username": staff.username,
        "display_name": staff.display_name,
        "role": staff.role,
        "role_label": perms.role_label(staff.role),
        "active": staff.active,
        "created_at": to_shanghai_iso(staff.created_at),
    }


@bp.get("/me")
@staff_required(perms.CONSOLE)
def me(staff):
    role = perms.ROLES.get(staff.role)
    return {**staff_view(staff), "permissions": sorted(role.permissions) if role else []}


@bp.get("/staff")
@staff_required(perms.STAFF_MANAGE)
def list_staff(staff):
    roles = {name: role.label for name, role in perms.ROLES.items()}
    return {"items": [staff_view(s) for s in staff_service.list_staff(db.session)], "roles": roles}


@bp.post("/staff")
@staff_required(perms.STAFF_MANAGE)
@bp.input(StaffIn, arg_name="body")
@bp.doc(summary="创建员工账号（用户名、姓名、角色、初始密码）")
def create_staff(body, staff):
    return staff_view(staff_service.create_staff(db.session, **body, by=staff)), 201


@bp.post("/staff/<int:staff_id>/disable")
@staff_required(perms.STAFF_MANAGE)
@bp.doc(summary="停用员工账号：其所有登录会话立即失效")
def disable_staff(staff_id: int, staff):
    return staff_view(
        staff_service.set_active(db.session, staff_id=staff_id, active=False, by_staff_id=staff.id)
    )


@bp.post("/staff/<int:staff_id>/enable")
@staff_required(perms.STAFF_MANAGE)
def enable_staff(staff_id: int, staff):
    return staff_view(
        staff_service.set_active(db.session, staff_id=staff_id, active=True, by_staff_id=staff.id)
    )


@bp.post("/staff/<int:staff_id>/role")
@staff_required(perms.STAFF_MANAGE)
@bp.input(RoleIn, arg_name="body")
def assign_role(staff_id: int, body, staff):
    return staff_view(
        staff_service.assign_role(db.session, staff_id=staff_id, role=body["role"], by=staff)
    )


@bp.post("/staff/<int:staff_id>/password")
@staff_required(perms.STAFF_MANAGE)
@bp.input(PasswordIn, arg_name="body")
@bp.doc(summary="重置员工密码：其所有登录会话立即失效")
def reset_password(staff_id: int, body, staff):
    return staff_view(
        staff_service.reset_password(
            db.session, staff_id=staff_id, password=body["password"], by=staff
        )
    )
