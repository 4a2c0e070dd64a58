"""GET/PUT /api/v1/adoptions/{id}/deliveries: the adopter's plan for their unit's harvest — on
which dates its parcels come, how heavy each is, and which go to someone else as a gift."""

from apiflask.fields import Boolean, Date, List, Nested, String
from apiflask.validators import Length, Range

from backend.adoption import harvest, harvest_views
from backend.extensions import db
from backend.schemas import In, WholeNumber
from miniprogram_api import api_v1
from miniprogram_api.auth import current_customer_id, token_auth
from miniprogram_api.schemas import AddressIn


class DeliveryIn(In):
    deliver_on = Date(required=True, metadata={"description": "收货日期（收获期内，不早于今天）"})
    weight_g = WholeNumber(
        validate=Range(harvest.MIN_PARCEL_G, 10**6),
        metadata={"description": "本包裹重量（克）；不填则与其他未填的包裹平分"},
    )
    address = Nested(AddressIn, metadata={"description": "收货地址；不填则寄到认养时的地址"})
    gift = Boolean(load_default=False, metadata={"description": "送人：须填对方地址"})
    gift_message = String(validate=Length(0, harvest.MAX_GIFT_MESSAGE), load_default="")


class DeliveryPlanIn(In):
    deliveries = List(Nested(DeliveryIn), required=True, validate=Length(1, 20))


@api_v1.get("/adoptions/<int:adoption_id>/deliveries")
@api_v1.auth_required(token_auth)
@api_v1.doc(
    summary="我的认养收获寄送安排：各包裹的日期、重量、地址与发货状态", responses=[200, 404]
)
def adoption_deliveries(adoption_id: int):
    return harvest_views.plan_view(
        db.session, customer_id=current_customer_id(), adoption_id=adoption_id
    )


@api_v1.put("/adoptions/<int:adoption_id>/deliveries")
@api_v1.auth_required(token_auth)
@api_v1.input(DeliveryPlanIn, arg_name="body")
@api_v1.doc(
    summary="安排收获寄送：选日期（可分几周）、分重量、送人（采收前可随时修改）",
    responses={
        200: "新的安排",
        404: "认养不存在",
        409: "已全部采收",
        422: "日期、包裹数或地区不符",
    },
)
def plan_adoption_deliveries(adoption_id: int, body):
    customer_id = current_customer_id()
    harvest.plan_deliveries(
        db.session,
        customer_id=customer_id,
        adoption_id=adoption_id,
        deliveries=body["deliveries"],
    )
    return harvest_views.plan_view(db.session, customer_id=customer_id, adoption_id=adoption_id)
