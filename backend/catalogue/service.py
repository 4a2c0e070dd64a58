"""Catalogue: what the store sells, as consumers see it (SKUs by grade, price in fen, stock)."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from backend.batches import service as batches
from backend.catalogue import cache
from backend.catalogue.models import Product, Sku
from backend.errors import NotFound, get_or_404
from backend.inventory import service as inventory
from backend.pagination import page_of
from backend.timeutil import to_shanghai_iso


def _render(product: Product, stock: dict[int, int], lots: dict[int, dict]) -> dict:
    skus = [
        {
            "id": s.id,
            "code": s.code,
            "grade": s.grade.name,
            "spec": s.spec,
            "form": s.form,
            "price": s.price,
            "stock": stock.get(s.id, 0),
            "pieces_per_pack": s.pieces_per_pack,
            "lot": lots.get(s.id),
        }
        for s in product.skus
        if s.on_sale
    ]
    return {
        "id": product.id,
        "name": product.name,
        "category": product.category,
        "subtitle": product.subtitle,
        "description": product.description,
        "origin": product.origin,
        "image_url": product.image_url,
        "price_from": min((s["price"] for s in skus), default=None),
        "skus": skus,
    }


def _on_sale_products():
    return (
        select(Product)
        .where(Product.on_sale.is_(True))
        .options(selectinload(Product.skus).selectinload(Sku.grade))
    )


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
        query = _on_sale_products()
        count = select(func.count()).select_from(Product).where(Product.on_sale.is_(True))
        if category:
            query = query.where(Product.category == category)
            count = count.where(Product.category == category)
        products = list(
            session.scalars(
                page_of(
                    query.order_by(Product.sort_order, Product.id),
                    page,
                    page_size,
                )
            )
        )
        stock, lots = _stock_for(session, products)
        return {
            "items": [_render(p, stock, lots) for p in products],
            "total": session.scalar(count),
        }

    return cache.cached(("list", page, page_size, category), build)


def get_product(session: Session, *, product_id: int) -> dict:
    """One on-sale product; NotFound for unknown or withdrawn products."""

    def build() -> dict | None:
        product = session.scalar(_on_sale_products().where(Product.id == product_id))
        return _render(product, *_stock_for(session, [product])) if product else None

    rendered = cache.cached(("product", product_id), build)
    if rendered is None:
        raise NotFound("商品不存在或已下架", code="PRODUCT_NOT_FOUND")
    return rendered


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
    """get_product rendered as JSON once per catalogue version."""
    return cache.cached(
        ("product-json", product_id), lambda: _dumps(get_product(session, product_id=product_id))
    )


def set_product_on_sale(session: Session, *, product_id: int, on_sale: bool) -> Product:
    """Put a product on sale or withdraw it (staff)."""
    product = get_or_404(session, Product, product_id, "商品不存在", code="PRODUCT_NOT_FOUND")
    product.on_sale = on_sale
    cache.invalidate(session)
    session.commit()
    return product


def skus_for_sale(session: Session, sku_ids: list[int]) -> dict[int, Sku]:
    """The SKUs with their products loaded, keyed by id (missing ids are simply absent)."""
    rows = session.scalars(
        select(Sku)
        .where(Sku.id.in_(sku_ids))
        .options(selectinload(Sku.product), selectinload(Sku.grade))
    )
    return {sku.id: sku for sku in rows}
