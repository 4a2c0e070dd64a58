"""The console's directory of sellers and a seller's page: a search over sellers, their licences,
platform shops and WeChat binding (a page of 50 costs a count, a page and three lookups for its
rows, however many thousand sellers there are), and everything staff see of one seller."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from backend.notices.models import NoticeDelivery, SellerNotice
from backend.officialaccount.models import OAFollower
from backend.onboarding import service as onboarding
from backend.onboarding.models import SellerApplication
from backend.pagination import page_of
from backend.platforms import service as platforms
from backend.platforms.models import PlatformOrder, Shop
from backend.schemas import number_in
from backend.sellers import queries as licence_queries
from backend.sellers import service as sellers
from backend.sellers.models import ACTIVE, EXPIRED, SUSPENDED, BrandLicence, Seller, SellerToken
from backend.settlement import service as settlement

SEARCH_LONGEST = 40  # characters of the search box that count; the rest is ignored
NONE = "NONE"  # a seller who never held a licence
LICENCE_STATES = {
    ACTIVE: "授权有效",
    licence_queries.EXPIRING: f"{licence_queries.EXPIRING_DAYS} 天内到期",
    EXPIRED: "授权已过期",
    SUSPENDED: "授权已暂停",
    NONE: "无授权",
}
BOUND, UNREACHABLE, UNBOUND = "BOUND", "UNREACHABLE", "UNBOUND"
WECHAT_STATES = {
    BOUND: "已绑定公众号",
    UNREACHABLE: "已绑定但收不到（取关或拒收）",
    UNBOUND: "未绑定公众号",
}
RECENT = 10  # orders and notices shown on a seller's page


@dataclass(frozen=True)
class SellerFilter:
    text: str = ""  # name, contact, phone, town, cooperative or licence number; "#12" is an id
    town: str | None = None
    cooperative: str | None = None
    licence: str | None = None  # a key of LICENCE_STATES
    platform: str | None = None  # a key of platforms.PLATFORM_NAMES
    wechat: str | None = None  # a key of WECHAT_STATES


@dataclass
class SellerRow:
    seller: Seller
    licence: str  # a key of LICENCE_STATES
    days_left: int | None  # of the current licence
    platforms: list[str] = field(default_factory=list)
    wechat: str = UNBOUND


def choices(session: Session) -> dict[str, list[str]]:
    """The towns and cooperatives sellers are in, for the directory's value lists."""
    towns = session.scalars(select(Seller.town).where(Seller.town != "").distinct())
    cooperatives = session.scalars(
        select(Seller.cooperative).where(Seller.cooperative != "").distinct()
    )
    return {"towns": sorted(towns), "cooperatives": sorted(cooperatives)}


def _licence_condition(state: str, day: date):
    current = exists().where(
        BrandLicence.seller_id == Seller.id, licence_queries.licence_state_filter(ACTIVE, day)
    )
    if state == NONE:
        return not_(exists().where(BrandLicence.seller_id == Seller.id))
    if state in (ACTIVE, licence_queries.EXPIRING):
        return exists().where(
            BrandLicence.seller_id == Seller.id, licence_queries.licence_state_filter(state, day)
        )
    held = exists().where(
        BrandLicence.seller_id == Seller.id, licence_queries.licence_state_filter(state, day)
    )
    return and_(held, not_(current))  # EXPIRED or SUSPENDED, with no licence in force


def _wechat_condition(state: str):
    bound = OAFollower.seller_id == Seller.id
    reachable = and_(OAFollower.following.is_(True), OAFollower.templates_blocked.is_(False))
    if state == BOUND:
        return exists().where(bound, reachable)
    if state == UNREACHABLE:
        return exists().where(bound, not_(reachable))
    return not_(exists().where(bound))


def _text_condition(text: str):
    seller_id = number_in(text[1:]) if text.startswith("#") else None
    if seller_id is not None:
        return Seller.id == seller_id
    like = [
        column.contains(text, autoescape=True)
        for column in (Seller.name, Seller.contact_name, Seller.phone, Seller.cooperative)
    ]
    licence = exists().where(
        BrandLicence.seller_id == Seller.id, BrandLicence.number.contains(text, autoescape=True)
    )
    return or_(*like, Seller.town == text, licence)


def search(
    session: Session, wanted: SellerFilter, *, page: int, page_size: int
) -> tuple[list[SellerRow], int]:
    """A page of sellers matching every given criterion, by id, and how many match."""
    day = sellers.today()
    query = select(Seller)
    text = wanted.text.strip()[:SEARCH_LONGEST]
    if text:
        query = query.where(_text_condition(text))
    if wanted.town:
        query = query.where(Seller.town == wanted.town)
    if wanted.cooperative:
        query = query.where(Seller.cooperative == wanted.cooperative)
    if wanted.licence in LICENCE_STATES:
        query = query.where(_licence_condition(wanted.licence, day))
    if wanted.platform in platforms.PLATFORM_NAMES:
        query = query.where(
            exists().where(Shop.seller_id == Seller.id, Shop.platform == wanted.platform)
        )
    if wanted.wechat in WECHAT_STATES:
        query = query.where(_wechat_condition(wanted.wechat))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    found = list(session.scalars(page_of(query.order_by(Seller.id), page, page_size)))
    return _rows(session, found, day), total


def _licence_state(licences: list[BrandLicence], day: date) -> tuple[str, int | None]:
    """The seller's standing: a licence in force first, else suspended, else expired."""
    states = {licence.id: licence_queries.state_on(licence, day) for licence in licences}
    for wanted in (ACTIVE, SUSPENDED, EXPIRED):
        held = [licence for licence in licences if states[licence.id] == wanted]
        if held:
            latest = max(held, key=lambda licence: licence.valid_until)
            days_left = (latest.valid_until - day).days
            if wanted == ACTIVE and days_left <= licence_queries.EXPIRING_DAYS:
                return licence_queries.EXPIRING, days_left
            return wanted, days_left if wanted == ACTIVE else None
    return NONE, None


def _wechat_state(follower: OAFollower | None) -> str:
    if follower is None:
        return UNBOUND
    return BOUND if follower.reachable else UNREACHABLE


def _rows(session: Session, found: list[Seller], day: date) -> list[SellerRow]:
    ids = [seller.id for seller in found]
    licences: dict[int, list[BrandLicence]] = {seller_id: [] for seller_id in ids}
    for licence in session.scalars(select(BrandLicence).where(BrandLicence.seller_id.in_(ids))):
        licences[licence.seller_id].append(licence)
    shops: dict[int, set[str]] = {seller_id: set() for seller_id in ids}
    for seller_id, platform in session.execute(
        select(Shop.seller_id, Shop.platform).where(Shop.seller_id.in_(ids)).distinct()
    ):
        shops[seller_id].add(platform)
    followers = {
        follower.seller_id: follower
        for follower in session.scalars(select(OAFollower).where(OAFollower.seller_id.in_(ids)))
    }
    rows = []
    for seller in found:
        state, days_left = _licence_state(licences[seller.id], day)
        rows.append(
            SellerRow(
                seller=seller,
                licence=state,
                days_left=days_left,
                platforms=sorted(shops[seller.id], key=list(platforms.PLATFORM_NAMES).index),
                wechat=_wechat_state(followers.get(seller.id)),
            )
        )
    return rows


@dataclass(frozen=True)
class NoticeRow:
    notice: SellerNotice
    delivery: NoticeDelivery | None  # None: older than deliveries, never sent on WeChat


@dataclass(frozen=True)
class SellerProfile:
    seller: Seller
    licence: str
    days_left: int | None
    licences: list[tuple[BrandLicence, str]]  # each with its state today
    renewals: list
    application: SellerApplication | None
    shops: list[Shop]
    orders: list[PlatformOrder]
    order_count: int
    notices: list[NoticeRow]
    notice_count: int
    statements: list[dict]
    follower: OAFollower | None
    wechat: str
    tokens: list[SellerToken]


def profile(session: Session, seller_id: int) -> SellerProfile:
    """Everything staff see of one seller (NotFound for an unknown id)."""
    seller = sellers.get_seller(session, seller_id)
    day = sellers.today()
    licences = list(
        session.scalars(
            select(BrandLicence)
            .where(BrandLicence.seller_id == seller_id)
            .order_by(BrandLicence.id.desc())
        )
    )
    state, days_left = _licence_state(licences, day)
    orders, order_count = platforms.seller_orders(
        session, seller_id=seller_id, status=None, page=1, page_size=RECENT
    )
    follower = session.scalar(select(OAFollower).where(OAFollower.seller_id == seller_id))
    return SellerProfile(
        seller=seller,
        licence=state,
        days_left=days_left,
        licences=[(licence, licence_queries.state_on(licence, day)) for licence in licences],
        renewals=onboarding.seller_renewals(session, seller_id=seller_id)[:RECENT],
        application=session.scalar(
            select(SellerApplication).where(SellerApplication.seller_id == seller_id)
        ),
        shops=platforms.seller_shops(session, seller_id),
        orders=orders,
        order_count=order_count,
        notices=_notices(session, seller_id),
        notice_count=_notice_count(session, seller_id),
        statements=settlement.seller_statements(session, seller_id=seller_id)[:12],
        follower=follower,
        wechat=_wechat_state(follower),
        tokens=sellers.api_tokens(session, seller_id=seller_id),
    )


def _notice_count(session: Session, seller_id: int) -> int:
    mine = SellerNotice.seller_id == seller_id
    return session.scalar(select(func.count()).select_from(SellerNotice).where(mine)) or 0


def _notices(session: Session, seller_id: int) -> list[NoticeRow]:
    """The seller's latest notices, each with how WeChat delivery went (read only)."""
    notices = list(
        session.scalars(
            select(SellerNotice)
            .where(SellerNotice.seller_id == seller_id)
            .order_by(SellerNotice.id.desc())
            .limit(RECENT)
        )
    )
    deliveries = {
        delivery.notice_id: delivery
        for delivery in session.scalars(
            select(NoticeDelivery).where(
                NoticeDelivery.notice_id.in_([notice.id for notice in notices])
            )
        )
    }
    return [NoticeRow(notice, deliveries.get(notice.id)) for notice in notices]
