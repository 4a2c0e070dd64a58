"""/console/api: staff sign in and out of the console's JSON API. Every console API module
(after-sales, orders, live, brand, platforms, notices, staff) guards its routes with
`backend.console.access.staff_required(permission)`."""

from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.fields import String
from apiflask.validators import Length
from flask import request

from backend.console import access
from backend.extensions import db
from backend.schemas import In
from backend.staff import auth
from backend.staff.permissions import role_label
from backend.staff.throttle import LoginLocked

bp = APIBlueprint("console_api", __name__, tag="Console")


class StaffLoginIn(In):
    username = String(required=True, validate=Length(1, 40))
    password = String(required=True, validate=Length(1, 200))


@bp.post("/login")
@access.public_api
@bp.input(StaffLoginIn, arg_name="body")
def login(body):
    try:
        staff = auth.authenticate(
            db.session,
            username=body["username"],
            password=body["password"],
            ip=request.remote_addr or "",
        )
    except LoginLocked as locked:
        return locked.to_dict(), locked.status, {"Retry-After": str(locked.retry_after)}
    access.sign_in(staff)
    return {
        "id": staff.id,
        "display_name": staff.display_name,
        "role": staff.role,
        "role_label": role_label(staff.role),
    }


@bp.post("/logout")
@access.public_api
def logout():
    access.sign_out()
    return {"ok": True}


from backend.console import (  # noqa: E402, F401  (views register on bp)
    adoption_api,
    adoption_harvest_api,
    shipping_api,
    staff_api,
)
