"""Settlement of drop-shipped platform orders (一件代发) with their sellers.

The rules, in one place:
- **Cost.** When the alliance's warehouse ships a seller's platform order, the order's wholesale
  cost is booked once: each line's quantity × the wholesale price of its SKU for the seller's tier
  (the default tier's price where the tier has none). A line with no price at all costs 0 and
  staff are alerted; the cost stands as booked (prices changed later do not rewrite it).
  Self-fulfilled shops never reach the warehouse, so they are never charged.
- **Refund after shipping.** A platform order its platform reports REFUNDED (or CANCELLED) after its
  cost was booked has that cost reversed in full, less any dead-on-arrival compensation already
  credited, so the order nets to zero. A refund still being asked (REFUNDING) changes nothing
  until the platform decides. `reconcile_refunds` books these reversals (scheduled every few
  minutes, idempotent); a refund before shipping never booked a cost.
- **Dead-on-arrival compensation.** When live shellfish of a shipped order arrive dead, the seller
  compensates their buyer on the platform and staff credit the seller the alliance's share: an
  amount in fen, once per order, at most the order's cost still standing.
- **Months.** An entry belongs to the month (Asia/Shanghai) it was booked in, so a statement never
  changes after its month ends: a refund of a December order seen in January adjusts January.
- **Statement.** Per seller and month: orders and units shipped, wholesale total, adjustments
  (refunds + compensation, negative), amount due = total + adjustments. Staff mark a month
  settled once, after it ended; the row keeps who, when and the amount it said.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.csv_export import csv_text, yuan
from backend.errors import BadRequest, Conflict, NotFound, RuleBroken
from backend.platforms.models import PlatformOrder
from backend.platforms.service import PLATFORM_NAMES
from backend.sellers import service as sellers
from backend.sellers.models import Seller
from backend.settlement import prices
from backend.settlement.models import (
    COST,
    DEAD_ON_ARRIVAL,
    REFUND,
    SettlementEntry,
    StatementSettlement,
)
from backend.staff import service as staff
from backend.staff.models import Staff
from backend.timeutil import SHANGHAI, to_aware_utc, utcnow

REVERSED_STATUSES = ("REFUNDED", "CANCELLED")
KIND_LABELS = {COST: "发货供货价", REFUND: "发货后退款冲回", DEAD_ON_ARRIVAL: "死货补偿"}


def month_of(moment: datetime) -> str:
    """The Asia/Shanghai month ("2026-12") of a stored UTC time."""
    return to_aware_utc(moment).astimezone(SHANGHAI).strftime("%Y-%m")


def check_month(month: str) -> str:
    """A month as "YYYY-MM", or BadRequest."""
    try:
        parsed = datetime.strptime(month, "%Y-%m")
    except (TypeError, ValueError):
        raise BadRequest("月份格式应为 年-月，例如 2026-12", code="INVALID_MONTH") from None
    return parsed.strftime("%Y-%m")


def current_month() -> str:
    return month_of(utcnow())


# -- booking ---------------------------------------------------------------------------------
def _entry(session: Session, platform_order_id: int, kind: str) -> SettlementEntry | None:
    return session.scalar(
        select(SettlementEntry).where(
            SettlementEntry.platform_order_id == platform_order_id, SettlementEntry.kind == kind
        )
    )


def record_shipped_cost(session: Session, row: PlatformOrder) -> SettlementEntry:
    """Book the wholesale cost of a drop-shipped platform order as it ships, once (in the
    caller's transaction: the parcel that ships it is locked)."""
    booked = _entry(session, row.id, COST)
    if booked is not None:
        return booked
    sku_ids = {line["sku_id"] for line in row.lines if line.get("sku_id")}
    unit = prices.unit_prices(session, seller_id=row.seller_id, sku_ids=sku_ids)
    lines, missing = [], []
    for line in row.lines:
        price = unit.get(line.get("sku_id"))
        if price is None:
            missing.append(line.get("sku_code") or str(line.get("sku_id")))
        lines.append(
            {
                "sku_id": line.get("sku_id"),
                "sku_code": line.get("sku_code", ""),
                "quantity": line["quantity"],
                "unit_price": price,
                "amount": (price or 0) * line["quantity"],
            }
        )
    entry = SettlementEntry(
        seller_id=row.seller_id,
        platform_order_id=row.id,
        kind=COST,
        month=current_month(),
        amount=sum(line["amount"] for line in lines),
        units=sum(line["quantity"] for line in lines),
        lines=lines,
    )
    session.add(entry)
    if missing:
        staff.raise_alert(
            session,
            kind="WHOLESALE_PRICE_MISSING",
            title=f"平台订单 {row.order_no} 发货时有商品未设置供货价，按 0 计入结算",
            platform_order_id=row.id,
            sku_codes=missing,
        )
    session.flush()
    return entry


def _standing(session: Session, platform_order_id: int) -> int:
    """What the order still costs its seller: its cost and every adjustment so far."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(SettlementEntry.amount), 0)).where(
                SettlementEntry.platform_order_id == platform_order_id
            )
        )
    )


def reconcile_refunds(session: Session) -> int:
    """Reverse the cost of every shipped order its platform has since refunded or cancelled
    (each once); answers how many were reversed."""
    reversed_ = select(SettlementEntry.platform_order_id).where(SettlementEntry.kind == REFUND)
    due = session.execute(
        select(SettlementEntry.platform_order_id, SettlementEntry.seller_id)
        .join(PlatformOrder, PlatformOrder.id == SettlementEntry.platform_order_id)
        .where(
            SettlementEntry.kind == COST,
            PlatformOrder.status.in_(REVERSED_STATUSES),
            SettlementEntry.platform_order_id.not_in(reversed_),
        )
    ).all()
    for platform_order_id, seller_id in due:
        session.add(
            SettlementEntry(
                seller_id=seller_id,
                platform_order_id=platform_order_id,
                kind=REFUND,
                month=current_month(),
                amount=-_standing(session, platform_order_id),
                note="平台发货后退款，冲回供货价",
            )
        )
    try:
        session.commit()
    except IntegrityError:  # another run booked them meanwhile
        session.rollback()
        return 0
    return len(due)


def record_dead_on_arrival(
    session: Session, *, platform_order_id: int, amount: int, note: str, staff_id: int | None
) -> SettlementEntry:
    """Credit the seller the alliance's share of a dead-on-arrival claim on a shipped order
    (once per order, at most what the order still costs)."""
    if _entry(session, platform_order_id, COST) is None:
        raise NotFound("该平台订单未由联盟仓发货，没有可调整的供货价", code="NO_COST_BOOKED")
    if _entry(session, platform_order_id, DEAD_ON_ARRIVAL) is not None:
        raise Conflict("该订单已记录过死货补偿", code="COMPENSATION_EXISTS")
    standing = _standing(session, platform_order_id)
    if amount < 1 or amount > standing:
        raise RuleBroken(
            f"补偿金额需在 0.01 元到 {standing / 100:.2f} 元（该订单剩余供货价）之间",
            code="COMPENSATION_TOO_LARGE",
            details={"standing": standing},
        )
    seller_id = session.scalar(
        select(PlatformOrder.seller_id).where(PlatformOrder.id == platform_order_id)
    )
    entry = SettlementEntry(
        seller_id=seller_id,
        platform_order_id=platform_order_id,
        kind=DEAD_ON_ARRIVAL,
        month=current_month(),
        amount=-amount,
        note=note[:200],
        created_by=staff_id,
    )
    session.add(entry)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("该订单已记录过死货补偿", code="COMPENSATION_EXISTS") from None
    return entry


# -- statements ------------------------------------------------------------------------------
def _totals(entries: list[SettlementEntry]) -> dict:
    costs = [e for e in entries if e.kind == COST]
    total = sum(e.amount for e in costs)
    adjustments = sum(e.amount for e in entries if e.kind != COST)
    return {
        "orders": len(costs),
        "units": sum(e.units for e in costs),
        "wholesale_total": total,
        "adjustments": adjustments,
        "amount_due": total + adjustments,
    }


def _settled(row: StatementSettlement | None, names: dict[int, str]) -> dict | None:
    if row is None:
        return None
    return {
        "settled_at": row.settled_at,
        "settled_by": row.settled_by,
        "settled_by_name": names.get(row.settled_by, ""),
        "amount_due": row.amount_due,
        "note": row.note,
    }


def _staff_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Staff.id, Staff.display_name).where(Staff.id.in_(ids)))
    return {staff_id: name for staff_id, name in rows}


def statement(session: Session, *, seller_id: int, month: str) -> dict:
    """One seller's statement of a month: totals, every entry, and whether it was settled.
    Only that seller's entries are ever read."""
    month = check_month(month)
    entries = list(
        session.scalars(
            select(SettlementEntry)
            .where(SettlementEntry.seller_id == seller_id, SettlementEntry.month == month)
            .order_by(SettlementEntry.id)
        )
    )
    orders = {
        row.id: row
        for row in session.scalars(
            select(PlatformOrder).where(
                PlatformOrder.id.in_({e.platform_order_id for e in entries}),
                PlatformOrder.seller_id == seller_id,
            )
        )
    }
    settled = session.scalar(
        select(StatementSettlement).where(
            StatementSettlement.seller_id == seller_id, StatementSettlement.month == month
        )
    )
    names = _staff_names(session, {settled.settled_by} if settled else set())
    return {
        "seller_id": seller_id,
        "month": month,
        **_totals(entries),
        "settled": _settled(settled, names),
        "entries": [
            {
                "id": e.id,
                "at": e.created_at,
                "kind": e.kind,
                "kind_label": KIND_LABELS[e.kind],
                "platform_order_id": e.platform_order_id,
                "platform": orders[e.platform_order_id].platform,
                "order_no": orders[e.platform_order_id].order_no,
                "units": e.units,
                "amount": e.amount,
                "lines": e.lines,
                "note": e.note,
            }
            for e in entries
            if e.platform_order_id in orders
        ],
    }


def _summaries(session: Session, where: list) -> list[dict]:
    """Totals per (seller, month) of the entries matching `where`, newest month first."""
    rows = session.execute(
        select(
            SettlementEntry.seller_id,
            SettlementEntry.month,
            SettlementEntry.kind,
            func.count(),
            func.coalesce(func.sum(SettlementEntry.units), 0),
            func.coalesce(func.sum(SettlementEntry.amount), 0),
        )
        .where(*where)
        .group_by(SettlementEntry.seller_id, SettlementEntry.month, SettlementEntry.kind)
    ).all()
    found: dict[tuple[int, str], dict] = {}
    for seller_id, month, kind, count, units, amount in rows:
        item = found.setdefault(
            (seller_id, month),
            {
                "seller_id": seller_id,
                "month": month,
                "orders": 0,
                "units": 0,
                "wholesale_total": 0,
                "adjustments": 0,
            },
        )
        if kind == COST:
            item["orders"], item["units"], item["wholesale_total"] = count, int(units), int(amount)
        else:
            item["adjustments"] += int(amount)
    settled = {
        (row.seller_id, row.month): row
        for row in session.scalars(
            select(StatementSettlement).where(
                StatementSettlement.seller_id.in_({k[0] for k in found}),
                StatementSettlement.month.in_({k[1] for k in found}),
            )
        )
    }
    names = _staff_names(session, {row.settled_by for row in settled.values()})
    out = []
    for key, item in sorted(found.items(), key=lambda kv: (kv[0][1], -kv[0][0]), reverse=True):
        item["amount_due"] = item["wholesale_total"] + item["adjustments"]
        item["settled"] = _settled(settled.get(key), names)
        out.append(item)
    return out


def seller_statements(session: Session, *, seller_id: int) -> list[dict]:
    """A seller's monthly statements (totals, settled or not), the newest month first; only
    that seller's."""
    return _summaries(session, [SettlementEntry.seller_id == seller_id])


def all_statements(session: Session, *, month: str) -> list[dict]:
    """Every seller's statement of a month, for staff, each with the seller's name."""
    items = _summaries(session, [SettlementEntry.month == check_month(month)])
    rows = session.execute(
        select(Seller.id, Seller.name).where(Seller.id.in_({i["seller_id"] for i in items}))
    )
    names = {seller_id: name for seller_id, name in rows}
    for item in items:
        item["seller_name"] = names.get(item["seller_id"], "")
    return sorted(items, key=lambda item: item["seller_id"])


def statement_csv(session: Session, *, seller_id: int, month: str) -> str:
    """The statement as CSV for Excel: one row per entry, then the totals."""
    found = statement(session, seller_id=seller_id, month=month)
    rows: list[list] = [["时间", "类型", "平台", "平台订单号", "件数", "金额（元）", "备注"]]
    for e in found["entries"]:
        rows.append(
            [
                to_aware_utc(e["at"]).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
                e["kind_label"],
                PLATFORM_NAMES.get(e["platform"], e["platform"]),
                e["order_no"],
                e["units"] if e["kind"] == COST else "",
                yuan(e["amount"]),
                e["note"],
            ]
        )
    rows += [
        [],
        ["结算月份", found["month"]],
        ["订单数", found["orders"]],
        ["件数", found["units"]],
        ["供货价合计（元）", yuan(found["wholesale_total"])],
        ["调整合计（元）", yuan(found["adjustments"])],
        ["应付金额（元）", yuan(found["amount_due"])],
        ["结算状态", "已结算" if found["settled"] else "未结算"],
    ]
    return csv_text(rows)


def settle_statement(
    session: Session, *, seller_id: int, month: str, staff_id: int, note: str = ""
) -> dict:
    """Mark a seller's statement of an ended month settled (once), keeping who, when and the
    amount it said."""
    month = check_month(month)
    sellers.get_seller(session, seller_id)
    if month >= current_month():
        raise RuleBroken("本月尚未结束，不能结算", code="MONTH_NOT_OVER")
    found = statement(session, seller_id=seller_id, month=month)
    if not found["entries"]:
        raise NotFound("该卖家本月没有结算记录", code="STATEMENT_EMPTY")
    if found["settled"] is not None:
        raise Conflict("该结算单已标记为已结算", code="STATEMENT_ALREADY_SETTLED")
    session.add(
        StatementSettlement(
            seller_id=seller_id,
            month=month,
            amount_due=found["amount_due"],
            settled_by=staff_id,
            note=note[:200],
        )
    )
    try:
        session.commit()
    except IntegrityError:  # settled by someone else at the same moment
        session.rollback()
        raise Conflict("该结算单已标记为已结算", code="STATEMENT_ALREADY_SETTLED") from None
    return statement(session, seller_id=seller_id, month=month)
