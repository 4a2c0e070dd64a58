from flask import Response

from backend.extensions import db
from backend.flows import storefront
from miniprogram_api import api_v1
from miniprogram_api.schemas import ProductListOut, ProductOut, ProductQuery


def _json(body: bytes) -> Response:
    return Response(body, mimetype="application/json")


@api_v1.get("/products")
@api_v1.input(ProductQuery, location="query", arg_name="query")
@api_v1.output(ProductListOut)
@api_v1.doc(summary="在售商品（按规格等级的 SKU，价格单位：分）")
def list_products(query):
    # Rendered JSON is cached until the catalogue or stock changes; the schema documents it.
    return _json(
        storefront.list_products_json(
            db.session,
            page=query["page"],
            page_size=query["page_size"],
            category=query.get("category"),
        )
    )


@api_v1.get("/products/<int:product_id>")
@api_v1.output(ProductOut)
@api_v1.doc(summary="商品详情")
def get_product(product_id: int):
    return _json(storefront.get_product_json(db.session, product_id=product_id))
