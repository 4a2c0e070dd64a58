"""认养一笼海: the free units of the farms' rafts, adopting one (picked, or "let us pick") and
paying through its order, the buyer's adoptions, and the shareable certificate."""

from apiflask import Schema
from apiflask.fields import Boolean, Float, Integer, List, Nested, String
from apiflask.validators import Range, Regexp
from flask import request

from backend.adoption import adopting
from backend.adoption import units as unit_rules
from backend.errors import RuleBroken
from backend.extensions import db
from backend.orders.models import Order
from backend.schemas import In, WholeNumber
from miniprogram_api import api_v1
from miniprogram_api.auth import current_customer_id, token_auth
from miniprogram_api.certificate_page import certificate_url
from miniprogram_api.schemas import AddressIn, IdempotencyHeader

SEA_AREA_CODE = Regexp(r"^[A-Za-z0-9-]{1,30}$", error="海区编号格式不正确")


class UnitQuery(In):
    sea_area = String(validate=SEA_AREA_CODE, metadata={"description": "海区编号，如 RS-HYS-01"})
    raft = Integer(validate=Range(1, 9999), metadata={"description": "筏号"})


class AdoptIn(In):
    unit_id = WholeNumber(
        validate=Range(1, 2**31 - 1), metadata={"description": "选中的单元；不填则由我们挑一个"}
    )
    sea_area = String(validate=SEA_AREA_CODE, metadata={"description": "不选单元时：海区编号"})
    raft = WholeNumber(validate=Range(1, 9999), metadata={"description": "不选单元时：筏号"})
    address = Nested(AddressIn, required=True, metadata={"description": "收获时的收货地址"})


class UnitOut(Schema):
    id = Integer()
    code = String()
    name = String(metadata={"description": "如 3号筏 12号笼"})
    kind = String()
    kind_name = String()
    species = String(metadata={"description": "品种，如 牡蛎"})
    raft = Integer()
    position = Integer()
    sea_area = String()
    household = String(metadata={"description": "照看它的养殖户"})
    latitude = Float()
    longitude = Float()
    seeded_on = String()
    adopt_until = String()
    harvest_from = String()
    harvest_to = String()
    price = Integer(metadata={"description": "分"})
    yield_g = Integer()
    yield_jin = Float()
    max_parcels = Integer()
    loss_terms = String()
    loss_terms_text = String()
    status = String()
    status_name = String()
    free = Boolean()


class UnitListOut(Schema):
    units = List(Nested(UnitOut))


class RaftOut(Schema):
    raft = Integer()
    kind_name = String()
    species = String()
    household = String()
    price = Integer()
    yield_jin = Float()
    units = Integer()
    free = Integer()


class AreaOut(Schema):
    code = String()
    name = String()
    latitude = Float()
    longitude = Float()
    rafts = List(Nested(RaftOut))


class AreaListOut(Schema):
    areas = List(Nested(AreaOut))


class AdoptionOut(Schema):
    id = Integer()
    number = String(metadata={"description": "认养编号"})
    status = String(metadata={"description": "PENDING 待支付 / ACTIVE / CANCELLED / COMPENSATED"})
    status_name = String()
    price = Integer()
    unit = Nested(UnitOut)
    order_id = Integer(allow_none=True, metadata={"description": "用 /orders/{id}/pay 支付"})
    pay_deadline = String(allow_none=True)
    paid_at = String(allow_none=True)
    certificate_token = String(allow_none=True, metadata={"description": "证书链接的令牌"})
    compensation = String(allow_none=True)
    replaces_adoption_id = Integer(allow_none=True)


class AdoptionListOut(Schema):
    adoptions = List(Nested(AdoptionOut))


class FarmOut(Schema):
    name = String()
    cooperative = String()
    town = String()


class CertificateOut(Schema):
    number = String()
    adopted_on = String()
    status = String()
    status_name = String()
    unit = Nested(UnitOut)
    unit_status_name = String()
    lost_reason = String(allow_none=True)
    farm = Nested(FarmOut)
    page_url = String(metadata={"description": "可分享的证书网页（含地图与二维码）"})


@api_v1.get("/adoption/areas")
@api_v1.output(AreaListOut)
@api_v1.doc(summary="可认养的海区与筏：品种、价格、剩余单元")
def adoption_areas():
    return {"areas": unit_rules.areas(db.session)}


@api_v1.get("/adoption/units")
@api_v1.input(UnitQuery, location="query", arg_name="query")
@api_v1.output(UnitListOut)
@api_v1.doc(summary="一片海区（或一条筏）的单元格子：哪些还可认养", responses=[200, 400, 404])
def adoption_units(query):
    area_id = unit_rules.sea_area_id(db.session, query["sea_area"]) if "sea_area" in query else None
    return {"units": unit_rules.grid(db.session, sea_area_id=area_id, raft=query.get("raft"))}


@api_v1.post("/adoptions")
@api_v1.auth_required(token_auth)
@api_v1.input(IdempotencyHeader, location="headers", arg_name="headers")
@api_v1.input(AdoptIn, arg_name="body")
@api_v1.output(AdoptionOut, status_code=201, description="已为你保留该单元，请在付款期限内支付")
@api_v1.doc(
    summary="认养：选一个单元或由我们挑（需 Idempotency-Key；重复提交答 200 和那次认养）；"
    "单元被抢走或已认养完答 409，过了认养期答 422",
    responses=[200, 201, 400, 404, 409, 422],
)
def adopt(headers, body):
    if "unit_id" not in body and "sea_area" not in body:
        raise RuleBroken("请选择一个单元，或选择海区由我们为你挑选", code="UNIT_OR_AREA_REQUIRED")
    area_id = None
    if "unit_id" not in body:
        area_id = unit_rules.sea_area_id(db.session, body["sea_area"])
    adoption, created = adopting.adopt(
        db.session,
        customer_id=current_customer_id(),
        unit_id=body.get("unit_id"),
        sea_area_id=area_id,
        raft=body.get("raft"),
        address=body["address"],
        idempotency_key=headers["idempotency_key"],
        ip=request.remote_addr,
    )
    return _render(adoption), 201 if created else 200


@api_v1.get("/adoptions")
@api_v1.auth_required(token_auth)
@api_v1.output(AdoptionListOut)
@api_v1.doc(summary="我的认养")
def my_adoptions():
    found = adopting.my_adoptions(db.session, customer_id=current_customer_id())
    return {"adoptions": [_render(adoption) for adoption in found]}


@api_v1.get("/adoptions/<int:adoption_id>")
@api_v1.auth_required(token_auth)
@api_v1.output(AdoptionOut)
@api_v1.doc(summary="一个认养：单元、状态、证书", responses=[200, 404])
def get_adoption(adoption_id: int):
    adoption = adopting.get_adoption(
        db.session, customer_id=current_customer_id(), adoption_id=adoption_id
    )
    return _render(adoption)


@api_v1.get("/adoption-certificates/<token>")
@api_v1.output(CertificateOut)
@api_v1.doc(summary="认养证书（凭分享链接中的令牌，任何人可看）", responses=[200, 404])
def adoption_certificate(token: str):
    adoption = adopting.by_certificate(db.session, token)
    return {**adopting.certificate(adoption), "page_url": certificate_url(token)}


def _render(adoption) -> dict:
    order = db.session.get(Order, adoption.order_id) if adoption.status == "PENDING" else None
    return adopting.view(adoption, order=order)
