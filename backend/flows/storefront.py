"""The store's product pages: catalogue products with each SKU's stock and the lot on sale, with
the harvest and use-by of that lot. Spans catalogue, inventory and batches, so it lives here.

Pages are cached per catalogue version (`backend.catalogue.cache`); stock changes bump it.
"""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from backend.batches import service as batches
from backend.catalogue import cache
from backend.catalogue import service as catalogue
from backend.catalogue.models import Product
from backend.errors import NotFound
from backend.inventory import service as inventory
from backend.shipping import service as shipping
from backend.timeutil import to_shanghai_iso


def _stock_for(session: Session, products: list[Product]) -> tuple[dict[int, int], dict]:
    """Available units per SKU, and the lot on sale with where it came from."""
    sku_ids = [s.id for p in products for s in p.skus]
    lots = inventory.lots_on_sale(session, sku_ids)
    origins = batches.provenance(session, list({lot.batch_id for lot in lots.values()}))
    shown = {
        sku_id: {
            "code": lot.code,
            "harvested_at": to_shanghai_iso(origins[lot.batch_id]["harvested_at"]),
            "sea_area": origins[lot.batch_id]["sea_area"],
            "packed_at": to_shanghai_iso(lot.packed_at),
            "use_by": to_shanghai_iso(lot.use_by),
        }
        for sku_id, lot in lots.items()
    }
    return inventory.available(session, sku_ids), shown


def list_products(
    session: Session, *, page: int, page_size: int, category: str | None = None
) -> dict:
    """A page of on-sale products with their on-sale SKUs and stock."""

    def build() -> dict:
        products, total = catalogue.on_sale_products(
            session, page=page, page_size=page_size, category=category
        )
        stock, lots = _stock_for(session, products)
        return {
            "items": [catalogue.render_product(p, stock, lots) for p in products],
            "total": total,
        }

    return cache.cached(("list", page, page_size, category), build)


def get_product(session: Session, *, product_id: int) -> dict:
    """One on-sale product with when an order paid now ships; NotFound for unknown or
    withdrawn products."""

    def build() -> dict | None:
        product = catalogue.on_sale_product(session, product_id=product_id)
        if product is None:
            return None
        return catalogue.render_product(product, *_stock_for(session, [product]))

    rendered = cache.cached(("product", product_id), build)
    if rendered is None:
        raise NotFound("商品不存在或已下架", code="PRODUCT_NOT_FOUND")
    return {**rendered, "cutoff_text": shipping.cutoff_text()}


def _dumps(value: dict) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def list_products_json(
    session: Session, *, page: int, page_size: int, category: str | None = None
) -> bytes:
    """list_products rendered as JSON once per catalogue version (the hot path of the store)."""
    return cache.cached(
        ("list-json", page, page_size, category),
        lambda: _dumps(list_products(session, page=page, page_size=page_size, category=category)),
    )


def get_product_json(session: Session, *, product_id: int) -> bytes:
    """get_product rendered as JSON once per catalogue version (and cut-off text: it turns at
    the cut-off)."""
    return cache.cached(
        ("product-json", product_id, shipping.cutoff_text()),
        lambda: _dumps(get_product(session, product_id=product_id)),
    )
