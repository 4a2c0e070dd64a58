"""The reports staff read (each over a date range, with a chart and a CSV) and the console's
home figures. Read-only: nothing here changes anything."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.aftersales.models import PENDING as AFTERSALE_PENDING
from backend.aftersales.models import AfterSale
from backend.errors import NotFound
from backend.fulfilment.models import PACKED, WAITING, Parcel
from backend.inventory.models import SELLABLE, Lot
from backend.live.models import LiveRoom
from backend.reports import operations, sales
from backend.reports.period import Period, today
from backend.reports.shape import Report
from backend.timeutil import utcnow

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
    """What the console's home page shows first: today's sales by channel, the warehouse's
    work waiting, after-sales waiting, lots expiring within 24 hours and today's shows."""
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
        "shows_today": list(
            session.execute(
                select(
                    LiveRoom.id,
                    LiveRoom.name,
                    LiveRoom.anchor_name,
                    LiveRoom.starts_at,
                    LiveRoom.live_status,
                )
                .where(LiveRoom.starts_at >= period.since, LiveRoom.starts_at < period.until)
                .order_by(LiveRoom.starts_at)
            ).all()
        ),
    }
