"""Request and response shapes of the mini-program API (they also make the OpenAPI document)."""

import re

from apiflask import Schema
from apiflask.fields import Boolean, Dict, Field, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range, Regexp
from marshmallow import ValidationError

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


PLUGIN_ROOM_ID = re.compile(r"^[0-9]{1,20}$")
LARGEST_PLUGIN_ROOM_ID = 10**20 - 1
# custom_params as the URL carried it may still be percent-encoded: 12 characters a character
CUSTOM_PARAMS_TEXT = 12 * 512


class PluginRoomId(Field):
    """The live-player plugin's room id, as a number or its digits; loaded as the digits."""

    def __init__(self, **kwargs):
        choices = [
            {"type": "integer", "minimum": 0, "maximum": LARGEST_PLUGIN_ROOM_ID},
            {"type": "string", "pattern": PLUGIN_ROOM_ID.pattern},
        ]
        super().__init__(metadata={"oneOf": choices, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value <= LARGEST_PLUGIN_ROOM_ID:
                return str(value)
        elif isinstance(value, str) and PLUGIN_ROOM_ID.match(value):
            return value.strip()
        raise ValidationError("room_id 需为直播间号（数字）")


class CustomParams(Field):
    """custom_params: the JSON text the entry URL carried, or the object the plugin returned.
    Whether it holds a usable JSON object is the service's to say (422)."""

    def __init__(self, **kwargs):
        choices = [{"type": "string", "maxLength": CUSTOM_PARAMS_TEXT}, {"type": "object"}]
        super().__init__(metadata={"oneOf": choices, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict) or (isinstance(value, str) and len(value) <= CUSTOM_PARAMS_TEXT):
            return value
        raise ValidationError("custom_params 需为 JSON 文本或 JSON 对象")


class ShareIn(In):
    """What the live-player plugin's getShareParams() answered, as it answered it (its `openid`
    is not needed: the token says who the viewer is). Used only to credit the sharer."""

    room_id = PluginRoomId(metadata={"description": "插件返回的直播间号 room_id"})
    share_openid = String(
        validate=Regexp(r"^[A-Za-z0-9_-]{0,64}$", error="share_openid 格式不正确"),
        metadata={"description": "分享卡片的用户 openid（插件返回）"},
    )
    custom_params = CustomParams(
        metadata={
            "description": "进入直播间链接携带的 custom_params：JSON 文本（可为 URL 编码）或对象，"
            '解码后最长 512 字符，如 {"sharer": "分享者编号或 openid", "channel": "渠道"}'
        }
    )


class RoomShareIn(ShareIn):
    """The share parameters of an order from a room's product card: the room is required."""

    room_id = PluginRoomId(required=True, metadata={"description": "插件返回的直播间号 room_id"})


class EntryOut(Schema):
    room_id = Integer()
    attributed = Boolean(metadata={"description": "是否记下了带来该观众的分享者"})
    created = Boolean(metadata={"description": "本次请求记下了进入（或分享者）；重复提交为 false"})


class OrderIn(In):
    items = List(Nested(LineIn), required=True, validate=Length(1, 20))
    address = Nested(AddressIn, required=True)
    remark = String(load_default="", validate=Length(max=200))
    share = Nested(
        RoomShareIn,
        metadata={"description": "在直播间下单时：插件 getShareParams() 的结果，仅用于分享者归因"},
    )


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
