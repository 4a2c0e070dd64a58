"""The demo year's seller shops on the five platforms and their orders: shops the warehouse
fulfils take the alliance's lots and get parcels; self-fulfilled shops ship from their own
stock with their own couriers."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.demo_history import shape
from backend.demo_history.context import Context
from backend.demo_history.fulfil import (
    Waves,
    take_units,
    tracking_number,
    write_holds,
    write_parcel,
)
from backend.demo_history.plans import DAY, Buyers, Planned, life
from backend.demo_history.stock import Stock
from backend.demo_history.writer import Writer
from backend.platforms.models import (
    DISABLED,
    STOCK_NONE,
    STOCK_RELEASED,
    STOCK_SHIPPED,
    STOCK_SOLD,
    PlatformOrder,
    Shop,
)

PLATFORM_NAMES = {
    "douyin": "抖店",
    "taobao": "淘宝",
    "pdd": "拼多多",
    "jd": "京东",
    "youzan": "有赞",
}


@dataclass(frozen=True)
class ShopInfo:
    id: int
    seller_id: int
    platform: str
    self_fulfilled: bool


def write_shops(writer: Writer, ctx: Context, rng: random.Random, start: datetime) -> dict:
    """One shop for every eighth seller, on a platform by the platforms' shares. They are
    disabled: the demo year's orders are history, not something to pull from a platform."""
    shops: dict[str, list[ShopInfo]] = {platform: [] for platform, _ in shape.PLATFORM_SHARES}
    platforms = [platform for platform, _ in shape.PLATFORM_SHARES]
    weights = [share for _, share in shape.PLATFORM_SHARES]
    for seller_id, name, _town, _tags in ctx.sellers[::8]:
        platform = rng.choices(platforms, weights)[0]
        self_fulfilled = rng.random() < 0.3
        shop_id = writer.add(
            Shop,
            {
                "seller_id": seller_id,
                "platform": platform,
                "shop_key": f"hist-{platform}-{seller_id}",
                "name": f"{name}·{PLATFORM_NAMES[platform]}"[:80],
                "access_token": "",
                "refresh_token": None,
                "token_expires_at": start,
                "status": DISABLED,
                "self_fulfilled": self_fulfilled,
                "synced_through": None,
                "next_pull_at": start,
                "pulled_at": None,
                "last_error": "演示历史数据，不拉取订单",
                "created_at": start,
                "updated_at": start,
            },
        )
        shops[platform].append(ShopInfo(shop_id, seller_id, platform, self_fulfilled))
    return {platform: rows for platform, rows in shops.items() if rows}


def pick_shop(rng: random.Random, shops: dict) -> ShopInfo:
    platforms = list(shops)
    weights = [dict(shape.PLATFORM_SHARES)[platform] for platform in platforms]
    return rng.choice(shops[rng.choices(platforms, weights)[0]])


def write_platform_order(
    ctx: Context,
    stock: Stock,
    waves: Waves,
    buyers: Buyers,
    rng: random.Random,
    planned: Planned,
    end: datetime,
) -> bool:
    """A platform order as its platform last told us, with its stock and parcel when the
    warehouse fulfils the shop; False when it was too recent to be written."""
    writer, shop = stock.writer, planned.shop
    place = rng.choices(range(len(shape.PLACES)), shape.PLACE_WEIGHTS)[0]
    couriers = shape.STORE_COURIERS
    if shop.self_fulfilled:
        couriers = [(rng.choice(shape.SELLER_COURIERS), 1.0, rng.choice((0, 0, 1)), 1.0)]
    story = life(
        rng,
        planned.created,
        end,
        unpaid=0.06,
        refund=0.02,
        place_days=shape.PLACES[place][5],
        couriers=couriers,
    )
    if story is None:
        return False
    created = planned.created
    if story.cancelled:
        status = "CANCELLED"
    elif story.refunded:
        status = "REFUNDED"
    elif story.delivered and story.delivered + 3 * DAY <= end:
        status = "COMPLETED"  # the platform closes the trade a few days after delivery
    elif story.shipped:
        status = "SHIPPED"
    else:
        status = "PAID"
    warehouse = not shop.self_fulfilled and story.paid is not None
    if not warehouse:
        stock_state = STOCK_NONE
    elif story.refunded:
        stock_state = STOCK_RELEASED
    elif story.shipped:
        stock_state = STOCK_SHIPPED
    else:
        stock_state = STOCK_SOLD
    goods = sum(line.quantity * line.unit_price for line in planned.lines)
    name = shape.name(rng)
    phone = f"1{rng.randint(3, 9)}{rng.randint(0, 10**9 - 1):09d}"
    order_id = writer.next_ids["platform_orders"]
    taken = take_units(stock, story, planned.lines, story.paid, end) if warehouse else []
    tracking = tracking_number(writer, story) if warehouse else None
    if story.shipped and not warehouse:
        tracking = f"{shape.TRACKING_PREFIX[story.courier]}S{order_id:011d}"
    changed = [created, story.paid, story.cancelled, story.refunded, story.shipped]
    writer.add(
        PlatformOrder,
        {
            "platform": shop.platform,
            "order_no": f"{shop.platform[:2].upper()}{order_id:014d}",
            "shop_id": shop.id,
            "seller_id": shop.seller_id,
            "status": status,
            "platform_status": shape.PLATFORM_STATUS[status],
            "placed_at": created,
            "platform_updated_at": max(t for t in changed if t),
            "paid_at": story.paid,
            "total": goods,
            "shipping_fee": 0,
            "lines": [
                {
                    "sku_code": line.sku.code,
                    "platform_sku_id": f"{shop.platform}-{line.sku.id}",
                    "title": line.sku.title,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "sku_id": line.sku.id,
                }
                for line in planned.lines
            ],
            "receiver": {
                "name": name[0] + "**",
                "phone": f"{phone[:3]}****{phone[-4:]}",
                "address": f"{shape.PLACES[place][0]} {shape.PLACES[place][1]} ****",
            },
            "stock_state": stock_state,
            "carrier": story.courier if story.shipped else None,
            "tracking_no": tracking,
            "shipped_back_at": story.shipped + timedelta(minutes=5)
            if story.shipped and warehouse
            else None,
            "created_at": created + timedelta(minutes=3),
            "updated_at": max(t for t in changed if t),
        },
    )
    if warehouse:
        write_holds(stock, story, taken, story.paid, platform_order_id=order_id)
        write_parcel(
            writer,
            waves,
            rng,
            end,
            platform_order_id=order_id,
            channel=shop.platform.upper(),
            number=f"{shop.platform[:2].upper()}{order_id:014d}",
            seller_id=shop.seller_id,
            life=story,
            lines=planned.lines,
            receiver=(name[0] + "**", phone, place),
            staff_id=ctx.staff_id,
        )
    return True


def line_price(rng: random.Random, price: int) -> int:
    """A seller's own price around the store's, to the jiao."""
    return int(price * rng.uniform(0.88, 1.05)) // 10 * 10
