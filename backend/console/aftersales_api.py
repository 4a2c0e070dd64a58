"""/console/api/after-sales: staff list buyers' after-sales cases and approve or reject them."""

from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.fields import Integer, String
from apiflask.validators import Length, OneOf, Range

from backend.aftersales import service as aftersales
from backend.aftersales.schemas import render_after_sale
from backend.console.access import staff_required
from backend.extensions import db
from backend.schemas import In
from backend.staff import permissions as perms

bp = APIBlueprint("aftersales_api", __name__, tag="Console: after-sales")


class DecisionIn(In):
    note = String(load_default="", validate=Length(max=200))


class CaseQuery(In):
    status = String(validate=OneOf(["PENDING", "REJECTED", "REFUNDING", "REFUNDED"]))
    page = Integer(load_default=1, validate=Range(1, 10000))
    page_size = Integer(load_default=20, validate=Range(1, 100))


@bp.get("/after-sales")
@staff_required(perms.AFTERSALES_VIEW)
@bp.input(CaseQuery, location="query", arg_name="query")
def list_after_sales(query, staff):
    cases, total = aftersales.list_after_sales(
        db.session, status=query.get("status"), page=query["page"], page_size=query["page_size"]
    )
    return {"items": [render_after_sale(c) for c in cases], "total": total}


@bp.post("/after-sales/<int:after_sale_id>/approve")
@staff_required(perms.AFTERSALES_DECIDE)
@bp.input(DecisionIn, arg_name="body")
def approve_after_sale(after_sale_id: int, body, staff):
    return render_after_sale(
        aftersales.approve(
            db.session, after_sale_id=after_sale_id, staff_id=staff.id, note=body["note"]
        )
    )


@bp.post("/after-sales/<int:after_sale_id>/reject")
@staff_required(perms.AFTERSALES_DECIDE)
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
