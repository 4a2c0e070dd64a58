"""What staff send to print a run of anti-counterfeit codes, checked by the same schema on the
console's page and its JSON API."""

from __future__ import annotations

from backend.schemas import In, identifier, whole
from backend.trace.service import MAX_PRINT_RUN


class PrintRunIn(In):
    seller_id = identifier("卖家编号")
    lot_id = identifier("库存批次", error_messages={"required": "请选择库存批次"})
    quantity = whole("印制数量", 1, MAX_PRINT_RUN)
