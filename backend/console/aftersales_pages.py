"""/console/after-sales: the after-sales desk — the queue of buyers' cases with their order,
parcel, courier and lot, decided here (the buyer is told by the refund's subscribe message), and
dead-on-arrival claims per lot, per courier and per day."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for

from backend.aftersales import service as aftersales
from backend.console.access import login_required
from backend.console.pages import _choice, _page, _pages, _safe_next, bp
from backend.errors import DomainError
from backend.extensions import db
from backend.fulfilment import service as fulfilment
from backend.media import service as media
from backend.staff import permissions as perms

CASES_PER_PAGE = 30
CASE_STATUSES = {
    "PENDING": "待处理",
    "REFUNDING": "退款中",
    "REFUNDED": "已退款",
    "REJECTED": "已拒绝",
}
CASE_TYPES = {
    "REFUND_ONLY": "未发货退款",
    "RETURN_REFUND": "退货退款",
    "DEAD_ON_ARRIVAL": "死货理赔",
}


@bp.get("/after-sales")
@login_required(perms.AFTERSALES_VIEW)
def after_sales_desk(staff):
    status = _choice("status", CASE_STATUSES) if "status" in request.args else "PENDING"
    page = _page()
    cases, total = aftersales.list_after_sales(
        db.session, status=status, page=page, page_size=CASES_PER_PAGE
    )
    parcels = {
        case.order_id: fulfilment.parcel_of_order(db.session, case.order_id) for case in cases
    }
    return render_template(
        "console/after_sales.html",
        cases=cases,
        parcels=parcels,
        total=total,
        status=status,
        statuses=CASE_STATUSES,
        types=CASE_TYPES,
        doa=fulfilment.dead_on_arrival_rates(db.session),
        page=page,
        pages=_pages(total, CASES_PER_PAGE),
    )


@bp.get("/after-sales/photos/<key>")
@login_required(perms.AFTERSALES_VIEW)
def after_sale_photo(key: str, staff):
    data, kind = media.photo_bytes(db.session, key=key[:40], customer_id=None)
    return Response(data, mimetype=kind, headers={"Cache-Control": "private, max-age=86400"})


@bp.post("/after-sales/<int:after_sale_id>/decision")
@login_required(perms.AFTERSALES_DECIDE)
def decide_after_sale(after_sale_id: int, staff):
    back = _safe_next(request.form.get("next"), url_for(".after_sales_desk"))
    note = request.form.get("note", "").strip()[:200]
    try:
        if request.form.get("decision") == "approve":
            aftersales.approve(
                db.session, after_sale_id=after_sale_id, staff_id=staff.id, note=note
            )
            flash(f"已同意售后 #{after_sale_id}，退款已发起", "success")
        else:
            aftersales.reject(
                db.session,
                after_sale_id=after_sale_id,
                staff_id=staff.id,
                note=note or "不符合售后条件",
            )
            flash(f"已拒绝售后 #{after_sale_id}", "success")
    except DomainError as refused:
        db.session.rollback()
        flash(refused.message, "error")
    return redirect(back)
