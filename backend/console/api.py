"""/console/api: the staff console's JSON API (session login), used by the console pages."""

from __future__ import annotations

from functools import wraps

from apiflask import APIBlueprint
from apiflask.fields import Integer, String
from apiflask.validators import Length, OneOf, Range
from flask import session as web_session

from backend.aftersales import service as aftersales
from backend.aftersales.schemas import render_after_sale
from backend.errors import Unauthorized
from backend.extensions import db
from backend.orders import service as orders
from backend.payments import service as payments
from backend.schemas import In
from backend.staff import service as staff_service
from backend.timeutil import to_shanghai_iso

bp = APIBlueprint("console_api", __name__, tag="Console")


class StaffLoginIn(In):
    username = String(required=True, validate=Length(1, 40))
    password = String(required=True, validate=Length(1, 200))


class DecisionIn(In):
    note = String(load_default="", validate=Length(max=200))


class ShipIn(In):
    carrier = String(required=True, validate=Length(1, 30))
    tracking_no = String(required=True, validate=Length(4, 40))


class CaseQuery(In):
    status = String(validate=OneOf(["PENDING", "REJECTED", "REFUNDING", "REFUNDED"]))
    page = Integer(load_default=1, validate=Range(1, 10000))
    page_size = Integer(load_default=20, validate=Range(1, 100))


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


@bp.get("/after-sales")
@staff_required
@bp.input(CaseQuery, location="query", arg_name="query")
def list_after_sales(query, staff):
    cases, total = aftersales.list_after_sales(
        db.session, status=query.get("status"), page=query["page"], page_size=query["page_size"]
    )
    return {"items": [render_after_sale(c) for c in cases], "total": total}


@bp.post("/after-sales/<int:after_sale_id>/approve")
@staff_required
@bp.input(DecisionIn, arg_name="body")
def approve_after_sale(after_sale_id: int, body, staff):
    return render_after_sale(
        aftersales.approve(
            db.session, after_sale_id=after_sale_id, staff_id=staff.id, note=body["note"]
        )
    )


@bp.post("/after-sales/<int:after_sale_id>/reject")
@staff_required
@bp.input(DecisionIn, arg_name="body")
def reject_after_sale(after_sale_id: int, body, staff):
    return render_after_sale(
        aftersales.reject(
            db.session,
            after_sale_id=after_sale_id,
            staff_id=staff.id,
            note=body["note"] or "不符合售后条件",
        )
    )


@bp.post("/orders/<int:order_id>/ship")
@staff_required
@bp.input(ShipIn, arg_name="body")
def ship_order(order_id: int, body, staff):
    order = orders.ship_order(
        db.session, order_id=order_id, carrier=body["carrier"], tracking_no=body["tracking_no"]
    )
    return {"id": order.id, "status": order.status, "tracking_no": order.tracking_no}


@bp.post("/orders/<int:order_id>/restock")
@staff_required
def restock_returned_goods(order_id: int, staff):
    units = orders.restock_returned_goods(db.session, order_id=order_id, staff_id=staff.id)
    return {"id": order_id, "restocked_units": units}


@bp.get("/payment-anomalies")
@staff_required
def payment_anomalies(staff):
    rows = payments.open_anomalies(db.session)
    items = [
        {
            "id": a.id,
            "kind": a.kind,
            "reference": a.reference,
            "order_id": a.order_id,
            "details": a.details,
            "created_at": to_shanghai_iso(a.created_at),
        }
        for a in rows
    ]
    return {"items": items, "total": len(items)}
