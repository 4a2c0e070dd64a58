"""/console/growth-updates: the households' growth updates, newest first (shown or hidden), the
adopted units waiting for one, hiding a post with a reason, and bind codes for the household
members who post from their phones (/farm)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from backend.adoption import growth, growth_queries, members
from backend.console.access import login_required
from backend.console.pages import bp
from backend.errors import DomainError
from backend.extensions import db
from backend.schemas import number_in
from backend.staff import permissions as perms

SHOW = {"all": None, "visible": False, "hidden": True}


def _page(issued: dict | None = None, status: int = 200):
    show = request.values.get("show", "all")
    show = show if show in SHOW else "all"
    html = render_template(
        "console/growth_updates.html",
        show=show,
        items=growth_queries.posts(db.session, hidden=SHOW[show], limit=50),
        waiting=growth_queries.units_waiting(db.session),
        waiting_days=growth.WAITING_DAYS,
        households=members.households(db.session),
        issued=issued,
    )
    return html, status


@bp.get("/growth-updates")
@login_required(perms.ADOPTION_GROWTH)
def growth_updates(staff):
    return _page()


@bp.post("/growth-updates/<int:update_id>/hide")
@login_required(perms.ADOPTION_GROWTH)
def hide_growth_update(update_id: int, staff):
    try:
        hidden = growth.hide_update(
            db.session,
            update_id=update_id,
            staff_id=staff.id,
            reason=request.form.get("reason", ""),
        )
    except DomainError as refused:
        db.session.rollback()
        flash(refused.message, "error")
    else:
        flash(f"已隐藏这条动态（{hidden} 个单元），认养人将不再看到", "success")
    return redirect(url_for("console.growth_updates", show=request.form.get("show", "all")))


@bp.post("/farm-members/bind-code")
@login_required(perms.ADOPTION_GROWTH)
def farm_member_bind_code(staff):
    farm_id = request.form.get("farm_id", "")
    member_id = request.form.get("member_id", "")
    try:
        issued = members.issue_bind_code(
            db.session,
            farm_id=number_in(farm_id) or 0,
            name=request.form.get("name", ""),
            staff=staff,
            member_id=number_in(member_id),
        )
    except DomainError as refused:
        db.session.rollback()
        flash(refused.message, "error")
        return _page(status=refused.status)
    return _page(issued={**issued, "hours": issued["expires_in"] // 3600})
