"""/console/shipping: staff see and set the shipping zones (where live products go, first-kg and
per-kg fees, the cold-chain surcharge, days). The form loads the schema of its JSON-API twin
(backend/console/shipping_api.py); the views register on the console blueprint of `pages.py`."""

from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, url_for

from backend.console.access import login_required
from backend.console.forms import load_form
from backend.console.pages import bp
from backend.errors import DomainError
from backend.extensions import db
from backend.shipping import service as shipping
from backend.shipping.provinces import PROVINCES
from backend.shipping.schemas import ZoneIn
from backend.staff import permissions as perms

FEE_FIELDS = ("first_weight_fee", "extra_kg_fee", "cold_chain_fee")
SIGNED = re.compile(r"-[0-9]{1,12}")


def _fee(text: str) -> str | int:
    """A negative whole number typed into a fee reaches the schema as a number, so staff read
    that a fee cannot be below 0 (not that it is no whole number)."""
    text = text.strip()
    return int(text) if SIGNED.fullmatch(text) else text


def _zones_page(form: dict | None = None, status: int = 200):
    html = render_template(
        "console/shipping_zones.html",
        zones=shipping.list_zones(db.session),
        label=shipping.zone_label,
        yuan=shipping.yuan,
        provinces=list(PROVINCES),
        cutoff_text=shipping.cutoff_text(),
        form=form or {},
    )
    return html, status


@bp.get("/shipping")
@login_required(perms.SHIPPING_RULES)
def shipping_zones(staff):
    return _zones_page()


@bp.post("/shipping")
@login_required(perms.SHIPPING_RULES)
def save_shipping_zone(staff):
    values = {key: request.form.get(key, "") for key in ("province", "days", *FEE_FIELDS)}
    values.update({key: _fee(values[key]) for key in FEE_FIELDS})
    values["ships_live"] = request.form.get("ships_live") == "on"
    try:
        zone = shipping.save_zone(db.session, **load_form(ZoneIn(), values), staff=staff)
    except DomainError as failure:
        db.session.rollback()
        flash(f"未能保存：{failure.message}", "error")
        return _zones_page({key: str(value)[:20] for key, value in values.items()}, failure.status)
    flash(f"已保存 {shipping.zone_label(zone)} 的配送规则", "success")
    return redirect(url_for(".shipping_zones"))


@bp.post("/shipping/<int:zone_id>/delete")
@login_required(perms.SHIPPING_RULES)
def delete_shipping_zone(zone_id: int, staff):
    try:
        shipping.delete_zone(db.session, zone_id=zone_id, staff=staff)
    except DomainError as failure:
        db.session.rollback()
        flash(f"未能删除：{failure.message}", "error")
    else:
        flash("已删除，该省份按默认规则配送", "success")
    return redirect(url_for(".shipping_zones"))
