from backend.aftersales import service as aftersales
from backend.extensions import db
from backend.orders import service as orders
from backend.payments import service as payments
from backend.timeutil import to_shanghai_iso
from miniprogram_api import api_v1
from miniprogram_api.auth import current_customer_id, token_auth
from miniprogram_api.schemas import (
    AfterSaleIn,
    AfterSaleOut,
    IdempotencyHeader,
    OrderIn,
    OrderListOut,
    OrderOut,
    OrderQuery,
    PayParamsOut,
)

TIMES = ("pay_deadline", "created_at", "paid_at", "shipped_at", "completed_at", "cancelled_at")
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


def render_order(order) -> dict:
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


def render_after_sale(case) -> dict:
    return {
        "id": case.id,
        "order_id": case.order_id,
        "type": case.type,
        "reason": case.reason,
        "photos": case.photos,
        "dead_count": case.dead_count,
        "refund_amount": case.refund_amount,
        "status": case.status,
        "staff_note": case.staff_note,
        "created_at": to_shanghai_iso(case.created_at),
    }


@api_v1.post("/orders")
@api_v1.auth_required(token_auth)
@api_v1.input(IdempotencyHeader, location="headers", arg_name="headers")
@api_v1.input(OrderIn, arg_name="body")
@api_v1.output(OrderOut, status_code=201)
@api_v1.doc(
    summary="下单并锁定库存（需 Idempotency-Key）", responses=[200, 201, 400, 404, 409, 422]
)
def place_order(headers, body):
    placed = orders.place_order(
        db.session,
        customer_id=current_customer_id(),
        idempotency_key=headers["idempotency_key"],
        items=[(line["sku_id"], line["quantity"]) for line in body["items"]],
        address=body["address"],
        remark=body["remark"],
    )
    return render_order(placed.order), 201 if placed.created else 200


@api_v1.get("/orders")
@api_v1.auth_required(token_auth)
@api_v1.input(OrderQuery, location="query", arg_name="query")
@api_v1.output(OrderListOut)
@api_v1.doc(summary="我的订单")
def list_orders(query):
    found, total = orders.list_orders(
        db.session,
        customer_id=current_customer_id(),
        page=query["page"],
        page_size=query["page_size"],
        status=query.get("status"),
    )
    return {"items": [render_order(o) for o in found], "total": total}


@api_v1.get("/orders/<int:order_id>")
@api_v1.auth_required(token_auth)
@api_v1.output(OrderOut)
@api_v1.doc(summary="订单详情")
def get_order(order_id: int):
    return render_order(
        orders.get_order(db.session, customer_id=current_customer_id(), order_id=order_id)
    )


@api_v1.post("/orders/<int:order_id>/pay")
@api_v1.auth_required(token_auth)
@api_v1.output(PayParamsOut)
@api_v1.doc(summary="微信支付下单，返回 wx.requestPayment 参数")
def pay_order(order_id: int):
    customer_id = current_customer_id()
    order = orders.get_order(db.session, customer_id=customer_id, order_id=order_id)
    return payments.prepare_payment(db.session, customer_id=customer_id, order=order)


@api_v1.post("/orders/<int:order_id>/cancel")
@api_v1.auth_required(token_auth)
@api_v1.output(OrderOut)
@api_v1.doc(summary="取消待支付订单")
def cancel_order(order_id: int):
    return render_order(
        orders.cancel_order(db.session, customer_id=current_customer_id(), order_id=order_id)
    )


@api_v1.post("/orders/<int:order_id>/receive")
@api_v1.auth_required(token_auth)
@api_v1.output(OrderOut)
@api_v1.doc(summary="确认收货")
def receive_order(order_id: int):
    return render_order(
        orders.receive_order(db.session, customer_id=current_customer_id(), order_id=order_id)
    )


@api_v1.post("/orders/<int:order_id>/after-sales")
@api_v1.auth_required(token_auth)
@api_v1.input(AfterSaleIn, arg_name="body")
@api_v1.output(AfterSaleOut, status_code=201)
@api_v1.doc(summary="申请售后：未发货退款、退货退款、死货理赔")
def request_after_sale(order_id: int, body):
    case = aftersales.request_after_sale(
        db.session,
        customer_id=current_customer_id(),
        order_id=order_id,
        type=body["type"],
        reason=body["reason"],
        photos=body["photos"],
        dead_count=body.get("dead_count"),
        order_item_id=body.get("order_item_id"),
    )
    return render_after_sale(case)
