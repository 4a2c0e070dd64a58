"""GET /api/v1/shipping/quote: what shipping a SKU to a province costs, whether live products go
there, and when an order paid now leaves (no login needed)."""

from __future__ import annotations

from dataclasses import asdict

from backend.extensions import db
from backend.shipping import service as shipping
from miniprogram_api import api_v1
from miniprogram_api.schemas import ShippingQuery, ShippingQuoteOut


@api_v1.get("/shipping/quote")
@api_v1.input(ShippingQuery, location="query", arg_name="query")
@api_v1.output(ShippingQuoteOut)
@api_v1.doc(
    summary="运费试算：按省份与重量计费（含冷链附加费），鲜活产品是否可达",
    responses=[200, 400, 404, 422],
)
def quote(query):
    found = shipping.quote_sku(
        db.session,
        sku_id=query["sku_id"],
        quantity=query["quantity"],
        province_text=query["province"],
    )
    return {**asdict(found), "cutoff_text": shipping.cutoff_text()}
