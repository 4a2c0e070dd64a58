"""Flash sales in the live room: the sale's state, and claims."""

from apiflask.fields import Nested
from apiflask.validators import Range
from flask import request

from backend.extensions import db
from backend.live import flash_sales
from backend.orders.schemas import render_order
from backend.schemas import In, WholeNumber
from miniprogram_api import api_v1
from miniprogram_api.auth import current_customer_id, token_auth
from miniprogram_api.schemas import AddressIn, IdempotencyHeader, OrderOut


class ClaimIn(In):
    quantity = WholeNumber(required=True, validate=Range(1, 99))
    address = Nested(AddressIn)


@api_v1.get("/flash-sales/<int:sale_id>")
@api_v1.doc(summary="秒杀状态：剩余数量、倒计时")
def get_flash_sale(sale_id: int):
    return flash_sales.sale_view(db.session, sale_id=sale_id)


@api_v1.post("/flash-sales/<int:sale_id>/claims")
@api_v1.auth_required(token_auth)
@api_v1.input(IdempotencyHeader, location="headers", arg_name="headers")
@api_v1.input(ClaimIn, arg_name="body")
@api_v1.output(OrderOut, status_code=201)
@api_v1.doc(
    summary="抢购：成功得到待支付订单，抢光时 409；同一网络每场限抢，抢购限频",
    responses=[200, 201, 404, 409, 422],
)
def claim_flash_sale(sale_id: int, headers, body):
    order, created = flash_sales.claim(
        db.session,
        sale_id=sale_id,
        customer_id=current_customer_id(),
        quantity=body["quantity"],
        idempotency_key=headers["idempotency_key"],
        address=body.get("address"),
        ip=request.remote_addr,
    )
    return render_order(order), 201 if created else 200
