"""/console/api/parcels and /console/api/waves: the warehouse desk as JSON, for scanners and
packing stations that post codes themselves (the desk pages use the same services)."""

from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.fields import Boolean, Integer, String
from apiflask.validators import Length, Range

from backend.console.access import staff_required
from backend.extensions import db
from backend.fulfilment import service as fulfilment
from backend.platforms import service as platforms
from backend.schemas import In
from backend.staff import permissions as perms
from backend.timeutil import to_shanghai_iso, utcnow

bp = APIBlueprint("fulfilment_api", __name__, tag="Console: fulfilment")


class DeskQuery(In):
    channel = String(validate=Length(1, 12))
    status = String(validate=Length(1, 10))
    province = String(validate=Length(1, 20))
    seller_id = Integer(validate=Range(1, 2**31 - 1))
    wave_id = Integer(validate=Range(1, 2**31 - 1))
    sku_id = Integer(validate=Range(1, 2**31 - 1))
    q = String(load_default="", validate=Length(max=64))
    page = Integer(load_default=1, validate=Range(1, 10000))
    page_size = Integer(load_default=50, validate=Range(1, 200))


class CodeIn(In):
    code = String(required=True, validate=Length(1, 64))


class SelfFulfilledIn(In):
    self_fulfilled = Boolean(required=True)


def render_parcel(parcel) -> dict:
    return {
        "id": parcel.id,
        "order_id": parcel.order_id,
        "platform_order_id": parcel.platform_order_id,
        "order_number": parcel.order_number,
        "channel": parcel.channel,
        "seller_id": parcel.seller_id,
        "status": parcel.status,
        "units": parcel.units,
        "summary": parcel.summary,
        "receiver_name": parcel.receiver_name,
        "phone_last4": parcel.phone_last4,
        "province": parcel.province,
        "wave_id": parcel.wave_id,
        "codes": [bound.code for bound in parcel.codes],
        "carrier": parcel.carrier,
        "tracking_no": parcel.tracking_no,
        "courier_state": parcel.courier_state,
        "waybill_error": parcel.waybill_error,
        "wechat_uploaded_at": to_shanghai_iso(parcel.wechat_uploaded_at),
        "paid_at": to_shanghai_iso(parcel.paid_at),
        "packed_at": to_shanghai_iso(parcel.packed_at),
        "shipped_at": to_shanghai_iso(parcel.shipped_at),
        "delivered_at": to_shanghai_iso(parcel.delivered_at),
    }


@bp.get("/parcels")
@staff_required(perms.ORDERS_FULFIL)
@bp.input(DeskQuery, location="query", arg_name="query")
def list_parcels(query, staff):
    filters = {name: query.get(name) for name in fulfilment.DESK_FILTERS}
    rows, total = fulfilment.desk(
        db.session,
        filters=filters,
        search=query["q"],
        page=query["page"],
        page_size=query["page_size"],
    )
    return {"items": [render_parcel(p) for p in rows], "total": total}


@bp.get("/parcels/<int:parcel_id>")
@staff_required(perms.ORDERS_FULFIL)
def get_parcel(parcel_id: int, staff):
    parcel = fulfilment.get_parcel(db.session, parcel_id)
    body = render_parcel(parcel)
    body["timeline"] = [
        {"at": to_shanghai_iso(step["at"]), "what": step["what"], "detail": step["detail"]}
        for step in fulfilment.timeline(db.session, parcel)
    ]
    return body


@bp.post("/parcels/<int:parcel_id>/codes")
@staff_required(perms.ORDERS_FULFIL)
@bp.input(CodeIn, arg_name="body")
def bind_code(parcel_id: int, body, staff):
    parcel = fulfilment.bind_code(
        db.session, parcel_id=parcel_id, code=body["code"], staff_id=staff.id
    )
    return render_parcel(parcel), 201


@bp.post("/parcels/<int:parcel_id>/packed")
@staff_required(perms.ORDERS_FULFIL)
def confirm_packed(parcel_id: int, staff):
    return render_parcel(
        fulfilment.confirm_packed(db.session, parcel_id=parcel_id, staff_id=staff.id)
    )


@bp.post("/waves")
@staff_required(perms.ORDERS_FULFIL)
def form_wave(staff):
    wave = fulfilment.form_wave(db.session, cutoff_at=utcnow(), staff_id=staff.id)
    if wave is None:
        return {"id": None, "number": None, "parcels": 0}
    parcels = fulfilment.wave_parcels(db.session, wave.id)
    return {"id": wave.id, "number": wave.number, "parcels": len(parcels)}, 201


@bp.get("/waves/<int:wave_id>/pick-list")
@staff_required(perms.ORDERS_FULFIL)
def pick_list(wave_id: int, staff):
    return {
        "items": [
            {
                "lot_id": pick["lot"].id,
                "lot_code": pick["lot"].code,
                "sku_code": pick["sku"].code,
                "use_by": to_shanghai_iso(pick["lot"].use_by),
                "units": pick["units"],
                "parcels": [
                    {"parcel_id": item["parcel"].id, "quantity": item["quantity"]}
                    for item in pick["parcels"]
                ],
            }
            for pick in fulfilment.pick_list(db.session, wave_id)
        ]
    }


@bp.put("/shops/<int:shop_id>/self-fulfilled")
@staff_required(perms.PLATFORMS)
@bp.input(SelfFulfilledIn, arg_name="body")
def set_self_fulfilled(shop_id: int, body, staff):
    shop = platforms.set_self_fulfilled(
        db.session, shop_id=shop_id, self_fulfilled=body["self_fulfilled"]
    )
    return {"id": shop.id, "self_fulfilled": shop.self_fulfilled}
