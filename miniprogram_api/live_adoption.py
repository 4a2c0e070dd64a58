"""认养 in the live room: the adoption offer the host put on screen, and the viewer's claim on
it (a free unit held for them and an order to pay through /orders/{id}/pay)."""

from apiflask import Schema
from apiflask.fields import Boolean, Float, Integer, Nested, String
from apiflask.validators import Range
from flask import request

from backend.adoption import adopting, live_offers
from backend.errors import BadRequest
from backend.extensions import db
from backend.live import rooms
from backend.orders.models import Order
from backend.schemas import In, WholeNumber
from miniprogram_api import api_v1
from miniprogram_api.adoption import AdoptionOut
from miniprogram_api.auth import current_customer_id, token_auth
from miniprogram_api.schemas import AddressIn, IdempotencyHeader


class OfferOut(Schema):
    id = Integer()
    status = String(metadata={"description": "RUNNING 上屏中 / ENDED 已结束"})
    sea_area = String(metadata={"description": "海区编号"})
    sea_area_name = String()
    raft = Integer(allow_none=True, metadata={"description": "筏号；不限筏时为空"})
    title = String(metadata={"description": "如 于家养殖海区3号筏认养"})
    kind_name = String(allow_none=True)
    household = String(allow_none=True)
    price = Integer(allow_none=True, metadata={"description": "分"})
    yield_jin = Float(allow_none=True)
    harvest_from = String(allow_none=True)
    free = Integer(metadata={"description": "还可认养的单元数"})
    sold_out = Boolean()
    pay_minutes = Integer()
    started_at = String(allow_none=True)
    ended_at = String(allow_none=True)


class OfferStateOut(Schema):
    offer = Nested(OfferOut, allow_none=True, metadata={"description": "没有上屏认养时为空"})


class LiveAdoptIn(In):
    address = Nested(AddressIn, metadata={"description": "收获时的收货地址；也可在付款前再填"})
    unit_id = WholeNumber(
        validate=Range(1, 2**31 - 1),
        metadata={"description": "观众在上屏格子里点选的单元；不填则由我们挑一个"},
    )


class LiveAdoptionOut(Schema):
    message = String()
    number = String(metadata={"description": "认养编号"})
    unit_name = String(metadata={"description": "如 3号筏 12号笼"})
    order_id = Integer(metadata={"description": "用 /orders/{id}/pay 支付"})
    pay_deadline = String(allow_none=True)
    adoption = Nested(AdoptionOut)


@api_v1.get("/live/rooms/<int:room_id>/adoption-offer")
@api_v1.output(OfferStateOut)
@api_v1.doc(summary="直播间上屏中的认养：海区、筏、价格、剩余可认养单元", responses=[200, 404])
def live_adoption_offer(room_id: int):
    rooms.get_room(db.session, room_id)
    offer = live_offers.current_offer(db.session, room_id)
    return {"offer": live_offers.offer_view(db.session, offer)}


@api_v1.post("/live/rooms/<int:room_id>/adoption-claims")
@api_v1.auth_required(token_auth)
@api_v1.input(IdempotencyHeader, location="headers", arg_name="headers")
@api_v1.input(LiveAdoptIn, arg_name="body")
@api_v1.output(LiveAdoptionOut, status_code=201, description="已为你保留一个单元，请在时限内付款")
@api_v1.doc(
    summary="直播间认养：为观众保留上屏认养中的一个空闲单元并生成待付订单（需 Idempotency-Key；"
    "重复提交或上一个保留尚未付款时答 200 和那次保留）；抢光答 409，没有上屏认养答 422",
    responses=[200, 201, 400, 404, 409, 422],
)
def claim_live_adoption(room_id: int, headers, body):
    if not isinstance(request.get_json(silent=True), dict):  # the document asks for an object
        raise BadRequest("请求体需为 JSON 对象（没有要填的可以传 {}）", code="BODY_REQUIRED")
    adoption, created = live_offers.claim(
        db.session,
        room_id=room_id,
        customer_id=current_customer_id(),
        idempotency_key=headers["idempotency_key"],
        address=body.get("address"),
        unit_id=body.get("unit_id"),
        ip=request.remote_addr,
    )
    order = db.session.get(Order, adoption.order_id)
    view = adopting.view(adoption, order=order if adoption.status == "PENDING" else None)
    return {
        "message": live_offers.hold_message(db.session, adoption),
        "number": adoption.number,
        "unit_name": live_offers.hold_text(adoption),
        "order_id": adoption.order_id,
        "pay_deadline": view["pay_deadline"],
        "adoption": view,
    }, 201 if created else 200
