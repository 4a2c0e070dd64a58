"""What staff send to grant, renew, suspend or resume a brand licence, checked by the same schema
on the console's pages and its JSON API."""

from __future__ import annotations

from apiflask.fields import List
from apiflask.validators import Length

from backend.schemas import MAX_ID, In, day, identifier, text, whole

MAX_NOTE = 200
MAX_SCOPE = 100


def _scope(required: bool) -> List:
    """The licensed products: at least one, each one of ours."""
    wrong = "授权商品选择有误，请刷新页面后重试"
    product = whole("授权商品", 1, MAX_ID, error=wrong)
    product.error_messages["invalid"] = wrong
    return List(
        product,
        required=required,
        validate=Length(1, MAX_SCOPE, error=f"请至少勾选一个授权商品（最多 {MAX_SCOPE} 个）"),
        error_messages={"required": "请至少勾选一个授权商品"},
    )


class NoteIn(In):
    note = text("备注", MAX_NOTE, shortest=0, required=False, load_default="")


class GrantIn(NoteIn):
    seller_id = identifier("卖家编号")
    product_ids = _scope(required=True)
    valid_from = day("开始日期")
    valid_until = day("截止日期")


class RenewIn(In):
    valid_until = day("新截止日期")
    product_ids = _scope(required=False)
