"""Seller tiers and the wholesale price (供货价) of each SKU per tier, set by staff."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.audit import service as audit
from backend.catalogue.models import Sku
from backend.errors import Conflict, NotFound
from backend.sellers import service as sellers
from backend.settlement.models import SellerTier, SellerTierAssignment, WholesalePrice
from backend.staff.models import Staff

DEFAULT_TIER_CODE, DEFAULT_TIER_NAME = "STANDARD", "标准"


def default_tier(session: Session) -> SellerTier:
    """The tier of every seller not put in another one (created at first need)."""
    tier = session.scalar(select(SellerTier).where(SellerTier.is_default.is_(True)))
    if tier is None:
        tier = SellerTier(code=DEFAULT_TIER_CODE, name=DEFAULT_TIER_NAME, is_default=True)
        session.add(tier)
        session.flush()
    return tier


def list_tiers(session: Session) -> list[SellerTier]:
    default_tier(session)
    return list(session.scalars(select(SellerTier).order_by(SellerTier.id)))


def get_tier(session: Session, tier_id: int) -> SellerTier:
    tier = session.get(SellerTier, tier_id)
    if tier is None:
        raise NotFound("卖家等级不存在", code="TIER_NOT_FOUND")
    return tier


def create_tier(session: Session, *, code: str, name: str) -> SellerTier:
    """A new tier (its prices are set one SKU at a time; an unpriced SKU costs the default's)."""
    default_tier(session)
    code = code.strip().upper()
    if session.scalar(select(SellerTier.id).where(SellerTier.code == code)):
        raise Conflict("该等级代码已存在", code="TIER_EXISTS")
    tier = SellerTier(code=code, name=name.strip(), is_default=False)
    session.add(tier)
    session.commit()
    return tier


def tier_of(session: Session, seller_id: int) -> SellerTier:
    """The seller's tier (the default one unless staff put them in another)."""
    tier_id = session.scalar(
        select(SellerTierAssignment.tier_id).where(SellerTierAssignment.seller_id == seller_id)
    )
    return get_tier(session, tier_id) if tier_id else default_tier(session)


def set_seller_tier(
    session: Session, *, seller_id: int, tier_id: int, staff_id: int | None
) -> SellerTier:
    """Put a seller in a tier: orders shipped from now on cost that tier's prices."""
    seller = sellers.get_seller(session, seller_id)
    tier = get_tier(session, tier_id)
    row = session.get(SellerTierAssignment, seller_id)
    audit.record(
        session,
        staff=session.get(Staff, staff_id) if staff_id else None,
        action="seller.tier",
        target_type="seller",
        target_id=seller_id,
        summary=f"卖家 {seller.name} 等级设为 {tier.name}",
        before={"tier_id": row.tier_id if row else None},
        after={"tier_id": tier.id},
    )
    if row is None:
        session.add(
            SellerTierAssignment(seller_id=seller_id, tier_id=tier.id, assigned_by=staff_id)
        )
    else:
        row.tier_id, row.assigned_by = tier.id, staff_id
    session.commit()
    return tier


def set_wholesale_price(
    session: Session, *, sku_id: int, tier_id: int, price: int, staff_id: int | None
) -> WholesalePrice:
    """Set what a seller of the tier pays for a unit of the SKU; orders shipped from now on use
    it (costs already booked keep the price of their day)."""
    sku = session.get(Sku, sku_id)
    if sku is None:
        raise NotFound("商品规格不存在", code="SKU_NOT_FOUND")
    tier = get_tier(session, tier_id)
    row = session.scalar(
        select(WholesalePrice).where(
            WholesalePrice.sku_id == sku_id, WholesalePrice.tier_id == tier_id
        )
    )
    audit.record(
        session,
        staff=session.get(Staff, staff_id) if staff_id else None,
        action="wholesale.price",
        target_type="sku",
        target_id=sku_id,
        summary=f"规格 {sku.code} 在等级 {tier.name} 的供货价设为 ¥{price / 100:.2f}",
        before={"price": row.price if row else None},
        after={"price": price},
    )
    if row is None:
        row = WholesalePrice(sku_id=sku_id, tier_id=tier_id, price=price, updated_by=staff_id)
        session.add(row)
    else:
        row.price, row.updated_by = price, staff_id
    try:
        session.commit()
    except IntegrityError:  # two staff set the first price at once: the other one stands
        session.rollback()
        raise Conflict("该价格刚被他人设置，请刷新后重试", code="PRICE_CHANGED") from None
    return row


def price_table(session: Session) -> dict:
    """Every SKU with its retail price and its wholesale price per tier (None: not set)."""
    tiers = list_tiers(session)
    prices = {
        (row.sku_id, row.tier_id): row.price for row in session.scalars(select(WholesalePrice))
    }
    skus = session.scalars(select(Sku).order_by(Sku.product_id, Sku.sort_order, Sku.id))
    return {
        "tiers": [
            {"id": t.id, "code": t.code, "name": t.name, "is_default": t.is_default} for t in tiers
        ],
        "skus": [
            {
                "sku_id": sku.id,
                "code": sku.code,
                "name": f"{sku.product.name} {sku.spec}",
                "retail_price": sku.price,
                "wholesale": {str(t.id): prices.get((sku.id, t.id)) for t in tiers},
            }
            for sku in skus
        ],
    }


def unit_prices(session: Session, *, seller_id: int, sku_ids: set[int]) -> dict[int, int]:
    """{sku_id: wholesale price} for the seller's tier, each SKU the tier has no price for at
    the default tier's price; a SKU with neither is left out."""
    tier, default = tier_of(session, seller_id), default_tier(session)
    rows = session.execute(
        select(WholesalePrice.sku_id, WholesalePrice.tier_id, WholesalePrice.price).where(
            WholesalePrice.sku_id.in_(sku_ids),
            WholesalePrice.tier_id.in_({tier.id, default.id}),
        )
    ).all()
    found: dict[int, int] = {}
    for sku_id, _tier, price in sorted(rows, key=lambda r: r[1] == tier.id):
        found[sku_id] = price  # the seller's own tier sorts last and wins
    return found
