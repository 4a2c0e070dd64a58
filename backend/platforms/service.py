"""Orders from the sellers' shops on outside platforms (Douyin, Taobao/Tmall, JD, Pinduoduo,
Youzan): shops and their tokens, incremental pulls by update time, and what each order does to
the shared stock and to its seller.

A pull reads [cursor - overlap, now - lag] in windows no wider than the platform allows and
moves the shop's cursor only in the transaction that stores every order of the windows read up
to it, so a failure repeats a window and never skips one. Orders are upserted by (platform,
order id); the newer update time wins, so reading an order twice changes nothing."""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import ratelimit
from backend.audit import service as audit
from backend.catalogue.models import Sku
from backend.clients.platforms import client_for
from backend.clients.platforms.base import PLATFORMS, PlatformError, ShopAuth, newest_by_id
from backend.clients.platforms.base import PulledOrder as Pulled
from backend.errors import (
    BadRequest,
    Conflict,
    NotFound,
    RuleBroken,
    UpstreamUnavailable,
    get_or_404,
)
from backend.inventory import platform_sales
from backend.notices import service as notices
from backend.orders import lifecycle
from backend.pagination import page_of
from backend.platforms import carriers, vault
from backend.platforms.models import (
    ACTIVE,
    AUTH_BROKEN,
    STOCK_NONE,
    STOCK_RELEASED,
    STOCK_SHIPPED,
    STOCK_SHORT,
    STOCK_SOLD,
    STOCK_UNMAPPED,
    PlatformOrder,
    Shop,
    SkuMapping,
)
from backend.queue import enqueue
from backend.sellers import service as sellers
from backend.staff import service as staff
from backend.staff.models import Staff
from backend.timeutil import utcnow
from backend.transactions import on_commit

log = logging.getLogger(__name__)

PLATFORM_NAMES = {
    "douyin": "抖店",
    "taobao": "淘宝/天猫",
    "jd": "京东",
    "pdd": "拼多多",
    "youzan": "有赞",
}
SOLD_STATUSES = ("PAID", "SHIPPED", "COMPLETED", "REFUNDING")
GONE_STATUSES = ("SHIPPED", "COMPLETED")
UNDONE_STATUSES = ("CANCELLED", "REFUNDED")
# What a seller hears about (the notices issue pushes them over WeChat).
NOTICE_TITLES = {
    "PAID": "新订单",
    "REFUNDING": "买家申请退款",
    "REFUNDED": "订单已退款",
    "CANCELLED": "订单已取消",
}
REFRESH_BEFORE = timedelta(minutes=10)
MAX_WINDOWS_PER_RUN = 96
STORE_BATCH = 500  # orders read before they are stored; and stored in one go at most
WINDOW_RETRY_SECONDS = (0.2, 0.5, 1.0)  # a shop far behind catches up over several runs


# -- shops -----------------------------------------------------------------------------------
def register_shop(
    session: Session,
    *,
    seller_id: int,
    platform: str,
    shop_key: str,
    name: str,
    access_token: str,
    refresh_token: str | None,
    expires_at: datetime,
) -> Shop:
    """A seller's shop authorised our app. The same shop again is a re-authorisation (new
    tokens); a shop another seller registered is refused, and so is a token the platform does
    not take (nobody claims a shop with a made-up token)."""
    if platform not in PLATFORMS:
        raise BadRequest("不支持的平台", code="UNKNOWN_PLATFORM", details={"platforms": PLATFORMS})
    sellers.get_seller(session, seller_id)
    shop = session.scalar(select(Shop).where(Shop.platform == platform, Shop.shop_key == shop_key))
    if shop is not None and shop.seller_id != seller_id:
        raise Conflict("该店铺已由其他卖家登记", code="SHOP_ALREADY_REGISTERED")
    _check_token(platform, ShopAuth(shop_key, access_token, refresh_token))
    if shop is None:
        shop = Shop(seller_id=seller_id, platform=platform, shop_key=shop_key)
        session.add(shop)
    shop.name = name
    shop.access_token = vault.seal(access_token)
    shop.refresh_token = vault.seal(refresh_token)
    shop.token_expires_at = expires_at
    shop.status = ACTIVE
    shop.last_error = ""
    try:
        session.flush()
    except IntegrityError:  # registered concurrently
        session.rollback()
        raise Conflict("该店铺已登记", code="SHOP_ALREADY_REGISTERED") from None
    shop.next_pull_at = utcnow() + _spread(shop.id)
    session.commit()
    return shop


def _check_token(platform: str, auth: ShopAuth) -> None:
    """The platform takes the shop's token, or the registration is refused: 422 when the
    platform refuses it, 503 when the platform (or our app's own credentials) failed."""
    client = _client(platform)
    try:
        client.check_token(auth)
    except PlatformError as error:
        ours = error.code in client.credential_codes or error.code in client.timestamp_codes
        if error.retryable or ours:
            raise UpstreamUnavailable(
                f"{PLATFORM_NAMES[platform]}暂时无法验证店铺授权，请稍后再试",
                code="PLATFORM_UNAVAILABLE",
            ) from error
        raise RuleBroken(
            f"{PLATFORM_NAMES[platform]}不认可该店铺授权，请在平台上重新授权后再登记",
            code="SHOP_TOKEN_REJECTED",
            details={"platform_code": error.code, "platform_message": error.message[:200]},
        ) from error


def _spread(shop_id: int) -> timedelta:
    """Where in the pull interval this shop's pulls fall, so 3,000 shops do not all start at
    once."""
    interval = current_app.config["PLATFORM_PULL_MINUTES"] * 60
    return timedelta(seconds=zlib.crc32(str(shop_id).encode()) % interval)


def _client(platform: str):
    """The platform's client; each of its HTTP calls waits for the app's shared budget."""
    client = client_for(platform)
    rate = current_app.config["PLATFORM_CALLS_PER_SECOND"]
    client.before_call = lambda: ratelimit.take(f"platform:{platform}", rate)
    return client


def _auth(shop: Shop) -> ShopAuth:
    return ShopAuth(
        shop_key=shop.shop_key,
        access_token=vault.unseal(shop.access_token),
        refresh_token=vault.unseal(shop.refresh_token),
    )


class ShopUnauthorised(Exception):
    """The shop's authorisation broke; its seller has been told."""


def _refresh(session: Session, shop: Shop) -> ShopAuth:
    client = _client(shop.platform)
    try:
        grant = client.refresh_token(_auth(shop))
    except PlatformError as error:
        if error.kind not in ("auth", "auth_broken"):
            raise
        _mark_broken(session, shop, error)
        raise ShopUnauthorised(shop.id) from error
    shop.access_token = vault.seal(grant.access_token)
    if grant.refresh_token is not None:
        shop.refresh_token = vault.seal(grant.refresh_token)
    shop.token_expires_at = grant.expires_at
    session.commit()
    return _auth(shop)


def _mark_broken(session: Session, shop: Shop, error: PlatformError) -> None:
    shop.status = AUTH_BROKEN
    shop.last_error = f"{error.code} {error.message}"[:300]
    notices.notify(
        session,
        seller_id=shop.seller_id,
        kind="SHOP_AUTH_BROKEN",
        title=f"{PLATFORM_NAMES[shop.platform]}店铺授权已失效",
        body=f"店铺“{shop.name}”的授权已失效，订单无法同步，请重新授权。",
        dedupe_key=f"shop-auth-broken:{shop.id}:{shop.token_expires_at.isoformat()}",
        link=f"/seller/shops/{shop.id}",
        shop_id=shop.id,
    )
    session.commit()


# -- pulls -----------------------------------------------------------------------------------
@dataclass
class PullResult:
    shop_id: int
    windows: int = 0
    orders_read: int = 0
    changed: int = 0
    synced_through: datetime | None = None
    caught_up: bool = True
    outcomes: dict = field(default_factory=dict)


def pull_shop(session: Session, shop_id: int) -> PullResult:
    """Read the shop's orders updated since its cursor, window by window (the caller holds the
    shop's lock). PlatformError for failures worth retrying; ShopUnauthorised when the shop
    must be authorised again."""
    shop = get_or_404(session, Shop, shop_id, "店铺不存在", code="SHOP_NOT_FOUND")
    result = PullResult(shop_id=shop_id)
    if shop.status != ACTIVE:
        return result
    config = current_app.config
    client = _client(shop.platform)
    auth = _auth(shop)
    if shop.token_expires_at - utcnow() < REFRESH_BEFORE:
        auth = _refresh(session, shop)
    end_limit = utcnow() - timedelta(seconds=config["PLATFORM_PULL_LAG_SECONDS"])
    if shop.synced_through is None:
        start = end_limit - timedelta(hours=config["PLATFORM_FIRST_PULL_HOURS"])
    else:
        start = shop.synced_through - timedelta(seconds=config["PLATFORM_PULL_OVERLAP_SECONDS"])
    codes: dict[str, int] = {}  # SKU codes seen in this run
    pending: list[Pulled] = []  # read, not yet stored
    through = shop.synced_through
    while start < end_limit:
        if result.windows >= MAX_WINDOWS_PER_RUN:
            result.caught_up = False
            break
        end = min(start + client.max_window, end_limit)
        try:
            orders, auth = _fetch(session, shop, client, auth, start, end)
        except (PlatformError, ShopUnauthorised):
            _store(session, shop, pending, through, codes, result)  # what was read stays read
            raise
        pending += orders
        result.windows += 1
        result.orders_read += len(orders)
        start = through = end
        if len(pending) >= STORE_BATCH:
            _store(session, shop, pending, through, codes, result)
            pending = []
    _store(session, shop, pending, through, codes, result, finished=True)
    result.changed = sum(n for kind, n in result.outcomes.items() if kind in ("new", "updated"))
    return result


def _store(
    session: Session,
    shop: Shop,
    orders: list[Pulled],
    through: datetime | None,
    codes: dict[str, int],
    result: PullResult,
    *,
    finished: bool = False,
) -> None:
    """Store the orders read from windows up to `through` and move the cursor there, in one
    transaction: they stand or fall together. Windows are read first and stored together (a
    shop's quiet half-hour windows cost no transaction each), never with a transaction left
    open over a platform call: on SQLite it would hold the one writer's lock."""
    orders = newest_by_id(orders)
    codes.update(
        _sku_ids(
            session,
            shop.platform,
            [line.sku_code for p in orders for line in p.lines if line.sku_code not in codes],
        )
    )
    for first in range(0, len(orders), STORE_BATCH):
        outcomes = apply_orders(session, shop, orders[first : first + STORE_BATCH], codes)
        for outcome, n in outcomes.items():
            result.outcomes[outcome] = result.outcomes.get(outcome, 0) + n
    shop.synced_through = result.synced_through = through
    if finished:
        shop.last_error = ""
        shop.pulled_at = utcnow()
    session.commit()


def _fetch(session, shop, client, auth, start, end):
    """One window. An expired token is refreshed once; a transient failure is tried again a
    few times at once (the cursor has not moved, so nothing can be skipped) before the job
    gives up and rq retries it later."""
    refreshed, backoff = False, list(WINDOW_RETRY_SECONDS)
    while True:
        try:
            return client.fetch_window(auth, start, end), auth
        except PlatformError as error:
            if error.kind == "auth" and not refreshed:
                auth, refreshed = _refresh(session, shop), True
                continue
            if error.kind in ("auth", "auth_broken"):
                _mark_broken(session, shop, error)
                raise ShopUnauthorised(shop.id) from error
            if error.kind in ("transient", "rate_limited") and backoff:
                time.sleep(max(backoff.pop(0), min(error.retry_after or 0, 5)))
                continue
            shop.last_error = f"{error.kind}: {error.code} {error.message}"[:300]
            session.commit()
            raise


def pull_recent(
    session: Session, shop_id: int, wanted: list[tuple[str, datetime | None]]
) -> list[tuple[str, datetime | None]]:
    """A platform pushed that these orders of the shop changed (order id, when if it said):
    read the shop's last PLATFORM_PUSH_WINDOW_SECONDS up to now through the order API and apply
    what it says (the push's content is never taken as the order's state); the cursor stays
    where it is, the pulls still read everything. Answers the wanted orders the API does not
    show yet, or shows older than the push said, to read again later. PlatformError to retry;
    ShopUnauthorised when the shop must be authorised again. The caller holds the shop's lock."""
    shop = session.get(Shop, shop_id)
    if shop is None or shop.status != ACTIVE:
        return []
    client = _client(shop.platform)
    auth = _auth(shop)
    if shop.token_expires_at - utcnow() < REFRESH_BEFORE:
        auth = _refresh(session, shop)
    window = timedelta(seconds=current_app.config["PLATFORM_PUSH_WINDOW_SECONDS"])
    end = utcnow()
    start = end - min(window, client.max_window)
    orders, auth = _fetch(session, shop, client, auth, start, end)
    orders = newest_by_id(orders)
    codes = _sku_ids(session, shop.platform, [ln.sku_code for p in orders for ln in p.lines])
    apply_orders(session, shop, orders, codes)
    session.commit()
    stored = _stored(session, shop.platform, [order_id for order_id, _ in wanted])
    return [
        (order_id, at)
        for order_id, at in wanted
        if order_id not in stored or (at is not None and stored[order_id].platform_updated_at < at)
    ]


def due_shop_ids(session: Session, *, limit: int = 5000) -> list[int]:
    return list(
        session.scalars(
            select(Shop.id)
            .where(Shop.status == ACTIVE, Shop.next_pull_at <= utcnow())
            .order_by(Shop.next_pull_at)
            .limit(limit)
        )
    )


def schedule_next_pull(session: Session, shop_ids: list[int]) -> None:
    """The shops' next pull, one interval on (the caller enqueues this one)."""
    interval = timedelta(minutes=current_app.config["PLATFORM_PULL_MINUTES"])
    for shop in session.scalars(select(Shop).where(Shop.id.in_(shop_ids))):
        shop.next_pull_at = max(shop.next_pull_at + interval, utcnow() + interval / 2)
    session.commit()


# -- one order and its effects ---------------------------------------------------------------
def _stored(session: Session, platform: str, order_nos: list[str]) -> dict[str, PlatformOrder]:
    if not order_nos:
        return {}
    rows = session.scalars(
        select(PlatformOrder).where(
            PlatformOrder.platform == platform, PlatformOrder.order_no.in_(set(order_nos))
        )
    )
    return {row.order_no: row for row in rows}


def apply_orders(
    session: Session, shop: Shop, orders: list[Pulled], codes: dict[str, int] | None = None
) -> dict[str, int]:
    """Upsert what the platform says of these orders (one each) and apply the changes, in a
    few statements for all of them; answers how many were "new", "updated", "same" or "stale"
    (an older version than the one we have). `codes` may come preloaded."""
    stored = _stored(session, shop.platform, [pulled.order_id for pulled in orders])
    if codes is None:
        codes = _sku_ids(session, shop.platform, [ln.sku_code for p in orders for ln in p.lines])
    outcomes: dict[str, int] = {}
    changed: list[tuple[PlatformOrder, str | None]] = []
    new: list[PlatformOrder] = []
    for pulled in orders:
        row = stored.get(pulled.order_id)
        outcome = _compare(row, pulled)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcome == "new":
            row = PlatformOrder(
                platform=pulled.platform,
                order_no=pulled.order_id,
                shop_id=shop.id,
                seller_id=shop.seller_id,
                stock_state=STOCK_NONE,
                tracking_no=None,  # set on every new row: all take the same columns
            )
            _take(row, pulled, codes)
            new.append(row)
        elif outcome == "updated":
            old_status = row.status
            _take(row, pulled, codes)
            changed.append((row, old_status))
    if new:
        # One INSERT ... RETURNING for all of them (the ORM's flush inserts one row at a time
        # where, as on SQLite, RETURNING may come back in any order); NULLs rendered, so that
        # a row without paid_at does not start a statement of its own.
        values = [{k: v for k, v in vars(row).items() if not k.startswith("_")} for row in new]
        inserted = session.scalars(
            insert(PlatformOrder).returning(PlatformOrder).execution_options(render_nulls=True),
            values,
        )
        changed += [(row, None) for row in inserted]
    session.flush()  # an UPDATE per set of changed columns, each for every row at once
    _stock_effects(session, [row for row, _ in changed])
    _tell_sellers(
        session,
        [row for row, old in changed if row.status != old and row.status in NOTICE_TITLES],
    )
    return outcomes


def _compare(row: PlatformOrder | None, pulled: Pulled) -> str:
    if row is None:
        return "new"
    if pulled.updated_at < row.platform_updated_at:
        return "stale"
    if pulled.updated_at == row.platform_updated_at and pulled.status == row.status:
        return "same"
    return "updated"


def _take(row: PlatformOrder, pulled: Pulled, codes: dict[str, int]) -> None:
    """The row says what the platform says now."""
    lifecycle.follow_platform(row, pulled.status)
    row.platform_status = pulled.platform_status[:60]
    row.placed_at = pulled.created_at
    row.platform_updated_at = pulled.updated_at
    row.paid_at = pulled.paid_at
    row.total = pulled.total
    row.shipping_fee = pulled.shipping_fee
    row.receiver = pulled.receiver
    if pulled.tracking_no and not row.tracking_no:
        row.tracking_no = pulled.tracking_no
    row.lines = [
        {
            "sku_code": line.sku_code,
            "platform_sku_id": line.platform_sku_id,
            "title": line.title,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "sku_id": codes.get(line.sku_code),
        }
        for line in pulled.lines
    ]


def _sku_ids(session: Session, platform: str, codes: list[str]) -> dict[str, int]:
    """Our SKU for each code: a staff mapping first, else the code is our own SKU code."""
    wanted = {code for code in codes if code}
    if not wanted:
        return {}
    found = dict(
        session.execute(
            select(SkuMapping.code, SkuMapping.sku_id).where(
                SkuMapping.platform == platform, SkuMapping.code.in_(wanted)
            )
        ).all()
    )
    missing = wanted - set(found)
    if missing:
        found.update(session.execute(select(Sku.code, Sku.id).where(Sku.code.in_(missing))).all())
    return found


def _stock_effects(session: Session, rows: list[PlatformOrder]) -> None:
    """Sell, ship or give back the orders' units as their statuses say (idempotent), in one
    pass over the lots for all of them."""
    sell: dict[int, dict[int, int]] = {}
    ship: set[int] = set()
    release: dict[int, str] = {}
    own_stock = _self_fulfilled(session, {row.shop_id for row in rows})
    for row in rows:
        if row.shop_id in own_stock:
            continue  # the seller ships from their own stock: no lot of ours moves
        if row.status in SOLD_STATUSES and row.stock_state in (
            STOCK_NONE,
            STOCK_UNMAPPED,
            STOCK_SHORT,
        ):
            lines = _lines_to_sell(session, row)
            if lines is not None:
                sell[row.id] = lines
        if row.status in GONE_STATUSES and (row.stock_state == STOCK_SOLD or row.id in sell):
            ship.add(row.id)
        if row.status in UNDONE_STATUSES:
            if row.stock_state == STOCK_SOLD:
                release[row.id] = f"{PLATFORM_NAMES[row.platform]}订单取消/退款"
                row.stock_state = STOCK_RELEASED
            elif row.stock_state in (STOCK_UNMAPPED, STOCK_SHORT):
                row.stock_state = STOCK_NONE  # nothing was taken; nothing for staff to do now
    if not (sell or ship or release):
        return
    short = platform_sales.settle(session, sell=sell, ship=ship, release=release)
    for row in rows:
        if row.id in short:
            _short(session, row, short[row.id])
        elif row.id in sell:
            row.stock_state = STOCK_SOLD
        if row.id in ship and row.stock_state == STOCK_SOLD:
            row.stock_state = STOCK_SHIPPED


def _self_fulfilled(session: Session, shop_ids: set[int]) -> set[int]:
    if not shop_ids:
        return set()
    return set(
        session.scalars(select(Shop.id).where(Shop.id.in_(shop_ids), Shop.self_fulfilled.is_(True)))
    )


def set_self_fulfilled(session: Session, *, shop_id: int, self_fulfilled: bool) -> Shop:
    """Mark a shop as shipping from the seller's own stock (its new orders take no alliance
    lots and stay off the warehouse's desk), or as fulfilled by the alliance again."""
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise NotFound("店铺不存在", code="SHOP_NOT_FOUND")
    shop.self_fulfilled = self_fulfilled
    session.commit()
    return shop


def _lines_to_sell(session: Session, row: PlatformOrder) -> dict[int, int] | None:
    """{sku_id: quantity} of the order, or None (staff told) while a SKU code is unmapped."""
    unmapped = [line["sku_code"] for line in row.lines if line["sku_id"] is None]
    if unmapped:
        if row.stock_state != STOCK_UNMAPPED:
            row.stock_state = STOCK_UNMAPPED
            staff.raise_alert(
                session,
                kind="PLATFORM_SKU_UNMAPPED",
                title=f"{PLATFORM_NAMES[row.platform]}订单的商品编码无法对应联盟商品，请映射",
                platform_order_id=row.id,
                order_no=row.order_no,
                codes=unmapped,
            )
        return None
    lines: dict[int, int] = {}
    for line in row.lines:
        lines[line["sku_id"]] = lines.get(line["sku_id"], 0) + line["quantity"]
    return lines


def _short(session: Session, row: PlatformOrder, details: dict) -> None:
    """Too little stock for an order the platform already took: it took nothing; staff act."""
    if row.stock_state != STOCK_SHORT:
        row.stock_state = STOCK_SHORT
        staff.raise_alert(
            session,
            kind="PLATFORM_ORDER_SHORT",
            title=f"{PLATFORM_NAMES[row.platform]}订单库存不足，请人工处理",
            platform_order_id=row.id,
            order_no=row.order_no,
            **details,
        )


def _tell_sellers(session: Session, rows: list[PlatformOrder]) -> None:
    notices.notify_many(
        session,
        [
            notices.Notice(
                seller_id=row.seller_id,
                kind=f"PLATFORM_ORDER_{row.status}",
                title=f"{PLATFORM_NAMES[row.platform]}{NOTICE_TITLES[row.status]}",
                # the amount first: WeChat shows 20 characters of it, and 19-digit order
                # numbers used to push the amount out of them
                body=f"金额 {row.total / 100:.2f} 元，订单 {row.order_no}",
                dedupe_key=f"platform-order:{row.platform}:{row.order_no}:{row.status}",
                link=f"/seller/orders/{row.id}",
                data={"platform_order_id": row.id},
            )
            for row in rows
        ],
    )


# -- staff: SKU mappings and orders waiting ------------------------------------------------
def map_sku(session: Session, *, platform: str, code: str, sku_id: int, staff_id: int) -> dict:
    """Map a seller's SKU code to ours; orders waiting on it take their stock now."""
    if platform not in PLATFORMS:
        raise BadRequest("不支持的平台", code="UNKNOWN_PLATFORM")
    sku = session.get(Sku, sku_id)
    if sku is None:
        raise NotFound("商品不存在", code="SKU_NOT_FOUND")
    mapping = session.scalar(
        select(SkuMapping).where(SkuMapping.platform == platform, SkuMapping.code == code)
    )
    before = session.get(Sku, mapping.sku_id).code if mapping is not None else None
    audit.record(
        session,
        staff=session.get(Staff, staff_id) if staff_id else None,
        action="platform.sku_map",
        target_type="platform_sku",
        target_id=f"{platform}:{code}"[:40],
        summary=f"{PLATFORM_NAMES[platform]}商品编码 {code} 对应联盟规格 {sku.code}",
        before={"sku": before} if before else None,
        after={"sku": sku.code},
    )
    if mapping is None:
        session.add(SkuMapping(platform=platform, code=code, sku_id=sku_id, created_by=staff_id))
    else:
        mapping.sku_id = sku_id
    session.flush()
    waiting = session.scalars(
        select(PlatformOrder).where(
            PlatformOrder.platform == platform, PlatformOrder.stock_state == STOCK_UNMAPPED
        )
    )
    mapped = [row for row in waiting if any(line["sku_code"] == code for line in row.lines)]
    for row in mapped:
        row.lines = [
            {**line, "sku_id": sku_id if line["sku_code"] == code else line["sku_id"]}
            for line in row.lines
        ]
    _stock_effects(session, mapped)
    settled = sum(row.stock_state != STOCK_UNMAPPED for row in mapped)
    session.commit()
    return {"platform": platform, "code": code, "sku_id": sku_id, "orders_settled": settled}


def retry_stock(session: Session, *, platform_order_id: int) -> PlatformOrder:
    """Staff restocked: an order that was short takes its units now (or stays short)."""
    row = get_or_404(
        session, PlatformOrder, platform_order_id, "平台订单不存在", code="PLATFORM_ORDER_NOT_FOUND"
    )
    _stock_effects(session, [row])
    session.commit()
    return row


# -- the seller's view -----------------------------------------------------------------------
def seller_shops(session: Session, seller_id: int) -> list[Shop]:
    return list(session.scalars(select(Shop).where(Shop.seller_id == seller_id).order_by(Shop.id)))


def seller_orders(
    session: Session, *, seller_id: int, status: str | None, page: int, page_size: int
) -> tuple[list[PlatformOrder], int]:
    """A seller's platform orders, newest update first."""
    where = [PlatformOrder.seller_id == seller_id]
    if status:
        where.append(PlatformOrder.status == status)
    total = session.scalar(select(func.count()).select_from(PlatformOrder).where(*where))
    rows = session.scalars(
        page_of(
            select(PlatformOrder)
            .where(*where)
            .order_by(PlatformOrder.platform_updated_at.desc(), PlatformOrder.id.desc()),
            page,
            page_size,
        )
    )
    return list(rows), total


def seller_order(session: Session, *, seller_id: int, platform_order_id: int) -> PlatformOrder:
    row = session.get(PlatformOrder, platform_order_id)
    if row is None or row.seller_id != seller_id:
        raise NotFound("订单不存在", code="PLATFORM_ORDER_NOT_FOUND")
    return row


# -- the seller ships ------------------------------------------------------------------------
def ship(
    session: Session, *, seller_id: int, platform_order_id: int, carrier: str, tracking_no: str
) -> PlatformOrder:
    """The seller sent the parcel: the units leave the lots and the tracking number is written
    back to the platform (queued, retried)."""
    row = seller_order(session, seller_id=seller_id, platform_order_id=platform_order_id)
    if carrier not in carriers.CARRIERS:
        raise BadRequest(
            "不支持的快递公司",
            code="UNKNOWN_CARRIER",
            details={"carriers": list(carriers.CARRIERS)},
        )
    if row.status != "PAID" or row.tracking_no:
        raise RuleBroken(
            "该订单不是待发货状态", code="ORDER_NOT_SHIPPABLE", details={"status": row.status}
        )
    record_shipment(session, row, carrier=carrier, tracking_no=tracking_no)
    session.commit()
    return row


def record_shipment(
    session: Session, row: PlatformOrder, *, carrier: str, tracking_no: str
) -> None:
    """The parcel left (the seller's, or the alliance warehouse's): its units leave the lots and
    the tracking number is written back to the platform after the caller's commit (queued,
    retried)."""
    row.carrier, row.tracking_no = carrier, tracking_no
    if row.stock_state == STOCK_SOLD:
        platform_sales.settle(session, ship=[row.id])
        row.stock_state = STOCK_SHIPPED
    order_id = row.id
    on_commit(session, lambda: enqueue("jobs.platforms.write_back_shipment", order_id))


def receiver_for_waybill(session: Session, platform_order_id: int) -> dict | None:
    """The receiver of a platform order in plain text, decrypted by its platform for printing a
    waybill (never stored); None when the platform offers us no decryption."""
    row = session.get(PlatformOrder, platform_order_id)
    shop = session.get(Shop, row.shop_id)
    client = _client(shop.platform)
    try:
        return client.decrypt_receiver(_auth(shop), row.order_no, row.receiver or {})
    except PlatformError as error:
        if error.kind != "auth":
            raise
        return client.decrypt_receiver(_refresh(session, shop), row.order_no, row.receiver or {})


def write_back_shipment(session: Session, platform_order_id: int) -> bool:
    """Tell the platform the parcel's tracking number (once); PlatformError to retry."""
    row = session.get(PlatformOrder, platform_order_id)
    if row is None or row.shipped_back_at is not None or not row.tracking_no:
        return False
    shop = session.get(Shop, row.shop_id)
    client = _client(shop.platform)
    auth = _auth(shop)
    for attempt in range(2):
        try:
            company = carriers.platform_code(row.carrier, shop.platform)
            client.ship(auth, row.order_no, company=company, tracking_no=row.tracking_no)
            break
        except PlatformError as error:
            if error.kind == "auth" and attempt == 0:
                auth = _refresh(session, shop)
                continue
            raise
    row.shipped_back_at = utcnow()
    if row.status == "PAID":  # the platform took it: shipped now, not at the next pull
        lifecycle.follow_platform(row, "SHIPPED")
    session.commit()
    return True
