"""认养上屏 in a room's control room: the host puts the free units of a sea area (or one raft)
on screen and takes them off, on the page (console/_live_adoption.html) and through the JSON
API (/console/api/live/rooms/{id}/adoption-offer), with the same permission, room ownership
and audit as a flash sale. `section_context` gives the partial its variables; `state` is what
the control room polls."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from marshmallow import validates_schema

from backend.adoption import live_offers
from backend.adoption import units as unit_rules
from backend.console.access import login_required, staff_required
from backend.console.forms import load_form
from backend.console.live_api import bp as api_bp
from backend.console.pages import bp
from backend.errors import BadRequest, DomainError, NotFound
from backend.extensions import db
from backend.live import hosts
from backend.schemas import In, text, whole
from backend.staff import permissions as perms

PAY_MINUTES = live_offers.PAY_MINUTES


class AdoptionOfferIn(In):
    sea_area = text("海区编号", 30)
    raft = whole("筏号", 1, 9999, required=False, allow_none=True, load_default=None)
    pay_minutes = whole("支付时限（分钟）", 1, 60, required=False, load_default=PAY_MINUTES)

    @validates_schema
    def _code(self, data: dict, **kwargs) -> None:
        if not data.get("sea_area", "").replace("-", "").isalnum():
            raise BadRequest("海区编号格式不正确", code="SEA_AREA_INVALID")


def _start(room_id: int, staff, body: dict):
    area_id = unit_rules.sea_area_id(db.session, body["sea_area"])
    return live_offers.start_offer(
        db.session,
        room_id=room_id,
        sea_area_id=area_id,
        raft=body.get("raft"),
        pay_minutes=body["pay_minutes"],
        staff_id=staff.id,
    )


def state(room_id: int) -> dict | None:
    """The offer on screen, with its free units, for the control room's polling."""
    return live_offers.offer_view(db.session, live_offers.current_offer(db.session, room_id))


def section_context(room_id: int) -> dict:
    """What console/_live_adoption.html reads: `adoption_offer` (None when nothing is on
    screen) and `adoption_choices` (every sea area and raft with free units)."""
    choices = []
    for area in unit_rules.areas(db.session):
        for raft in area["rafts"]:
            choices.append(
                {
                    "value": f"{area['code']}:{raft['raft']}",
                    "text": f"{area['name']} · {raft['raft']}号筏 · {raft['kind_name']} · "
                    f"¥{raft['price'] / 100:.0f} · 剩 {raft['free']}/{raft['units']}",
                }
            )
        free = sum(raft["free"] for raft in area["rafts"])
        whole = f"{area['name']} · 全部筏 · 剩 {free}"
        choices.append({"value": f"{area['code']}:", "text": whole})
    return {"adoption_offer": state(room_id), "adoption_choices": choices}


# --- JSON API ---------------------------------------------------------------------------------


@api_bp.get("/live/rooms/<int:room_id>/adoption-offer")
@staff_required(perms.LIVE_HOST)
def watch_adoption_offer(room_id: int, staff):
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    return {"offer": state(room_id)}


@api_bp.post("/live/rooms/<int:room_id>/adoption-offer")
@staff_required(perms.LIVE_HOST)
@api_bp.input(AdoptionOfferIn, arg_name="body")
def start_adoption_offer(room_id: int, body, staff):
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    offer = _start(room_id, staff, body)
    return live_offers.offer_view(db.session, offer), 201


@api_bp.post("/live/rooms/<int:room_id>/adoption-offer/end")
@staff_required(perms.LIVE_HOST)
def end_adoption_offer(room_id: int, staff):
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    offer = live_offers.end_offer(db.session, room_id=room_id, staff_id=staff.id)
    return live_offers.offer_view(db.session, offer)


# --- the control room's form ------------------------------------------------------------------


def _own_room(room_id: int, staff) -> str:
    try:
        hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    except NotFound:
        abort(404)
    return url_for(".live_room", room_id=room_id) + "#adoption-card"


@bp.post("/live/rooms/<int:room_id>/adoption-offer")
@login_required(perms.LIVE_HOST)
def start_adoption_offer_page(room_id: int, staff):
    back = _own_room(room_id, staff)
    code, _, raft = request.form.get("where", "").partition(":")
    values = {"sea_area": code, "raft": raft, "pay_minutes": request.form.get("pay_minutes", "")}
    try:
        offer = _start(room_id, staff, load_form(AdoptionOfferIn(), values))
        shown = live_offers.offer_view(db.session, offer)
    except DomainError as failure:
        db.session.rollback()
        flash(f"未能认养上屏：{failure.message}", "error")
        return redirect(back)
    flash(
        f"认养已上屏：{shown['title']}，可认养 {shown['free']} 个，"
        f"{shown['pay_minutes']} 分钟内付款",
        "success",
    )
    return redirect(back)


@bp.post("/live/rooms/<int:room_id>/adoption-offer/end")
@login_required(perms.LIVE_HOST)
def end_adoption_offer_page(room_id: int, staff):
    back = _own_room(room_id, staff)
    try:
        live_offers.end_offer(db.session, room_id=room_id, staff_id=staff.id)
    except DomainError as failure:
        db.session.rollback()
        flash(f"未能结束认养：{failure.message}", "error")
        return redirect(back)
    flash("认养已下屏；已保留的单元仍可在付款时限内付款", "success")
    return redirect(back)
