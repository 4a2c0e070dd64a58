"""Request and response shapes of the mini-program API (they also make the OpenAPI document)."""

import re

from apiflask import Schema
from apiflask.fields import Boolean, Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range, Regexp

from backend.orders import lifecycle
from backend.schemas import In, WholeNumber

ORDER_STATUSES = list(lifecycle.STATUSES)


class LoginIn(In):
    code = String(required=True, validate=Length(1, 128), metadata={"description": "wx.login code"})


class PageQuery(In):
    page = Integer(load_default=1, validate=Range(1, 10000))
    page_size = Integer(load_default=10, validate=Range(1, 50))


class ProductQuery(PageQuery):
    category = String(validate=Length(1, 30))


class OrderQuery(PageQuery):
    status = String(validate=OneOf(ORDER_STATUSES))


class LineIn(In):
    sku_id = WholeNumber(required=True, validate=Range(1, 2**31 - 1))
    quantity = WholeNumber(required=True, validate=Range(1, 99))


class CartIn(In):
    items = List(Nested(LineIn), required=True, validate=Length(max=50))


class AddressIn(In):
    name = String(required=True, validate=Length(1, 20))
    phone = String(required=True, validate=Regexp(r"^1[3-9]\d{9}$", error="手机号格式不正确"))
    province = String(required=True, validate=Length(1, 20))
    city = String(required=True, validate=Length(1, 20))
    district = String(required=True, validate=Length(1, 20))
    detail = String(required=True, validate=Length(1, 120))


class ShippingQuery(In):
    sku_id = Integer(required=True, validate=Range(1, 2**31 - 1))
    quantity = Integer(load_default=1, validate=Range(1, 99))
    province = String(
        required=True,
        validate=Length(1, 20),
        metadata={"description": "收货省份，如 山东省 / 山东 / 内蒙古"},
    )


class OrderIn(In):
    items = List(Nested(LineIn), required=True, validate=Length(1, 20))
    address = Nested(AddressIn, required=True)
    remark = String(load_default="", validate=Length(max=200))


PHOTO_KEY = re.compile(r"^[A-Za-z0-9_-]{32}$")
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-:.]{8,64}$")


class IdempotencyHeader(In):
    idempotency_key = String(
        required=True,
        data_key="Idempotency-Key",
        validate=Regexp(KEY_PATTERN, error="Idempotency-Key 需为 8-64 位字母数字"),
    )


class AfterSaleIn(In):
    type = String(
        required=True, validate=OneOf(["REFUND_ONLY", "RETURN_REFUND", "DEAD_ON_ARRIVAL"])
    )
    reason = String(required=True, validate=Length(1, 200))
    photos = List(
        String(validate=Regexp(PHOTO_KEY, error="请先上传照片，再提交照片编号")),
        load_default=list,
        validate=Length(max=9),
        metadata={"description": "POST /api/v1/photos 上传后得到的照片编号（死货理赔至少一张）"},
    )
    dead_count = WholeNumber(validate=Range(1, 100000))
    order_item_id = WholeNumber(validate=Range(1, 2**31 - 1))


class UserOut(Schema):
    id = Integer()
    nickname = String()


class LoginOut(Schema):
    token = String()
    expires_in = Integer()
    user = Nested(UserOut)


class LotOut(Schema):
    code = String(metadata={"description": "批次码（溯源用）"})
    harvested_at = String(metadata={"description": "采收时间（+08:00）"})
    sea_area = String(metadata={"description": "产地海区"})
    packed_at = String(metadata={"description": "包装时间（+08:00）"})
    use_by = String(metadata={"description": "最佳食用期限（+08:00）"})


class SkuOut(Schema):
    id = Integer()
    code = String()
    grade = String()
    spec = String()
    form = String()
    price = Integer(metadata={"description": "price in fen"})
    stock = Integer()
    pieces_per_pack = Integer(allow_none=True)
    lot = Nested(
        LotOut, allow_none=True, metadata={"description": "在售批次及其产地；无库存时为 null"}
    )


class ProductOut(Schema):
    id = Integer()
    name = String()
    category = String()
    subtitle = String()
    description = String()
    origin = String()
    image_url = String()
    price_from = Integer(allow_none=True)
    skus = List(Nested(SkuOut))
    cutoff_text = String(
        metadata={"description": "发货截止提示，如“今日14点前付款，当天发出”（商品详情）"}
    )


class ProductListOut(Schema):
    items = List(Nested(ProductOut))
    total = Integer()


class CartLineOut(Schema):
    sku_id = Integer()
    quantity = Integer()
    name = String()
    grade = String()
    spec = String()
    price = Integer()
    stock = Integer()
    on_sale = Boolean()


class CartOut(Schema):
    items = List(Nested(CartLineOut))
    total = Integer()
    amount = Integer()


class OrderItemOut(Schema):
    id = Integer()
    sku_id = Integer()
    product_name = String()
    grade = String()
    spec = String()
    unit_price = Integer()
    quantity = Integer()
    subtotal = Integer()


class OrderOut(Schema):
    id = Integer()
    number = String()
    status = String()
    total = Integer()
    goods_total = Integer()
    shipping_fee = Integer()
    refunded_total = Integer()
    items = List(Nested(OrderItemOut))
    address = Dict()
    remark = String()
    pay_deadline = String()
    created_at = String()
    paid_at = String(allow_none=True)
    shipped_at = String(allow_none=True)
    delivered_at = String(allow_none=True)
    carrier = String(allow_none=True)
    tracking_no = String(allow_none=True)
    completed_at = String(allow_none=True)
    cancelled_at = String(allow_none=True)
    cancel_reason = String(allow_none=True)


class ClaimOut(Schema):
    status = String(
        metadata={
            "description": "PENDING 抢到了、订单生成中；ORDERED 订单已生成（见 order）；"
            "REFUSED 未能生成订单（见 code、message），份数已退回",
            "enum": ["PENDING", "ORDERED", "REFUSED"],
        }
    )
    message = String()
    code = String(allow_none=True)
    quantity = Integer()
    order = Nested(OrderOut, allow_none=True)


class OrderListOut(Schema):
    items = List(Nested(OrderOut))
    total = Integer()


class PayParamsOut(Schema):
    timeStamp = String()
    nonceStr = String()
    package = String()
    signType = String()
    paySign = String()


class TrackingEventOut(Schema):
    at = String()
    state = String()
    context = String()
    location = String()


class TrackingOut(Schema):
    status = String(metadata={"description": "包裹状态：WAITING 待打包 … DELIVERED 已签收"})
    status_text = String()
    carrier = String(allow_none=True)
    carrier_name = String(allow_none=True)
    tracking_no = String(allow_none=True)
    shipped_at = String(allow_none=True)
    delivered_at = String(allow_none=True)
    doa_claim_until = String(allow_none=True, metadata={"description": "死货理赔截止时间"})
    events = List(Nested(TrackingEventOut))


class AfterSaleOut(Schema):
    id = Integer()
    order_id = Integer()
    type = String()
    reason = String()
    photos = List(String())
    dead_count = Integer(allow_none=True)
    refund_amount = Integer()
    status = String()
    staff_note = String()
    created_at = String()


class AfterSaleListOut(Schema):
    items = List(Nested(AfterSaleOut))
    total = Integer()


class ShippingQuoteOut(Schema):
    ships = Boolean(metadata={"description": "能否发往该省（鲜活产品不发往部分地区）"})
    province = String(metadata={"description": "识别出的省份全称"})
    fee = Integer(metadata={"description": "运费（分），含冷链附加费；不能发往时为 0"})
    cold_chain_fee = Integer(metadata={"description": "冷链附加费（分）"})
    weight_grams = Integer(metadata={"description": "计费重量（克，含包装）"})
    days = String(metadata={"description": "预计送达时效，如 1-2天"})
    cutoff_text = String(metadata={"description": "发货截止提示"})
    message = String()
