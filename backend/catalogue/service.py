"""Catalogue: what the store sells, as consumers see it (SKUs by grade, price in fen).

The store's product pages add stock and the lot on sale to these in `backend.flows.storefront`.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from backend.audit import service as audit
from backend.catalogue import cache
from backend.catalogue.models import Product, ProductLine, Sku
from backend.errors import RuleBroken, get_or_404
from backend.pagination import page_of
from backend.staff.models import Staff

# A price is whole fen: at least 1 fen, at most ¥100,000 (a typo guard, not a market rule).
MIN_PRICE, MAX_PRICE = 1, 10_000_000


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


def set_product_on_sale(
    session: Session, *, product_id: int, on_sale: bool, staff: Staff | None = None
) -> Product:
    """Put a product on sale or withdraw it (staff)."""
    product = get_or_404(session, Product, product_id, "商品不存在", code="PRODUCT_NOT_FOUND")
    if product.on_sale != on_sale:
        audit.record(
            session,
            staff=staff,
            action="product.on_sale",
            target_type="product",
            target_id=product.id,
            summary=f"{product.name} {'上架' if on_sale else '下架'}",
            before={"on_sale": product.on_sale},
            after={"on_sale": on_sale},
        )
    product.on_sale = on_sale
    cache.invalidate(session)
    session.commit()
    return product


def sku_title(sku: Sku) -> str:
    return f"{sku.product.name} {sku.spec}"


def change_sku(
    session: Session,
    *,
    sku_id: int,
    staff: Staff | None,
    price: int | None = None,
    on_sale: bool | None = None,
) -> Sku:
    """Change a SKU's price (integer fen) or whether it is on sale; each change is audited and
    shows in the mini-program as soon as it commits. Orders already placed keep their price."""
    sku = get_or_404(session, Sku, sku_id, "规格不存在", code="SKU_NOT_FOUND")
    if price is not None:
        if isinstance(price, bool) or not isinstance(price, int):
            raise RuleBroken("价格须为整数（单位：分）", code="PRICE_NOT_INTEGER")
        if not MIN_PRICE <= price <= MAX_PRICE:
            raise RuleBroken(
                f"价格须在 {MIN_PRICE / 100:.2f} 元到 {MAX_PRICE // 100} 元之间",
                code="PRICE_OUT_OF_RANGE",
            )
        if price != sku.price:
            audit.record(
                session,
                staff=staff,
                action="sku.price",
                target_type="sku",
                target_id=sku.id,
                summary=f"{sku_title(sku)} 价格 ¥{sku.price / 100:.2f} → ¥{price / 100:.2f}",
                before={"price": sku.price},
                after={"price": price},
            )
            sku.price = price
    if on_sale is not None and on_sale != sku.on_sale:
        audit.record(
            session,
            staff=staff,
            action="sku.on_sale",
            target_type="sku",
            target_id=sku.id,
            summary=f"{sku_title(sku)} {'上架' if on_sale else '下架'}",
            before={"on_sale": sku.on_sale},
            after={"on_sale": on_sale},
        )
        sku.on_sale = on_sale
    cache.invalidate(session)
    session.commit()
    return sku


def skus_for_sale(session: Session, sku_ids: list[int]) -> dict[int, Sku]:
    """The SKUs with their products loaded, keyed by id (missing ids are simply absent)."""
    rows = session.scalars(
        select(Sku)
        .where(Sku.id.in_(sku_ids))
        .options(selectinload(Sku.product), selectinload(Sku.grade))
    )
    return {sku.id: sku for sku in rows}


def products_for_staff(session: Session) -> list[Product]:
    """Every product, on sale or not, with its SKUs and grades, in catalogue order."""
    return list(
        session.scalars(
            select(Product)
            .options(selectinload(Product.skus).selectinload(Sku.grade))
            .order_by(Product.sort_order, Product.id)
        )
    )


def product_lines(session: Session) -> list[ProductLine]:
    """Every product line with its grades, for staff editing the catalogue."""
    return list(
        session.scalars(
            select(ProductLine).options(selectinload(ProductLine.grades)).order_by(ProductLine.id)
        )
    )
