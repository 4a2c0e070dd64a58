"""What staff send to set a shipping zone, checked by the same schema on the console's page and
its JSON API (fees in fen)."""

from __future__ import annotations

from apiflask.fields import Boolean

from backend.schemas import In, text, whole
from backend.shipping.service import DAYS_LONGEST, MAX_FEE


class ZoneIn(In):
    province = text("省份", 20, metadata={"description": "省份（如 山东省、内蒙古），或“默认”"})
    ships_live = Boolean(
        required=True,
        error_messages={"required": "请说明是否发鲜活", "invalid": "是否发鲜活需为是或否"},
        metadata={"label": "发鲜活"},
    )
    first_weight_fee = whole("首重运费（分）", 0, MAX_FEE)
    extra_kg_fee = whole("续重每公斤运费（分）", 0, MAX_FEE)
    cold_chain_fee = whole("冷链附加费（分）", 0, MAX_FEE)
    days = text("送达时效", DAYS_LONGEST)
