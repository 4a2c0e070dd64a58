"""Read-only views of brand licences for the staff console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from backend.catalogue.models import Product
from backend.pagination import page_of
from backend.sellers.models import ACTIVE, EXPIRED, SUSPENDED, BrandLicence, Seller

# Not a stored status: active licences whose last day is within this many days.
EXPIRING = "EXPIRING"
EXPIRING_DAYS = 30


@dataclass(frozen=True)
class LicenceRow:
    licence: BrandLicence
    seller_name: str
    state: str  # ACTIVE, SUSPENDED or EXPIRED as of `day`, even before the nightly job ran
    days_left: int

    @property
    def expiring_soon(self) -> bool:
        return self.state == ACTIVE and self.days_left <= EXPIRING_DAYS


def scope_products(session: Session) -> dict[int, str]:
    """Every product a licence can cover, by id, in catalogue order."""
    rows = session.execute(
        select(Product.id, Product.name).order_by(Product.sort_order, Product.id)
    )
    return {product_id: name for product_id, name in rows}


def licence_state_filter(state: str, day: date):
    """A licence's state on `day`: an ACTIVE row past its last day counts as expired."""
    lapsed = and_(BrandLicence.status == ACTIVE, BrandLicence.valid_until < day)
    current = and_(BrandLicence.status == ACTIVE, BrandLicence.valid_until >= day)
    if state == ACTIVE:
        return current
    if state == EXPIRED:
        return or_(BrandLicence.status == EXPIRED, lapsed)
    if state == EXPIRING:
        return and_(current, BrandLicence.valid_until <= day + timedelta(days=EXPIRING_DAYS))
    return BrandLicence.status == SUSPENDED


def state_on(licence: BrandLicence, day: date) -> str:
    """ACTIVE, SUSPENDED or EXPIRED on `day`: an ACTIVE row past its last day has expired."""
    if licence.status == ACTIVE and licence.valid_until < day:
        return EXPIRED
    return licence.status


def seller_names(session: Session, seller_ids: set[int] | list[int]) -> dict[int, str]:
    """The sellers' names by id, for pages that show a seller by its number."""
    wanted = {seller_id for seller_id in seller_ids if seller_id}
    if not wanted:
        return {}
    rows = session.execute(select(Seller.id, Seller.name).where(Seller.id.in_(wanted)))
    return {seller_id: name for seller_id, name in rows}


def _count(session: Session, query: Select) -> int:
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def list_licences(
    session: Session,
    *,
    day: date,
    state: str | None = None,
    search: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[LicenceRow], int]:
    """Licences with their seller, newest first; search matches seller name or licence number."""
    query = select(BrandLicence, Seller.name).join(Seller, Seller.id == BrandLicence.seller_id)
    if state:
        query = query.where(licence_state_filter(state, day))
    if search:
        query = query.where(
            or_(
                Seller.name.contains(search, autoescape=True),
                BrandLicence.number.contains(search, autoescape=True),
            )
        )
    total = _count(session, query)
    rows = session.execute(
        page_of(query.order_by(BrandLicence.id.desc()), page, page_size)
    ).tuples()
    items = []
    for licence, seller_name in rows:
        state_now = state_on(licence, day)
        items.append(
            LicenceRow(
                licence=licence,
                seller_name=seller_name,
                state=state_now,
                days_left=(licence.valid_until - day).days,
            )
        )
    return items, total
