"""A year of the demo alliance's business for the dashboard and reports to show (`flask seed-demo
--history`): orders from the mini-program, the live room and the sellers' platform shops with
their payments, stock holds and parcels; a batch a day packed into lots, every unit in the stock
ledger; live shows with their summaries; dead-on-arrival claims; trace-code scans; broadcasts.

Shaped like the business: oysters sell in winter and before the festivals, weekends more than
weekdays, the alliance grows over the year; one courier and a few batches go wrong more often.
The same seed and end give the same rows. Written with SQLAlchemy Core in chunks, in one
transaction; a second run finds the history there and writes nothing."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from itertools import accumulate

from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from backend.batches.models import Batch
from backend.demo_history import shape
from backend.demo_history.context import Context
from backend.demo_history.fulfil import Waves
from backend.demo_history.orders import write_store_order
from backend.demo_history.plans import Buyers, Line, Planned
from backend.demo_history.platform import (
    line_price,
    pick_shop,
    write_platform_order,
    write_shops,
)
from backend.demo_history.rooms import Room, count_order, plan_room, write_room, write_summary
from backend.demo_history.side import Trace, broadcast_day, write_followers
from backend.demo_history.stock import BAD_BATCHES_PER_YEAR, Stock
from backend.demo_history.writer import Writer
from backend.errors import RuleBroken
from backend.fulfilment.models import LIVE, MINIPROGRAM
from backend.officialaccount.models import OAFollower
from backend.timeutil import SHANGHAI, to_naive_utc

DEFAULT_ORDERS_PER_DAY = 80  # ~29,000 orders a year: `make run` stays quick
# A year at this pace has 330,000 store orders, 180,000 platform orders and 2.07 million
# stock-ledger rows: the size the reports are measured on (issue 19).
BENCH_ORDERS_PER_DAY = 1400
MARKER = "HIST-%"  # the demo year's batches are named HIST-yyyymmdd


def loaded(session: Session) -> bool:
    """Whether a demo year is already in the database."""
    return session.scalar(select(Batch.id).where(Batch.code.like(MARKER)).limit(1)) is not None


def today_start() -> datetime:
    """Midnight today in Shanghai, as stored (UTC): where the demo year ends by default."""
    local = datetime.now(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    return to_naive_utc(local)


def seed_history(
    session: Session,
    *,
    days: int = 365,
    orders_per_day: int = DEFAULT_ORDERS_PER_DAY,
    seed: int = 19,
    end: datetime | None = None,
) -> dict[str, int]:
    """Write `days` of history ending at `end` (UTC; default today's midnight in Shanghai),
    about orders_per_day orders a day on average across all channels; answers the rows written
    per table, or {} when a demo year is already there (nothing is written twice)."""
    if days < 1 or orders_per_day < 1:
        raise RuleBroken("天数和每日订单数必须为正整数", code="HISTORY_SIZE")
    if loaded(session):
        return {}
    end = end or today_start()
    ctx = Context.load(session, end, current_app.config["STORE_SELLER_NAME"])
    if ctx is None:
        raise RuleBroken("请先载入演示联盟（flask seed-demo）", code="DEMO_MISSING")
    rng = random.Random(seed)
    writer = Writer(session)
    stock = Stock(writer, ctx, rng)
    waves = Waves(writer, ctx.staff_id)
    buyers = Buyers(writer, rng)
    trace = Trace(writer, ctx, rng)
    last = end.replace(tzinfo=None)
    first_day = (last + timedelta(hours=8)).date() - timedelta(days=days)
    dates = [first_day + timedelta(days=i) for i in range(days)]
    start = shape.in_window(first_day, 0)
    shops = write_shops(writer, ctx, rng, start)
    bound = set(
        session.scalars(select(OAFollower.seller_id).where(OAFollower.seller_id.isnot(None)))
    )
    followers = write_followers(writer, ctx, rng, start, days, bound)
    factors = [shape.day_factor(day, i, days) for i, day in enumerate(dates)]
    scale = orders_per_day * days / sum(factors)
    bad_days = set(rng.sample(range(days), min(BAD_BATCHES_PER_YEAR, days)))
    shows = 0
    for i, day in enumerate(dates):
        packed_at = shape.in_window(day, 5)
        if packed_at >= end:
            break
        stock.expire(packed_at)
        count = max(1, round(factors[i] * scale * rng.uniform(0.9, 1.1)))
        room = None
        if shape.show_days(day) and shape.in_window(day, 21.5) <= end:
            shows += 1
            room = plan_room(ctx, rng, day, shows)
        planned = _plan(ctx, rng, day, count, room, shops, end)
        demand: dict[int, int] = {}
        for order in planned:
            if order.shop is None or not order.shop.self_fulfilled:
                for line in order.lines:
                    demand[line.sku.id] = demand.get(line.sku.id, 0) + line.quantity
        bad = i in bad_days or (shape.hot_day(day) and rng.random() < 0.08)
        first_lot = writer.next_ids["lots"]
        stock.pack(day, packed_at, demand, bad)
        if room is not None:
            write_room(writer, ctx, rng, room)
        for order in planned:
            if order.shop is not None:
                write_platform_order(ctx, stock, waves, buyers, rng, order, end)
                continue
            result = write_store_order(ctx, stock, waves, buyers, rng, order, end)
            if result and order.channel == LIVE:
                count_order(
                    room,
                    sharer=result["sharer"],
                    paid=result["paid"],
                    total=result["total"],
                    units=result["units"],
                )
        if room is not None:
            write_summary(writer, rng, room)
        live_lots = [
            (lot.id, packed_at, lot.use_by)
            for lot_id, lot in stock.lots.items()
            if lot_id >= first_lot and ctx.skus_by_id[lot.sku_id].form == "live"
        ]
        trace.day(live_lots, count, end)
        broadcast_day(writer, ctx, rng, day, shape.in_window(day, 10), followers, end)
    stock.finish(end)
    counts = writer.finish()
    session.commit()
    _settle(session)
    return counts


def _settle(session: Session) -> None:
    """Millions of rows arrived at once: the planner's statistics (and on PostgreSQL the
    visibility map, which index-only scans need) must see them, as autovacuum or the night's
    PRAGMA optimize would give a live database."""
    engine = session.get_bind()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    else:
        session.execute(text("ANALYZE"))
        session.commit()


def _plan(
    ctx: Context,
    rng: random.Random,
    day: date,
    count: int,
    room: Room | None,
    shops: dict,
    end: datetime,
) -> list[Planned]:
    """The day's orders (when, what, which channel), earliest first, none after the end."""
    skus = ctx.skus
    cum = list(accumulate(shape.sku_weights(day, [s.code for s in skus], [s.form for s in skus])))
    hours = list(accumulate(shape.HOUR_WEIGHTS))
    live = round(count * 0.3) if room is not None else 0
    platform = round(count * 0.35) if shops else 0
    orders: list[Planned] = []

    def when() -> datetime:
        hour = rng.choices(shape.HOURS, cum_weights=hours)[0]
        return shape.in_window(day, hour + rng.random())

    def lines(price) -> list[Line]:
        wanted = 1 + (rng.random() < 0.5) + (rng.random() < 0.2)
        chosen: list = []
        for _ in range(wanted * 3):
            sku = rng.choices(skus, cum_weights=cum)[0]
            if sku not in chosen:
                chosen.append(sku)
            if len(chosen) == wanted:
                break
        return [
            Line(sku, rng.choices((1, 2, 3), (0.67, 0.25, 0.08))[0], price(sku)) for sku in chosen
        ]

    for _ in range(count - live - platform):
        orders.append(Planned(MINIPROGRAM, when(), lines(lambda sku: sku.price)))
    for _ in range(live):
        sale = rng.choice(room.sales)
        quantity = rng.choices((1, 2), (0.75, 0.25))[0]
        sale.planned_units += quantity
        created = room.order_time(sale, rng)
        orders.append(Planned(LIVE, created, [Line(sale.sku, quantity, sale.price)], sale=sale))
    for _ in range(platform):
        shop = pick_shop(rng, shops)
        orders.append(
            Planned(shop.platform, when(), lines(lambda sku: line_price(rng, sku.price)), shop=shop)
        )
    orders.sort(key=lambda order: order.created)
    return [order for order in orders if order.created < end]
