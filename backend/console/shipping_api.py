"""/console/api/shipping-zones: staff read and set where live products go and what shipping
costs per province (fees in fen). The views register on the console API blueprint of `api.py`."""

from __future__ import annotations

from backend.console.access import staff_required
from backend.console.api import bp
from backend.extensions import db
from backend.shipping import service as shipping
from backend.shipping.schemas import ZoneIn
from backend.staff import permissions as perms


@bp.get("/shipping-zones")
@staff_required(perms.SHIPPING_RULES)
def list_zones(staff):
    zones = [shipping.zone_view(z) for z in shipping.list_zones(db.session)]
    return {"items": zones, "total": len(zones), "cutoff_text": shipping.cutoff_text()}


@bp.put("/shipping-zones")
@staff_required(perms.SHIPPING_RULES)
@bp.input(ZoneIn, arg_name="body")
@bp.doc(summary="设置一个省份的配送规则（没有则新建）；省份填“默认”设置其他省份")
def save_zone(body, staff):
    return shipping.zone_view(shipping.save_zone(db.session, **body, staff=staff))


@bp.delete("/shipping-zones/<int:zone_id>")
@staff_required(perms.SHIPPING_RULES)
@bp.doc(summary="删除一个省份的配送规则，该省按默认规则配送")
def delete_zone(zone_id: int, staff):
    shipping.delete_zone(db.session, zone_id=zone_id, staff=staff)
    return {"ok": True}
