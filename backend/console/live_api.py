"""/console/api/flash-sales: the host starts and stops flash sales and watches them."""

from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.fields import Integer
from apiflask.validators import Range

from backend.console.api import staff_required
from backend.extensions import db
from backend.live import flash
from backend.schemas import In

bp = APIBlueprint("live_api", __name__, tag="Console: live")


class StartSaleIn(In):
    sku_id = Integer(required=True, strict=True, validate=Range(1))
    units = Integer(required=True, strict=True, validate=Range(1, 100_000))
    price = Integer(required=True, strict=True, validate=Range(1, 10_000_000))  # fen
    seconds = Integer(required=True, strict=True, validate=Range(10, 24 * 3600))
    per_person_limit = Integer(required=True, strict=True, validate=Range(1, 99))
    pay_minutes = Integer(load_default=5, strict=True, validate=Range(1, 30))
    room_id = Integer(strict=True, validate=Range(1))


@bp.post("/flash-sales")
@staff_required
@bp.input(StartSaleIn, arg_name="body")
def start_flash_sale(body, staff):
    sale = flash.start_sale(db.session, staff_id=staff.id, **body)
    return flash.sale_view(db.session, sale_id=sale.id), 201


@bp.post("/flash-sales/<int:sale_id>/stop")
@staff_required
def stop_flash_sale(sale_id: int, staff):
    flash.end_sale(db.session, sale_id=sale_id)
    return flash.sale_view(db.session, sale_id=sale_id)


@bp.get("/flash-sales/<int:sale_id>")
@staff_required
def watch_flash_sale(sale_id: int, staff):
    return flash.sale_view(db.session, sale_id=sale_id)
