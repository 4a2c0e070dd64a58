from flask import request

from backend.aftersales import service as aftersales
from backend.aftersales.schemas import render_after_sale
from backend.extensions import db
from backend.flows import unpaid_orders
from backend.fulfilment import tracking
from backend.live import entries
from backend.orders import service as orders
from backend.orders.schemas import render_order
from backend.payments import service as payments
from miniprogram_api import api_v1
from miniprogram_api.auth import current_customer_id, token_auth
from miniprogram_api.schemas import (
    AddressIn,
    AfterSaleIn,
    AfterSaleListOut,
    AfterSaleOut,
    IdempotencyHeader,
    OrderIn,
    OrderListOut,
    OrderOut,
    OrderQuery,
    PageQuery,
    PayParamsOut,
    TrackingOut,
)


@api_v1.post("/orders")
@api_v1.auth_required(token_auth)
@api_v1.input(IdempotencyHeader, location="headers", arg_name="headers")
@api_v1.input(OrderIn, arg_name="body")
@api_v1.output(OrderOut, status_code=201)
@api_v1.doc(
    summary="下单并锁定库存（需 Idempotency-Key；待支付订单与份数有上限，下单限频）",
    responses=[200, 201, 400, 404, 409, 422],
)
def place_order(headers, body):
    order = {
        "customer_id": current_customer_id(),
        "idempotency_key": headers["idempotency_key"],
        "items": [(line["sku_id"], line["quantity"]) for line in body["items"]],
        "address": body["address"],
        "remark": body["remark"],
        "ip": request.remote_addr,
    }
    if body.get("share") is not None:  # from a live room's product card: credited to its sharer
        share = entries.read_share(**body["share"])
        placed = entries.place_order_in_room(db.session, share=share, **order)
    else:
        placed = orders.place_order(db.session, **order)
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
@api_v1.doc(
    summary="微信支付下单，返回 wx.requestPayment 参数",
    responses={502: "微信支付返回的单号已被占用", 503: "微信支付暂时不可用"},
)
def pay_order(order_id: int):
    customer_id = current_customer_id()
    order = orders.get_order(db.session, customer_id=customer_id, order_id=order_id)
    return payments.prepare_payment(db.session, customer_id=customer_id, order=order)


@api_v1.put("/orders/<int:order_id>/address")
@api_v1.auth_required(token_auth)
@api_v1.input(AddressIn, arg_name="body")
@api_v1.output(OrderOut)
@api_v1.doc(summary="填写或修改待支付订单的收货地址")
def set_order_address(order_id: int, body):
    return render_order(
        orders.set_address(
            db.session, customer_id=current_customer_id(), order_id=order_id, address=body
        )
    )


@api_v1.post("/orders/<int:order_id>/cancel")
@api_v1.auth_required(token_auth)
@api_v1.output(OrderOut)
@api_v1.doc(summary="取消待支付订单", responses={503: "微信支付暂时不可用（关单失败）"})
def cancel_order(order_id: int):
    return render_order(
        unpaid_orders.cancel_order(db.session, customer_id=current_customer_id(), order_id=order_id)
    )


@api_v1.post("/orders/<int:order_id>/receive")
@api_v1.auth_required(token_auth)
@api_v1.output(OrderOut)
@api_v1.doc(summary="确认收货")
def receive_order(order_id: int):
    return render_order(
        orders.receive_order(db.session, customer_id=current_customer_id(), order_id=order_id)
    )


@api_v1.get("/orders/<int:order_id>/tracking")
@api_v1.auth_required(token_auth)
@api_v1.output(TrackingOut)
@api_v1.doc(summary="物流跟踪：包裹状态、快递单号与轨迹", responses=[404])
def get_tracking(order_id: int):
    order = orders.get_order(db.session, customer_id=current_customer_id(), order_id=order_id)
    return tracking.order_tracking(db.session, order)


@api_v1.get("/after-sales")
@api_v1.auth_required(token_auth)
@api_v1.input(PageQuery, location="query", arg_name="query")
@api_v1.output(AfterSaleListOut)
@api_v1.doc(summary="我的售后：申请记录与处理状态")
def my_after_sales(query):
    cases, total = aftersales.customer_after_sales(
        db.session,
        customer_id=current_customer_id(),
        page=query["page"],
        page_size=query["page_size"],
    )
    return {"items": [render_after_sale(case) for case in cases], "total": total}


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
