"""The reports staff read (each over a date range, with a chart and a CSV) and the console's
home figures. Read-only: nothing here changes anything."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.aftersales.models import PENDING as AFTERSALE_PENDING
from backend.aftersales.models import AfterSale
from backend.errors import NotFound
from backend.fulfilment.models import PACKED, WAITING, Parcel
from backend.inventory.models import SELLABLE, Lot
from backend.live.models import LiveRoom
from backend.queue import redis_client
from backend.reports import operations, sales
from backend.reports.period import Period, today
from backend.reports.shape import Report
from backend.timeutil import utcnow

HOME_KEY = "heli:console:home"
HOME_FRESH_SECONDS = 10
SALES_DAYS = 30

REPORTS: dict[str, tuple[str, Callable[[Session, Period], Report]]] = {
    "sales": ("销售：按日与渠道", sales.sales_by_day),
    "products": ("销售：按商品与等级", sales.sales_by_product),
    "stock": ("库存：按等级、保质期与流水", operations.stock),
    "shows": ("直播场次对比", operations.shows),
    "doa": ("死货率：按批次、快递与日期", operations.dead_on_arrival),
    "sellers": ("卖家排行", sales.seller_ranking),
    "scans": ("防伪查询与预警：按地区", operations.scans),
    "broadcasts": ("联盟广播：触达与送达", operations.broadcasts),
}


def run(session: Session, name: str, period: Period) -> Report:
    """The named report over the period; NotFound for a name that is none."""
    found = REPORTS.get(name)
    if found is None:
        raise NotFound("报表不存在", code="REPORT_NOT_FOUND")
    return found[1](session, period)


def home(session: Session) -> dict:
    """The home page's figures, at most HOME_FRESH_SECONDS old: every member of staff opening
    the console shares one computation (on a year of orders it costs a few hundred ms)."""
    redis = redis_client()
    kept = redis.get(HOME_KEY)
    if kept is not None:
        return json.loads(kept)
    figures = _home(session)
    redis.set(HOME_KEY, json.dumps(figures, ensure_ascii=False), ex=HOME_FRESH_SECONDS)
    return figures


def _home(session: Session) -> dict:
    """What the console's home page shows first: today's sales by channel, the warehouse's
    work waiting, after-sales waiting, lots expiring within 24 hours, today's shows and the
    sales of the last SALES_DAYS days by channel (a chart)."""
    now, day = utcnow(), today()
    period = Period(day, day)
    totals = sales.channel_totals(session, period).get(day.isoformat(), {})
    waiting = dict(
        session.execute(
            select(Parcel.status, func.count())
            .where(Parcel.status.in_((WAITING, PACKED)))
            .group_by(Parcel.status)
        ).all()
    )
    return {
        "sales_fen": sum(figures["gmv_fen"] for figures in totals.values()),
        "orders": sum(figures["orders"] for figures in totals.values()),
        "by_channel": [
            {"channel": label, **totals.get(key, {"orders": 0, "gmv_fen": 0})}
            for key, label in sales.CHANNELS.items()
        ],
        "to_pack": waiting.get(WAITING, 0),
        "to_ship": waiting.get(PACKED, 0),
        "aftersales_waiting": session.scalar(
            select(func.count()).select_from(AfterSale).where(AfterSale.status == AFTERSALE_PENDING)
        ),
        "expiring_lots": session.scalar(
            select(func.count())
            .select_from(Lot)
            .where(
                Lot.status == SELLABLE,
                Lot.on_hand > 0,
                Lot.use_by <= now + timedelta(hours=24),
            )
        ),
        "shows_today": [
            {"id": room_id, "name": name, "anchor": anchor}
            for room_id, name, anchor in session.execute(
                select(LiveRoom.id, LiveRoom.name, LiveRoom.anchor_name)
                .where(LiveRoom.starts_at >= period.since, LiveRoom.starts_at < period.until)
                .order_by(LiveRoom.starts_at)
            )
        ],
        "trend": asdict(
            sales.sales_by_day(session, Period(day - timedelta(days=SALES_DAYS - 1), day))
            .sections[0]
            .chart
        ),
    }
