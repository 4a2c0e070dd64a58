"""Catalogue: what the store sells, as consumers see it (SKUs by grade, price in fen).

The store's product pages add stock and the lot on sale to these in `backend.flows.storefront`.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from backend.catalogue import cache
from backend.catalogue.models import Product, Sku
from backend.errors import get_or_404
from backend.pagination import page_of


def render_product(product: Product, stock: dict[int, int], lots: dict[int, dict]) -> dict:
    """A product as the store shows it: its on-sale SKUs with the given stock and lot on sale."""
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


def on_sale_products(
    session: Session, *, page: int, page_size: int, category: str | None = None
) -> tuple[list[Product], int]:
    """A page of on-sale products (SKUs and grades loaded) in catalogue order, and their total."""
    query = _on_sale_products()
    count = select(func.count()).select_from(Product).where(Product.on_sale.is_(True))
    if category:
        query = query.where(Product.category == category)
        count = count.where(Product.category == category)
    products = list(
        session.scalars(page_of(query.order_by(Product.sort_order, Product.id), page, page_size))
    )
    return products, session.scalar(count)


def on_sale_product(session: Session, *, product_id: int) -> Product | None:
    """One on-sale product with its SKUs and grades loaded; None if unknown or withdrawn."""
    return session.scalar(_on_sale_products().where(Product.id == product_id))


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
