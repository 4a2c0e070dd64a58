"""What an applicant sends from the public page, and what staff send to decide; the page and
the console's JSON API load the same schemas."""

from __future__ import annotations

from apiflask.fields import Boolean, List, String
from apiflask.validators import Length, OneOf, Regexp

from backend.platforms.service import PLATFORM_NAMES
from backend.schemas import MAX_ID, In, day, text, whole

PHONE_PATTERN = r"^1[3-9]\d{9}$"
MAX_PRODUCTS = 50


class ApplicationIn(In):
    name = text("姓名", 30)
    phone = String(
        required=True,
        validate=Regexp(PHONE_PATTERN, error="请填写 11 位中国大陆手机号"),
        error_messages={"required": "请填写手机号"},
        metadata={"label": "手机号"},
    )
    town = text("所在镇", 30)
    cooperative = text("合作社", 60, shortest=0, required=False, load_default="")
    shop_name = text("店铺名称", 60, shortest=0, required=False, load_default="")
    platforms = List(
        String(validate=OneOf(list(PLATFORM_NAMES), error="销售平台选择有误")),
        required=True,
        validate=Length(1, len(PLATFORM_NAMES), error="请至少选择一个销售平台"),
        error_messages={"required": "请至少选择一个销售平台"},
    )
    product_ids = List(
        whole("商品", 1, MAX_ID, error="商品选择有误，请刷新页面后重试"),
        required=True,
        validate=Length(1, MAX_PRODUCTS, error="请至少选择一个想销售的商品"),
        error_messages={"required": "请至少选择一个想销售的商品"},
    )
    wants_licence = Boolean(load_default=True)


class RejectIn(In):
    reason = text("拒绝原因", 200)


class RenewalApproveIn(In):
    valid_until = day("新截止日期", required=False, load_default=None)
