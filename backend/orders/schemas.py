"""How an order is shown: money in fen, times in Asia/Shanghai."""

from backend.orders.models import Order
from backend.timeutil import to_shanghai_iso

TIMES = (
    "pay_deadline",
    "created_at",
    "paid_at",
    "shipped_at",
    "delivered_at",
    "completed_at",
    "cancelled_at",
)
PLAIN = (
    "id",
    "number",
    "status",
    "total",
    "goods_total",
    "shipping_fee",
    "refunded_total",
    "address",
    "remark",
    "carrier",
    "tracking_no",
    "cancel_reason",
)


def render_order(order: Order) -> dict:
    body = {name: getattr(order, name) for name in PLAIN}
    body.update({name: to_shanghai_iso(getattr(order, name)) for name in TIMES})
    body["items"] = [
        {
            "id": i.id,
            "sku_id": i.sku_id,
            "product_name": i.product_name,
            "grade": i.grade,
            "spec": i.spec,
            "unit_price": i.unit_price,
            "quantity": i.quantity,
            "subtotal": i.subtotal,
        }
        for i in order.items
    ]
    return body
