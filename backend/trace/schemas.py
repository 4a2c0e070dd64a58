"""What staff send to print a run of anti-counterfeit codes, checked by the same schema on the
console's page and its JSON API; and what a buyer sends to report a fake, from the /t/ page's
form or the mini-program."""

from __future__ import annotations

from backend.schemas import In, identifier, text, whole
from backend.trace.service import MAX_PRINT_RUN


class PrintRunIn(In):
    seller_id = identifier("卖家编号")
    lot_id = identifier("库存批次", error_messages={"required": "请选择库存批次"})
    quantity = whole("印制数量", 1, MAX_PRINT_RUN)


class ReportIn(In):
    place = text("购买地点", 60)  # a market stall, a shop, an online store
    note = text("情况说明", 300, shortest=0, required=False, load_default="")
