"""/console/staff: administrators create staff accounts, give them a role, reset a password,
disable or enable an account. The forms load the schemas of the JSON API's twin routes
(backend/console/staff_api.py); the views register on the console blueprint of `pages.py`."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from backend.console.access import login_required
from backend.console.forms import load_form
from backend.console.pages import bp
from backend.errors import DomainError
from backend.extensions import db
from backend.staff import permissions as perms
from backend.staff import service as staff_service
from backend.staff.schemas import PasswordIn, RoleIn, StaffIn

STAFF_FIELDS = ("username", "display_name", "role", "password")


def _staff_page(form: dict | None = None, status: int = 200):
    html = render_template(
        "console/staff.html",
        rows=staff_service.list_staff(db.session),
        roles=perms.ROLES,
        permission_names=perms.PERMISSIONS,
        form=form or {},
    )
    return html, status


@bp.get("/staff")
@login_required(perms.STAFF_MANAGE)
def staff_list(staff):
    return _staff_page()


@bp.post("/staff")
@login_required(perms.STAFF_MANAGE)
def create_staff(staff):
    values = {key: request.form.get(key, "") for key in STAFF_FIELDS}
    try:
        created = staff_service.create_staff(db.session, **load_form(StaffIn(), values), by=staff)
    except DomainError as failure:
        db.session.rollback()
        flash(f"未能创建：{failure.message}", "error")
        typed = {key: values[key][:40] for key in STAFF_FIELDS if key != "password"}
        return _staff_page(typed, failure.status)
    flash(f"已创建员工账号 {created.username}（{perms.role_label(created.role)}）", "success")
    return redirect(url_for(".staff_list"))


def _change(staff_id: int, change, done: str):
    try:
        changed = change()
    except DomainError as failure:
        db.session.rollback()
        flash(f"未能修改：{failure.message}", "error")
    else:
        flash(f"{changed.display_name}（{changed.username}）：{done}", "success")
    return redirect(url_for(".staff_list"))


@bp.post("/staff/<int:staff_id>/role")
@login_required(perms.STAFF_MANAGE)
def assign_role(staff_id: int, staff):
    def change():
        role = load_form(RoleIn(), {"role": request.form.get("role", "")})["role"]
        return staff_service.assign_role(db.session, staff_id=staff_id, role=role, by=staff)

    return _change(staff_id, change, "角色已更新")


@bp.post("/staff/<int:staff_id>/password")
@login_required(perms.STAFF_MANAGE)
def reset_password(staff_id: int, staff):
    def change():
        password = load_form(PasswordIn(), {"password": request.form.get("password", "")})
        return staff_service.reset_password(db.session, staff_id=staff_id, **password, by=staff)

    return _change(staff_id, change, "密码已重置，其所有登录已失效")


@bp.post("/staff/<int:staff_id>/disable")
@login_required(perms.STAFF_MANAGE)
def disable_staff(staff_id: int, staff):
    return _change(
        staff_id,
        lambda: staff_service.set_active(
            db.session, staff_id=staff_id, active=False, by_staff_id=staff.id
        ),
        "账号已停用，其所有登录已失效",
    )


@bp.post("/staff/<int:staff_id>/enable")
@login_required(perms.STAFF_MANAGE)
def enable_staff(staff_id: int, staff):
    return _change(
        staff_id,
        lambda: staff_service.set_active(
            db.session, staff_id=staff_id, active=True, by_staff_id=staff.id
        ),
        "账号已启用",
    )
