"""/console/adoption-harvest: the harvest calendar of adopted units by day and household, with a
form on each parcel due to record what was lifted (its JSON-API twin is
backend/console/adoption_harvest_api.py). The views register on the console blueprint."""

from __future__ import annotations

from datetime import date, timedelta

from flask import flash, redirect, render_template, request, url_for

from backend.adoption import harvest, harvest_views
from backend.adoption import units as unit_rules
from backend.console.access import login_required
from backend.console.adoption_harvest_api import HarvestIn
from backend.console.forms import load_form
from backend.console.pages import bp
from backend.errors import DomainError
from backend.extensions import db
from backend.staff import permissions as perms


def _start() -> date:
    """The calendar's first day (?from=), today when absent or out of any season's reach."""
    try:
        start = date.fromisoformat(request.args.get("from", ""))
    except ValueError:
        return unit_rules.today()
    return start if 2000 <= start.year <= 2100 else unit_rules.today()


@bp.get("/adoption-harvest")
@login_required(perms.ADOPTION_HARVEST)
def adoption_harvest(staff):
    start = _start()
    days = harvest_views.harvest_calendar(db.session, start=start, days=14)
    return render_template(
        "console/adoption_harvest.html",
        days=days,
        start=start,
        earlier=start - timedelta(days=14),
        later=start + timedelta(days=14),
        tolerance=round(harvest.YIELD_TOLERANCE * 100),
    )


@bp.post("/adoption-harvest/<int:delivery_id>/record")
@login_required(perms.ADOPTION_HARVEST)
def record_adoption_harvest(delivery_id: int, staff):
    back = url_for(".adoption_harvest", **{"from": request.args.get("from", "")})
    try:
        values = load_form(HarvestIn(), {"harvested_g": request.form.get("harvested_g", "")})
        delivery = harvest.record_harvest(
            db.session,
            delivery_id=delivery_id,
            harvested_g=values["harvested_g"],
            staff_id=staff.id,
        )
    except DomainError as failure:
        db.session.rollback()
        flash(f"未能记录采收：{failure.message}", "error")
        return redirect(back)
    flash(f"已记录第 {delivery.seq} 包采收 {delivery.harvested_g} 克，加工批次已开出", "success")
    return redirect(back)
