"""What staff send to set tiers and wholesale prices, credit compensation and settle."""

from __future__ import annotations

from apiflask.fields import String
from apiflask.validators import Regexp

from backend.schemas import In, identifier, text, whole

MAX_PRICE = 10_000_000  # fen: 100,000 yuan a unit is a typo


class TierIn(In):
    code = String(
        required=True,
        validate=Regexp(
            r"^[A-Za-z][A-Za-z0-9_]{0,19}$", error="等级代码为字母开头的 1-20 位字母数字"
        ),
        error_messages={"required": "请填写等级代码"},
    )
    name = text("等级名称", 30)


class SellerTierIn(In):
    tier_id = identifier("卖家等级")


class PriceIn(In):
    sku_id = identifier("商品规格")
    tier_id = identifier("卖家等级")
    price = whole("供货价（分）", 0, MAX_PRICE)


class CompensationIn(In):
    amount = whole("补偿金额（分）", 1, MAX_PRICE)
    note = text("说明", 200)


class SettleIn(In):
    note = text("备注", 200, shortest=0, required=False, load_default="")
