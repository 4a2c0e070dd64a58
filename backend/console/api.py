"""/console/api: staff log in and out of the console's JSON API; `staff_required` guards every
console API module (after-sales, orders, live, brand, platforms, notices)."""

from __future__ import annotations

from functools import wraps

from apiflask import APIBlueprint
from apiflask.fields import String
from apiflask.validators import Length
from flask import session as web_session

from backend.errors import Unauthorized
from backend.extensions import db
from backend.schemas import In
from backend.staff import service as staff_service

bp = APIBlueprint("console_api", __name__, tag="Console")


class StaffLoginIn(In):
    username = String(required=True, validate=Length(1, 40))
    password = String(required=True, validate=Length(1, 200))


def staff_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        staff = staff_service.get_active(db.session, web_session.get("staff_id"))
        if staff is None:
            raise Unauthorized("请先登录后台", code="STAFF_LOGIN_REQUIRED")
        return view(*args, staff=staff, **kwargs)

    return wrapper


@bp.post("/login")
@bp.input(StaffLoginIn, arg_name="body")
def login(body):
    staff = staff_service.authenticate(
        db.session, username=body["username"], password=body["password"]
    )
    web_session.clear()
    web_session["staff_id"] = staff.id
    return {"id": staff.id, "display_name": staff.display_name, "role": staff.role}


@bp.post("/logout")
def logout():
    web_session.clear()
    return {"ok": True}
