"""Sales reports: by day and channel (mini-program, live, each platform), by product and grade,
and the sellers' ranking. A sale is an order paid within the range (by its payment time)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from backend.orders.models import CANCELLED, HARVEST, Order, OrderItem
from backend.platforms.models import PlatformOrder
from backend.platforms.service import PLATFORM_NAMES
from backend.reports.period import Period, shanghai_day
from backend.reports.shape import Chart, Report, Section
from backend.sellers.models import Seller

MINI, LIVE = "mini", "live"
CHANNELS = {MINI: "小程序", LIVE: "直播", **PLATFORM_NAMES}
TOP_SELLERS = 50


def _own_paid(period: Period):
    """Orders sold in the period; an adoption's harvest parcels ship what its adoption sold."""
    return (
        Order.paid_at >= period.since,
        Order.paid_at < period.until,
        Order.status != CANCELLED,
        Order.kind != HARVEST,
    )


def _platform_paid(period: Period):
    return (
        PlatformOrder.paid_at >= period.since,
        PlatformOrder.paid_at < period.until,
        PlatformOrder.status != "CANCELLED",
    )


def channel_totals(session: Session, period: Period) -> dict[str, dict[str, dict[str, int]]]:
    """{day: {channel: {"orders", "gmv_fen", "refunded_fen"}}} over the range."""
    found: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    own_day = shanghai_day(session, Order.paid_at)
    channel = case((Order.live_room_id.is_(None), MINI), else_=LIVE)
    rows = session.execute(
        select(
            own_day, channel, func.count(), func.sum(Order.total), func.sum(Order.refunded_total)
        )
        .where(*_own_paid(period))
        .group_by(own_day, channel)
    )
    for day, kind, orders, gmv, refunded in rows:
        found[str(day)][kind] = {
            "orders": orders,
            "gmv_fen": int(gmv or 0),
            "refunded_fen": int(refunded or 0),
        }
    platform_day = shanghai_day(session, PlatformOrder.paid_at)
    rows = session.execute(
        select(platform_day, PlatformOrder.platform, func.count(), func.sum(PlatformOrder.total))
        .where(*_platform_paid(period))
        .group_by(platform_day, PlatformOrder.platform)
    )
    for day, platform, orders, gmv in rows:
        found[str(day)][platform] = {"orders": orders, "gmv_fen": int(gmv or 0), "refunded_fen": 0}
    return found


def sales_by_day(session: Session, period: Period) -> Report:
    totals = channel_totals(session, period)
    days = [day.isoformat() for day in period.days()]
    rows, by_channel = [], {key: [] for key in CHANNELS}
    for day in days:
        row = {"day": day, "orders": 0, "gmv_fen": 0, "refunded_fen": 0}
        for key in CHANNELS:
            figures = totals.get(day, {}).get(key, {})
            row[f"{key}_fen"] = figures.get("gmv_fen", 0)
            by_channel[key].append(figures.get("gmv_fen", 0))
            for name in ("orders", "gmv_fen", "refunded_fen"):
                row[name] += figures.get(name, 0)
        rows.append(row)
    columns = [("day", "日期"), ("orders", "订单数"), ("gmv_fen", "成交额（元）")]
    columns += [(f"{key}_fen", f"{label}（元）") for key, label in CHANNELS.items()]
    columns += [("refunded_fen", "退款（元）")]
    chart = Chart(
        "bar",
        days,
        [(CHANNELS[key], values, None) for key, values in by_channel.items() if any(values)],
        stacked=True,
        money=True,
    )
    channel_rows = []
    for key, label in CHANNELS.items():
        orders = sum(totals.get(day, {}).get(key, {}).get("orders", 0) for day in days)
        gmv = sum(by_channel[key])
        channel_rows.append({"channel": label, "orders": orders, "gmv_fen": gmv})
    share = Chart(
        "pie",
        [r["channel"] for r in channel_rows],
        [("成交额", [r["gmv_fen"] for r in channel_rows], None)],
        money=True,
    )
    return Report(
        "sales",
        "销售：按日与渠道",
        [
            Section("每日成交（按渠道堆叠）", columns, rows, chart),
            Section(
                "各渠道合计",
                [("channel", "渠道"), ("orders", "订单数"), ("gmv_fen", "成交额（元）")],
                channel_rows,
                share,
            ),
        ],
    )


def sales_by_product(session: Session, period: Period) -> Report:
    rows = [
        {"product": product, "grade": grade, "units": int(units or 0), "gmv_fen": int(gmv or 0)}
        for product, grade, units, gmv in session.execute(
            select(
                OrderItem.product_name,
                OrderItem.grade,
                func.sum(OrderItem.quantity),
                func.sum(OrderItem.subtotal),
            )
            .join(Order, Order.id == OrderItem.order_id)
            .where(*_own_paid(period))
            .group_by(OrderItem.product_name, OrderItem.grade)
            .order_by(func.sum(OrderItem.subtotal).desc())
        )
    ]
    grades: dict[str, int] = defaultdict(int)
    for row in rows:
        grades[row["grade"]] += row["gmv_fen"]
    return Report(
        "products",
        "销售：按商品与等级",
        [
            Section(
                "商品 × 等级",
                [
                    ("product", "商品"),
                    ("grade", "等级"),
                    ("units", "件数"),
                    ("gmv_fen", "成交额（元）"),
                ],
                rows,
                Chart(
                    "bar",
                    [f"{r['product']} {r['grade']}" for r in rows[:15]],
                    [("成交额", [r["gmv_fen"] for r in rows[:15]], None)],
                    money=True,
                ),
                note="小程序与直播订单（平台订单的商品行在卖家的平台上，按渠道见“销售：按日与渠道”）",
            ),
            Section(
                "按等级",
                [("grade", "等级"), ("gmv_fen", "成交额（元）")],
                [
                    {"grade": g, "gmv_fen": v}
                    for g, v in sorted(grades.items(), key=lambda kv: -kv[1])
                ],
                Chart("pie", list(grades), [("成交额", list(grades.values()), None)], money=True),
            ),
        ],
    )


def seller_ranking(session: Session, period: Period) -> Report:
    """The sellers whose platform orders took the alliance's stock, by paid GMV."""
    gmv = func.sum(PlatformOrder.total)
    rows = [
        {
            "seller_id": seller_id,
            "seller": name,
            "town": town,
            "orders": orders,
            "gmv_fen": int(total or 0),
        }
        for seller_id, name, town, orders, total in session.execute(
            select(Seller.id, Seller.name, Seller.town, func.count(), gmv)
            .join(Seller, Seller.id == PlatformOrder.seller_id)
            .where(*_platform_paid(period))
            .group_by(Seller.id, Seller.name, Seller.town)
            .order_by(gmv.desc())
            .limit(TOP_SELLERS)
        )
    ]
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    top = rows[:20]
    return Report(
        "sellers",
        "卖家排行",
        [
            Section(
                f"成交额前 {TOP_SELLERS} 名卖家（一件代发平台订单）",
                [
                    ("rank", "名次"),
                    ("seller", "卖家"),
                    ("town", "乡镇"),
                    ("orders", "订单数"),
                    ("gmv_fen", "成交额（元）"),
                ],
                rows,
                Chart(
                    "bar",
                    [r["seller"] for r in top],
                    [("成交额", [r["gmv_fen"] for r in top], None)],
                    money=True,
                ),
            )
        ],
    )
