"""Operations reports: stock by grade and use-by with the ledger's flow, live shows against each
other, dead-on-arrival rates, trace scans and copy flags by region, broadcast reach."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.aftersales.models import DEAD_ON_ARRIVAL, AfterSale
from backend.batches.models import Batch
from backend.catalogue.models import Grade, Sku
from backend.fulfilment.models import Parcel
from backend.inventory.models import SELLABLE, Lot, StockMovement, StockReservation
from backend.live.models import LiveRoom, LiveShowSummary
from backend.notices.models import Broadcast, NoticeDelivery
from backend.orders.models import CANCELLED, Order
from backend.platforms.carriers import CARRIERS
from backend.reports.period import Period, shanghai_day
from backend.reports.shape import Chart, Report, Section
from backend.timeutil import utcnow
from backend.trace.models import TraceFlag, TraceScan

KIND_LABELS = {
    "RECEIVE": "入库",
    "RESERVE": "锁定",
    "RELEASE": "释放",
    "COMMIT": "支付确认",
    "SHIP": "发货出库",
    "EXPIRE": "过期下架",
    "ADJUST": "盘点调整",
    "RETURN": "退货入库",
}
FLOWS = ("RECEIVE", "SHIP", "EXPIRE", "ADJUST", "RETURN")  # the kinds that move on-hand units
USE_BY_BUCKETS = ((0, "已过期"), (24, "24 小时内"), (48, "24–48 小时"), (72, "48–72 小时"))
FLAG_REASONS = {
    "TOO_MANY_SCANS": "查询次数过多",
    "IMPOSSIBLE_TRAVEL": "异地同时查询",
    "AFTER_USE_BY": "过期后查询",
    "NOT_OURS": "非联盟码",
}
DELIVERY_STATES = {"DELIVERED": "已送达", "SENT": "已发出", "FAILED": "失败", "SKIPPED": "无法触达"}
UNKNOWN_REGION = "未知地区"


def stock(session: Session, period: Period) -> Report:
    now = utcnow()
    graded = session.execute(
        select(Grade.name, func.sum(Lot.on_hand), func.sum(Lot.reserved))
        .join(Sku, Sku.id == Lot.sku_id)
        .join(Grade, Grade.id == Sku.grade_id)
        .where(Lot.status == SELLABLE, Lot.on_hand > 0)
        .group_by(Grade.name)
        .order_by(func.min(Grade.position))
    ).all()
    by_grade = [
        {"grade": name, "on_hand": int(on_hand), "free": int(on_hand) - int(reserved)}
        for name, on_hand, reserved in graded
    ]
    buckets: dict[str, int] = {label: 0 for _, label in USE_BY_BUCKETS}
    later = "72 小时以上"
    buckets[later] = 0
    for use_by, on_hand in session.execute(
        select(Lot.use_by, func.sum(Lot.on_hand))
        .where(Lot.status == SELLABLE, Lot.on_hand > 0)
        .group_by(Lot.use_by)
    ):
        hours = (use_by - now).total_seconds() / 3600
        label = next((label for limit, label in USE_BY_BUCKETS if hours <= limit), later)
        buckets[label] += int(on_hand)
    day = shanghai_day(session, StockMovement.created_at)
    flows: dict[str, dict[str, int]] = defaultdict(dict)
    for moved_on, kind, delta in session.execute(
        select(day, StockMovement.kind, func.sum(StockMovement.on_hand_delta))
        .where(
            StockMovement.created_at >= period.since,
            StockMovement.created_at < period.until,
            StockMovement.kind.in_(FLOWS),
        )
        .group_by(day, StockMovement.kind)
    ):
        flows[str(moved_on)][kind] = int(delta or 0)
    days = [d.isoformat() for d in period.days()]
    flow_rows = [{"day": d, **{k: flows.get(d, {}).get(k, 0) for k in FLOWS}} for d in days]
    return Report(
        "stock",
        "库存：按等级、保质期与流水",
        [
            Section(
                "当前在售库存（按等级）",
                [("grade", "等级"), ("on_hand", "现有（份）"), ("free", "可售（未锁定）")],
                by_grade,
                Chart(
                    "bar",
                    [r["grade"] for r in by_grade],
                    [
                        ("现有", [r["on_hand"] for r in by_grade], None),
                        ("可售", [r["free"] for r in by_grade], None),
                    ],
                ),
                note="当前库存，与日期范围无关",
            ),
            Section(
                "当前在售库存（按剩余保质期）",
                [("bucket", "剩余保质期"), ("on_hand", "现有（份）")],
                [{"bucket": k, "on_hand": v} for k, v in buckets.items()],
                Chart("bar", list(buckets), [("现有", list(buckets.values()), None)]),
            ),
            Section(
                "库存流水（每日）",
                [("day", "日期"), *[(k, KIND_LABELS[k]) for k in FLOWS]],
                flow_rows,
                Chart(
                    "bar",
                    days,
                    [(KIND_LABELS[k], [r[k] for r in flow_rows], None) for k in FLOWS],
                    stacked=True,
                ),
            ),
        ],
    )


def shows(session: Session, period: Period) -> Report:
    rooms = session.execute(
        select(
            LiveRoom.id,
            LiveRoom.name,
            LiveRoom.anchor_name,
            LiveRoom.starts_at,
            LiveShowSummary.figures,
        )
        .outerjoin(LiveShowSummary, LiveShowSummary.room_id == LiveRoom.id)
        .where(LiveRoom.starts_at >= period.since, LiveRoom.starts_at < period.until)
        .order_by(LiveRoom.starts_at)
    ).all()
    paid = (
        {
            room_id: (orders, int(gmv or 0))
            for room_id, orders, gmv in session.execute(
                select(Order.live_room_id, func.count(), func.sum(Order.total))
                .where(
                    Order.live_room_id.in_([room.id for room in rooms]),
                    Order.paid_at.is_not(None),
                    Order.status != CANCELLED,
                )
                .group_by(Order.live_room_id)
            )
        }
        if rooms
        else {}
    )
    rows = []
    for room in rooms:
        figures = room.figures or {}
        orders, gmv = paid.get(room.id, (0, 0))
        rows.append(
            {
                "room_id": room.id,
                "show": f"{room.starts_at + timedelta(hours=8):%m-%d} {room.name}",
                "anchor": room.anchor_name,
                "viewers": int(figures.get("viewers", 0)),
                "claims": int(figures.get("claim_comments", 0)),
                "paid_orders": orders,
                "gmv_fen": gmv,
            }
        )
    previous = rows[:-1]
    if rows and previous:
        average = sum(r["gmv_fen"] for r in previous) / len(previous)
        for row in rows:
            row["vs_average"] = round(row["gmv_fen"] / average, 2) if average else None
    x = [r["show"] for r in rows]
    return Report(
        "shows",
        "直播场次对比",
        [
            Section(
                "每场直播",
                [
                    ("show", "场次"),
                    ("anchor", "主播"),
                    ("viewers", "互动观众"),
                    ("claims", "评论下单"),
                    ("paid_orders", "支付订单"),
                    ("gmv_fen", "成交额（元）"),
                    ("vs_average", "为往场均值的倍数"),
                ],
                rows,
                Chart(
                    "bar",
                    x,
                    [
                        ("成交额（元）", [r["gmv_fen"] / 100 for r in rows], None),
                        ("互动观众", [r["viewers"] for r in rows], "line"),
                    ],
                ),
            )
        ],
    )


def dead_on_arrival(session: Session, period: Period) -> Report:
    """Dead-on-arrival claims against parcels delivered, by courier, day, lot and batch. The
    parcels are counted by one grouped scan each; the claims (few) are joined to their parcel
    and the lots their order took stock from."""
    delivered = (Parcel.delivered_at >= period.since, Parcel.delivered_at < period.until)
    claimed = select(AfterSale.order_id).where(
        AfterSale.type == DEAD_ON_ARRIVAL,
        AfterSale.created_at >= period.since,
        AfterSale.created_at < period.until + timedelta(days=7),  # claims come after delivery
    )
    dead_parcels = (
        select(Parcel.id, Parcel.order_id, Parcel.carrier, Parcel.delivered_at)
        .where(Parcel.order_id.in_(claimed), *delivered)
        .subquery()
    )
    day = shanghai_day(session, Parcel.delivered_at)
    dead_day = shanghai_day(session, dead_parcels.c.delivered_at)

    def by_day_and_carrier(query) -> tuple[dict, dict]:
        """One grouped scan, summed two ways."""
        days: dict = defaultdict(int)
        carriers: dict = defaultdict(int)
        for on, carrier, count in session.execute(query):
            days[str(on)] += count
            carriers[carrier] += count
        return days, carriers

    parcel_days, parcel_carriers = by_day_and_carrier(
        select(day, Parcel.carrier, func.count()).where(*delivered).group_by(day, Parcel.carrier)
    )
    dead_days, dead_carriers = by_day_and_carrier(
        select(dead_day, dead_parcels.c.carrier, func.count()).group_by(
            dead_day, dead_parcels.c.carrier
        )
    )
    by_carrier = _rates(
        {_carrier(code): count for code, count in parcel_carriers.items()},
        {_carrier(code): count for code, count in dead_carriers.items()},
    )
    by_day = _rates(parcel_days, dead_days)
    # by lot and batch: the orders each lot packed in the range went into, against the claims
    packed = (Lot.packed_at >= period.since, Lot.packed_at < period.until)
    went = (
        select(StockReservation.lot_id, func.count())
        .join(Lot, Lot.id == StockReservation.lot_id)
        .where(*packed)  # every channel's holds: the lot's index alone answers
        .group_by(StockReservation.lot_id)
    )
    dead_went = (
        select(StockReservation.lot_id, func.count())
        .join(Lot, Lot.id == StockReservation.lot_id)
        .where(*packed, StockReservation.order_id.in_(claimed))
        .group_by(StockReservation.lot_id)
    )
    lots = {
        lot_id: (code, batch)
        for lot_id, code, batch in session.execute(
            select(Lot.id, Lot.code, Batch.code)
            .join(Batch, Batch.id == Lot.batch_id)
            .where(*packed)
        )
    }

    orders_of, claims_of = dict(session.execute(went).all()), dict(session.execute(dead_went).all())

    def per(index: int, counts: dict) -> dict:
        found: dict = defaultdict(int)
        for lot_id, count in counts.items():
            if lot_id in lots:
                found[lots[lot_id][index]] += count
        return found

    by_lot = _rates(per(0, orders_of), per(0, claims_of))
    by_batch = _rates(per(1, orders_of), per(1, claims_of))
    days = sorted(by_day, key=lambda row: row["key"])
    return Report(
        "doa",
        "死货率：按批次、快递与日期",
        [
            _rate_section("按快递公司", "快递", by_carrier),
            Section(
                "按送达日期",
                RATE_COLUMNS("日期"),
                days,
                Chart(
                    "line", [r["key"] for r in days], [("死货率", [r["rate"] for r in days], None)]
                ),
            ),
            _rate_section(
                "按库存批次（范围内包装的批次：死货申请 / 其供货的各渠道订单）", "库存批次", by_lot
            ),
            _rate_section("按加工批次", "加工批次", by_batch),
        ],
    )


def _carrier(code: str | None) -> str | None:
    """A courier as staff call it (顺丰), not its code."""
    return CARRIERS.get(code or "", {}).get("name", code)


def RATE_COLUMNS(label: str) -> list[tuple[str, str]]:  # noqa: N802 (a table's shape)
    return [("key", label), ("parcels", "送达包裹"), ("doa", "死货申请"), ("rate", "死货率")]


def _rates(totals: dict, dead: dict) -> list[dict]:
    """Rows of a dead-on-arrival table, worst first."""
    rows = [
        {
            "key": key if key is not None else "（未知）",
            "parcels": parcels,
            "doa": dead.get(key, 0),
            "rate": round(dead.get(key, 0) / parcels, 4) if parcels else 0.0,
        }
        for key, parcels in totals.items()
    ]
    return sorted(rows, key=lambda r: (-r["rate"], str(r["key"])))


def _rate_section(title: str, label: str, rows: list[dict]) -> Section:
    top = rows[:20]
    return Section(
        title,
        RATE_COLUMNS(label),
        rows,
        Chart("bar", [str(r["key"]) for r in top], [("死货率", [r["rate"] for r in top], None)]),
    )


def scans(session: Session, period: Period) -> Report:
    in_range = (TraceScan.scanned_at >= period.since, TraceScan.scanned_at < period.until)
    by_region = [
        {"region": region or UNKNOWN_REGION, "scans": count}
        for region, count in session.execute(
            select(TraceScan.region, func.count())
            .where(*in_range)
            .group_by(TraceScan.region)
            .order_by(func.count().desc())
        )
    ]
    flags: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for region, reason, count in session.execute(
        select(TraceFlag.region, TraceFlag.reason, func.count())
        .where(TraceFlag.created_at >= period.since, TraceFlag.created_at < period.until)
        .group_by(TraceFlag.region, TraceFlag.reason)
    ):
        flags[region or UNKNOWN_REGION][reason] += count
    flag_rows = [
        {
            "region": region,
            **{reason: counts.get(reason, 0) for reason in FLAG_REASONS},
            "flags": sum(counts.values()),
        }
        for region, counts in sorted(flags.items(), key=lambda kv: -sum(kv[1].values()))
    ]
    top = by_region[:20]
    return Report(
        "scans",
        "防伪查询与预警：按地区",
        [
            Section(
                "查询次数（按地区）",
                [("region", "地区"), ("scans", "查询次数")],
                by_region,
                Chart(
                    "bar",
                    [r["region"] for r in top],
                    [("查询次数", [r["scans"] for r in top], None)],
                ),
            ),
            Section(
                "防伪预警（按地区与原因）",
                [("region", "地区"), *FLAG_REASONS.items(), ("flags", "合计")],
                flag_rows,
                Chart(
                    "bar",
                    [r["region"] for r in flag_rows[:20]],
                    [
                        (label, [r[reason] for r in flag_rows[:20]], None)
                        for reason, label in FLAG_REASONS.items()
                    ],
                    stacked=True,
                ),
            ),
        ],
    )


def broadcasts(session: Session, period: Period) -> Report:
    sent = session.execute(
        select(
            Broadcast.id,
            Broadcast.title,
            Broadcast.category,
            Broadcast.send_at,
            Broadcast.recipients,
        )
        .where(Broadcast.send_at >= period.since, Broadcast.send_at < period.until)
        .order_by(Broadcast.send_at)
    ).all()
    states: dict[int, dict[str, int]] = defaultdict(dict)
    if sent:
        for broadcast_id, state, count in session.execute(
            select(NoticeDelivery.broadcast_id, NoticeDelivery.state, func.count())
            .where(NoticeDelivery.broadcast_id.in_([b.id for b in sent]))
            .group_by(NoticeDelivery.broadcast_id, NoticeDelivery.state)
        ):
            states[broadcast_id][state] = count
    rows = []
    for b in sent:
        counts = states.get(b.id, {})
        reached = counts.get("DELIVERED", 0) + counts.get("SENT", 0)
        rows.append(
            {
                "broadcast": f"{b.send_at + timedelta(hours=8):%m-%d} {b.title}",
                "category": b.category,
                "recipients": b.recipients,
                **{state: counts.get(state, 0) for state in DELIVERY_STATES},
                "reach": round(reached / b.recipients, 4) if b.recipients else 0.0,
            }
        )
    return Report(
        "broadcasts",
        "联盟广播：触达与送达",
        [
            Section(
                "每次广播",
                [
                    ("broadcast", "广播"),
                    ("category", "类别"),
                    ("recipients", "目标卖家"),
                    *DELIVERY_STATES.items(),
                    ("reach", "触达率"),
                ],
                rows,
                Chart(
                    "bar",
                    [r["broadcast"] for r in rows],
                    [
                        (label, [r[state] for r in rows], None)
                        for state, label in DELIVERY_STATES.items()
                    ],
                    stacked=True,
                ),
            )
        ],
    )
