"""/console/applications and /console/licence-renewals: staff review new sellers' applications
and licence renewal requests."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from backend.console.access import login_required
from backend.console.forms import load_form
from backend.console.pages import _choice, _page, _pages, bp
from backend.errors import DomainError
from backend.extensions import db
from backend.onboarding import service as onboarding
from backend.onboarding.schemas import RejectIn
from backend.platforms.service import PLATFORM_NAMES
from backend.sellers import queries as seller_queries
from backend.staff import permissions as perms

PER_PAGE = 30
STATUSES = {"PENDING": "待审核", "APPROVED": "已通过", "REJECTED": "已拒绝"}


@bp.get("/applications")
@login_required(perms.SELLER_ONBOARDING)
def applications(staff):
    status = _choice("status", STATUSES) if "status" in request.args else "PENDING"
    page = _page()
    rows, total = onboarding.list_applications(
        db.session, status=status, page=page, page_size=PER_PAGE
    )
    return render_template(
        "console/applications.html",
        rows=rows,
        total=total,
        status=status,
        statuses=STATUSES,
        platforms=PLATFORM_NAMES,
        products=seller_queries.scope_products(db.session),
        bind_code=onboarding.visible_bind_code,
        page=page,
        pages=_pages(total, PER_PAGE),
    )


@bp.post("/applications/<int:application_id>/decision")
@login_required(perms.SELLER_ONBOARDING)
def decide_application(application_id: int, staff):
    try:
        if request.form.get("decision") == "approve":
            done = onboarding.approve_application(
                db.session, application_id=application_id, staff_id=staff.id
            )
            flash(
                f"已通过申请 #{application_id}，卖家编号 {done['seller_id']}；"
                f"公众号绑定码 {done['bind_code']['code']}（30 分钟内有效，请交给卖家）",
                "success",
            )
        else:
            reason = load_form(RejectIn(), {"reason": request.form.get("reason", "")})["reason"]
            onboarding.reject_application(
                db.session, application_id=application_id, staff_id=staff.id, reason=reason
            )
            flash(f"已拒绝申请 #{application_id}，申请人可在进度页看到原因", "success")
    except DomainError as refused:
        db.session.rollback()
        flash(refused.message, "error")
    return redirect(url_for(".applications"))


@bp.get("/licence-renewals")
@login_required(perms.SELLER_ONBOARDING)
def licence_renewals(staff):
    status = _choice("status", STATUSES) if "status" in request.args else "PENDING"
    page = _page()
    rows, total = onboarding.list_renewals(db.session, status=status, page=page, page_size=PER_PAGE)
    return render_template(
        "console/licence_renewals.html",
        rows=rows,
        total=total,
        status=status,
        statuses=STATUSES,
        page=page,
        pages=_pages(total, PER_PAGE),
        seller_names=seller_queries.seller_names(db.session, {row.seller_id for row in rows}),
    )


@bp.post("/licence-renewals/<int:renewal_id>/decision")
@login_required(perms.SELLER_ONBOARDING)
def decide_renewal(renewal_id: int, staff):
    try:
        if request.form.get("decision") == "approve":
            renewal = onboarding.approve_renewal(
                db.session, renewal_id=renewal_id, staff_id=staff.id
            )
            flash(f"已续期至 {renewal.valid_until:%Y-%m-%d}，已通知卖家", "success")
        else:
            reason = load_form(RejectIn(), {"reason": request.form.get("reason", "")})["reason"]
            onboarding.reject_renewal(
                db.session, renewal_id=renewal_id, staff_id=staff.id, reason=reason
            )
            flash("已拒绝续期，已通知卖家", "success")
    except DomainError as refused:
        db.session.rollback()
        flash(refused.message, "error")
    return redirect(url_for(".licence_renewals"))
