"""/console/api/orders: staff ship paid orders, put returned goods back on the shelf, and read
the payment anomalies left to check."""

from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.fields import String
from apiflask.validators import Length

from backend.console.access import staff_required
from backend.extensions import db
from backend.orders import service as orders
from backend.payments import service as payments
from backend.schemas import In
from backend.staff import permissions as perms
from backend.timeutil import to_shanghai_iso

bp = APIBlueprint("orders_api", __name__, tag="Console: orders")


class ShipIn(In):
    carrier = String(required=True, validate=Length(1, 30))
    tracking_no = String(required=True, validate=Length(4, 40))


@bp.post("/orders/<int:order_id>/ship")
@staff_required(perms.ORDERS_FULFIL)
@bp.input(ShipIn, arg_name="body")
def ship_order(order_id: int, body, staff):
    order = orders.ship_order(
        db.session, order_id=order_id, carrier=body["carrier"], tracking_no=body["tracking_no"]
    )
    return {"id": order.id, "status": order.status, "tracking_no": order.tracking_no}


@bp.post("/orders/<int:order_id>/restock")
@staff_required(perms.ORDERS_FULFIL)
def restock_returned_goods(order_id: int, staff):
    units = orders.restock_returned_goods(db.session, order_id=order_id, staff_id=staff.id)
    return {"id": order_id, "restocked_units": units}


@bp.get("/payment-anomalies")
@staff_required(perms.PAYMENTS_VIEW)
def payment_anomalies(staff):
    rows = payments.open_anomalies(db.session)
    items = [
        {
            "id": a.id,
            "kind": a.kind,
            "reference": a.reference,
            "order_id": a.order_id,
            "details": a.details,
            "created_at": to_shanghai_iso(a.created_at),
        }
        for a in rows
    ]
    return {"items": items, "total": len(items)}
