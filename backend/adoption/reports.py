"""What staff read about adoption on the console: the rafts' units by state, one unit's
adopters, updates and parcels, the adopters, and the income each farming household earned in a
month. Read only: these decide nothing and change nothing."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from backend.adoption import adopting, growth_queries
from backend.adoption import units as unit_rules
from backend.adoption.growth import WAITING_DAYS
from backend.adoption.models import (
    ACTIVE,
    ADOPTED,
    CANCELLED,
    COMPENSATED,
    FREE,
    HARVESTED,
    HELD,
    KINDS,
    LOST,
    PENDING,
    Adoption,
    AdoptionDelivery,
    AdoptionUnit,
    GrowthUpdate,
)
from backend.batches.models import Farm, SeaArea
from backend.catalogue.models import ProductLine
from backend.csv_export import csv_text, yuan
from backend.customers.models import Customer
from backend.errors import BadRequest, NotFound
from backend.live.models import LiveRoom
from backend.pagination import page_of
from backend.payments.models import Refund
from backend.timeutil import SHANGHAI, to_aware_utc, to_naive_utc, utcnow

# How the console names a unit's state (a hold whose time to pay ran out counts as free).
STATES = {FREE: "空闲", HELD: "保留中", ADOPTED: "已认养", HARVESTED: "已收获", LOST: "已损失"}
ADOPTION_STATES = {
    PENDING: "待支付",
    ACTIVE: "认养中",
    CANCELLED: "已取消",
    COMPENSATED: "已补偿",
}
COMPENSATIONS = {"replace": "换单元", "refund": "退款"}


def state_of(unit: AdoptionUnit, now: datetime | None = None) -> str:
    """The unit's state as the console shows it: a lapsed hold is free again."""
    return FREE if unit_rules.is_free(unit, now) else unit.status


def _month_bounds(month: str) -> tuple[datetime, datetime]:
    """A "YYYY-MM" month's first instant and the next month's, as stored (naive UTC)."""
    try:
        first = datetime.strptime(month, "%Y-%m")
    except (TypeError, ValueError):
        raise BadRequest("月份格式应为 年-月，例如 2026-12", code="INVALID_MONTH") from None
    if not 2000 <= first.year <= 2100:
        raise BadRequest("月份应在 2000 年至 2100 年之间", code="INVALID_MONTH")
    following = (first + timedelta(days=32)).replace(day=1)
    return (
        to_naive_utc(first.replace(tzinfo=SHANGHAI)),
        to_naive_utc(following.replace(tzinfo=SHANGHAI)),
    )


def current_month() -> str:
    return to_aware_utc(utcnow()).astimezone(SHANGHAI).strftime("%Y-%m")


def choices(session: Session) -> dict:
    """What the console's filters and forms choose from: sea areas, households, product
    lines, and the rafts that have units."""
    areas = session.scalars(select(SeaArea).order_by(SeaArea.code)).all()
    rafts = session.execute(
        select(AdoptionUnit.sea_area_id, AdoptionUnit.raft)
        .distinct()
        .order_by(AdoptionUnit.sea_area_id, AdoptionUnit.raft)
    ).all()
    return {
        "sea_areas": [
            {"id": a.id, "code": a.code, "name": a.name, "farm_id": a.farm_id} for a in areas
        ],
        "households": [
            {"id": f.id, "name": f.name, "cooperative": f.cooperative}
            for f in session.scalars(select(Farm).order_by(Farm.id))
        ],
        "product_lines": [
            {"code": p.code, "name": p.name}
            for p in session.scalars(select(ProductLine).order_by(ProductLine.id))
        ],
        "rafts": sorted({raft for _, raft in rafts}),
        "kinds": KINDS,
        "states": STATES,
    }


def overview(
    session: Session,
    *,
    farm_id: int | None = None,
    sea_area_id: int | None = None,
    raft: int | None = None,
    state: str | None = None,
) -> dict:
    """Every unit by sea area and raft with its state, and how many are in each state. The
    household, sea area and raft filters narrow the rafts shown; the state filter marks the
    units that match and keeps the rest of the raft in place, greyed."""
    where = []
    if farm_id is not None:
        where.append(AdoptionUnit.farm_id == farm_id)
    if sea_area_id is not None:
        where.append(AdoptionUnit.sea_area_id == sea_area_id)
    if raft is not None:
        where.append(AdoptionUnit.raft == raft)
    units = session.scalars(
        select(AdoptionUnit)
        .where(*where)
        .order_by(AdoptionUnit.sea_area_id, AdoptionUnit.raft, AdoptionUnit.position)
    ).all()
    now = utcnow()
    counts: Counter = Counter()
    areas: dict[int, dict] = {}
    for unit in units:
        current = state_of(unit, now)
        counts[current] += 1
        area = areas.setdefault(
            unit.sea_area_id,
            {"id": unit.sea_area_id, "code": unit.sea_area.code, "name": unit.sea_area.name,
             "rafts": {}},
        )  # fmt: skip
        row = area["rafts"].setdefault(
            unit.raft,
            {"raft": unit.raft, "households": set(), "kinds": set(), "counts": Counter(),
             "units": []},
        )  # fmt: skip
        row["households"].add(unit.farm.name)
        row["kinds"].add(KINDS.get(unit.kind, unit.kind))
        row["counts"][current] += 1
        row["units"].append(
            {
                "id": unit.id,
                "code": unit.code,
                "position": unit.position,
                "name": unit_rules.unit_name(unit),
                "state": current,
                "state_name": STATES[current],
                "match": state is None or current == state,
            }
        )
    for area in areas.values():
        area["rafts"] = [
            {
                **row,
                "households": "、".join(sorted(row["households"])),
                "kinds": "、".join(sorted(row["kinds"])),
                "counts": {key: row["counts"].get(key, 0) for key in STATES},
            }
            for _, row in sorted(area["rafts"].items())
        ]
    return {
        "areas": list(areas.values()),
        "counts": {key: counts.get(key, 0) for key in STATES},
        "total": len(units),
    }


def _buyer(customer: Customer | None) -> str:
    if customer is None:
        return "—"
    return customer.nickname or f"微信用户…{customer.openid[-4:]}"


def _adoption_row(adoption: Adoption, customer, room: LiveRoom | None) -> dict:
    unit = adoption.unit
    return {
        "id": adoption.id,
        "number": adoption.number,
        "buyer": _buyer(customer),
        "customer_id": adoption.customer_id,
        "unit_id": unit.id,
        "unit_code": unit.code,
        "unit_name": unit_rules.unit_name(unit),
        "household": unit.farm.name,
        "status": adoption.status,
        "status_name": ADOPTION_STATES.get(adoption.status, adoption.status),
        "price": adoption.price,
        "paid_at": adoption.paid_at,
        "created_at": adoption.created_at,
        "live_room": room.name if room else None,
        "live_room_id": adoption.live_room_id,
        "sharer": adoption.sharer,
        "compensation": COMPENSATIONS.get(adoption.compensation or "", None),
        "replacement": adoption.replaces_adoption_id is not None,
    }


def _adoption_query(where: list):
    return (
        select(Adoption, Customer, LiveRoom)
        .join(AdoptionUnit, AdoptionUnit.id == Adoption.unit_id)
        .outerjoin(Customer, Customer.id == Adoption.customer_id)
        .outerjoin(LiveRoom, LiveRoom.id == Adoption.live_room_id)
        .where(*where)
    )


def unit_detail(session: Session, unit_id: int) -> dict:
    """One unit: its terms, its adopters (paid date, live room), how many growth updates it
    had and the parcels of its harvest. NotFound for an unknown unit."""
    unit = unit_rules.get_unit(session, unit_id)
    line = session.get(ProductLine, unit.product_line_id)
    adoptions = [
        _adoption_row(*row)
        for row in session.execute(
            _adoption_query([Adoption.unit_id == unit.id]).order_by(Adoption.id)
        )
    ]
    updates = session.execute(
        select(GrowthUpdate.hidden, func.count(), func.max(GrowthUpdate.measured_at))
        .where(GrowthUpdate.unit_id == unit.id)
        .group_by(GrowthUpdate.hidden)
    ).all()
    shown = next(((n, last) for hidden, n, last in updates if not hidden), (0, None))
    deliveries = session.execute(
        select(AdoptionDelivery, Adoption.number)
        .join(Adoption, Adoption.id == AdoptionDelivery.adoption_id)
        .where(Adoption.unit_id == unit.id)
        .order_by(AdoptionDelivery.deliver_on, AdoptionDelivery.seq)
    ).all()
    return {
        **unit_rules.view(unit),
        "state": state_of(unit),
        "state_name": STATES[state_of(unit)],
        "sea_area_id": unit.sea_area_id,
        "sea_area_code": unit.sea_area.code,
        "product_line": line.name if line else "—",
        "loss_refund_percent": unit.loss_refund_percent,
        "held_until": unit.held_until if unit.status == HELD else None,
        "lost_at": unit.lost_at,
        "lost_reason": unit.lost_reason,
        "adoptions": adoptions,
        "updates": {
            "shown": shown[0],
            "hidden": sum(n for hidden, n, _ in updates if hidden),
            "last_measured_at": shown[1],
        },
        "deliveries": [
            {
                "adoption_number": number,
                "seq": d.seq,
                "deliver_on": d.deliver_on,
                "weight_g": d.weight_g,
                "harvested_g": d.harvested_g,
                "gift": d.gift,
                "batch_id": d.batch_id,
                "order_id": d.order_id,
            }
            for d, number in deliveries
        ],
    }


def adopters(
    session: Session,
    *,
    farm_id: int | None = None,
    status: str | None = None,
    number: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[dict], int]:
    """A page of adoptions, newest first (unpaid holds that lapsed are left out unless asked
    for), and how many match."""
    where = []
    if farm_id is not None:
        where.append(AdoptionUnit.farm_id == farm_id)
    if status is not None:
        where.append(Adoption.status == status)
    else:
        where.append(Adoption.status != CANCELLED)
    if number:
        where.append(Adoption.number == number.strip().upper())
    total = session.scalar(
        select(func.count())
        .select_from(Adoption)
        .join(AdoptionUnit, AdoptionUnit.id == Adoption.unit_id)
        .where(*where)
    )
    rows = session.execute(
        page_of(_adoption_query(where).order_by(Adoption.id.desc()), page, page_size)
    ).all()
    return [_adoption_row(*row) for row in rows], total


def income_by_household(session: Session, *, month: str) -> dict:
    """Per farming household: the adoption prices paid in the month (Asia/Shanghai), refunds
    made for lost units in the month, and its units adopted and free now. Money in fen."""
    since, until = _month_bounds(month)
    paid = session.execute(
        select(AdoptionUnit.farm_id, func.count(), func.coalesce(func.sum(Adoption.price), 0))
        .join(AdoptionUnit, AdoptionUnit.id == Adoption.unit_id)
        .where(Adoption.paid_at >= since, Adoption.paid_at < until, Adoption.price > 0)
        .group_by(AdoptionUnit.farm_id)
    ).all()
    # A loss refund comes out of the household that was paid: the first adoption's, when the
    # lost unit was itself a free replacement.
    refunds: Counter = Counter()
    for adoption, amount in session.execute(
        select(Adoption, Refund.amount)
        .join(Refund, Refund.id == Adoption.refund_id)
        .where(Refund.created_at >= since, Refund.created_at < until)
    ):
        origin = adopting.paid_origin(session, adoption)
        refunds[session.get(AdoptionUnit, origin.unit_id).farm_id] += amount
    units = unit_states(session)
    income = {farm_id: (count, amount) for farm_id, count, amount in paid}
    farm_ids = set(units) | set(income) | set(refunds)
    farms = {f.id: f for f in session.scalars(select(Farm).where(Farm.id.in_(farm_ids)))}
    rows = []
    for farm_id in sorted(farm_ids, key=lambda i: (-income.get(i, (0, 0))[1], i)):
        count, amount = income.get(farm_id, (0, 0))
        refund = int(refunds.get(farm_id, 0))
        held = units[farm_id]
        rows.append(
            {
                "farm_id": farm_id,
                "household": farms[farm_id].name,
                "cooperative": farms[farm_id].cooperative,
                "adoptions_paid": count,
                "income": int(amount),
                "refunded": refund,
                "net": int(amount) - refund,
                "units": sum(held.values()),
                "adopted": held[ADOPTED] + held[HELD],
                "free": held[FREE],
                "harvested": held[HARVESTED],
                "lost": held[LOST],
            }
        )
    totals = {
        key: sum(row[key] for row in rows)
        for key in ("adoptions_paid", "income", "refunded", "net", "units", "adopted", "free")
    }
    return {"month": month, "rows": rows, "totals": totals}


def income_csv(income: dict) -> str:
    """income_by_household's month as CSV for Excel, money in yuan."""
    columns = [
        ("household", "养殖户"),
        ("cooperative", "合作社"),
        ("adoptions_paid", "当月认养（笔）"),
        ("income", "认养收入（元）"),
        ("refunded", "损失退款（元）"),
        ("net", "净收入（元）"),
        ("units", "单元"),
        ("adopted", "已认养"),
        ("free", "空闲"),
    ]
    money = ("income", "refunded", "net")

    def line(row: dict) -> list:
        return [yuan(row[key]) if key in money else row.get(key, "") for key, _ in columns]

    totals = {**income["totals"], "household": "合计", "cooperative": ""}
    return csv_text([[label for _, label in columns], *map(line, income["rows"]), line(totals)])


def unit_states(session: Session) -> dict[int, Counter]:
    """Per household, how many of its units are in each state now (a lapsed hold is free)."""
    state = case(
        ((AdoptionUnit.status == HELD) & (AdoptionUnit.held_until < utcnow()), FREE),
        else_=AdoptionUnit.status,
    )
    rows = session.execute(
        select(AdoptionUnit.farm_id, state, func.count()).group_by(AdoptionUnit.farm_id, state)
    ).all()
    units: dict[int, Counter] = defaultdict(Counter)
    for farm_id, current, count in rows:
        units[farm_id][current] += count
    return units


def raft_counts(session: Session) -> list[dict]:
    """Each raft with units: its sea area, households and how many units are in each state."""
    state = case(
        ((AdoptionUnit.status == HELD) & (AdoptionUnit.held_until < utcnow()), FREE),
        else_=AdoptionUnit.status,
    )
    rows = session.execute(
        select(SeaArea.id, SeaArea.name, AdoptionUnit.raft, Farm.name, state, func.count())
        .join(SeaArea, SeaArea.id == AdoptionUnit.sea_area_id)
        .join(Farm, Farm.id == AdoptionUnit.farm_id)
        .group_by(SeaArea.id, SeaArea.name, AdoptionUnit.raft, Farm.name, state)
        .order_by(SeaArea.id, AdoptionUnit.raft)
    ).all()
    rafts: dict[tuple, dict] = {}
    for area_id, area, raft, household, current, count in rows:
        row = rafts.setdefault(
            (area_id, raft),
            {"sea_area_id": area_id, "sea_area": area, "raft": raft, "households": set(),
             "counts": dict.fromkeys(STATES, 0)},
        )  # fmt: skip
        row["households"].add(household)
        row["counts"][current] += count
    return [{**row, "households": "、".join(sorted(row["households"]))} for row in rafts.values()]


def summary(session: Session) -> dict:
    """The adoption landing page's figures: units by state, adopters, this month's income and
    the adopted units waiting for a growth update."""
    counts = {key: 0 for key in STATES}
    for per_farm in unit_states(session).values():
        for key, count in per_farm.items():
            counts[key] += count
    active = session.execute(
        select(func.count(), func.count(func.distinct(Adoption.customer_id))).where(
            Adoption.status == ACTIVE
        )
    ).one()
    month = current_month()
    income = income_by_household(session, month=month)["totals"]
    return {
        "units": counts,
        "units_total": sum(counts.values()),
        "adoptions_active": active[0],
        "adopters": active[1],
        "adoptions_pending": session.scalar(
            select(func.count()).select_from(Adoption).where(Adoption.status == PENDING)
        ),
        "month": month,
        "income": income["income"],
        "net": income["net"],
        "due_update": len(growth_queries.units_waiting(session)),
        "due_days": WAITING_DAYS,
        "rafts": raft_counts(session),
    }


def unit_ids(
    session: Session, *, sea_area_id: int, raft: int, positions: list[int] | None = None
) -> list[int]:
    """The ids of a raft's units (all of them, or those at `positions`), in position order;
    NotFound when there are none."""
    where = [AdoptionUnit.sea_area_id == sea_area_id, AdoptionUnit.raft == raft]
    if positions:
        where.append(AdoptionUnit.position.in_(positions))
    found = session.execute(
        select(AdoptionUnit.id, AdoptionUnit.position).where(*where).order_by(AdoptionUnit.position)
    ).all()
    missing = sorted(set(positions or ()) - {position for _, position in found})
    if not found or missing:
        raise NotFound(
            "这个筏上没有这些位置的认养单元",
            code="UNIT_NOT_FOUND",
            details={"positions": missing},
        )
    return [unit_id for unit_id, _ in found]


def recent_losses(session: Session, *, limit: int = 20) -> list[dict]:
    """The latest loss declarations: per sea area, raft, reason and time, how many units."""
    rows = session.execute(
        select(
            SeaArea.name,
            AdoptionUnit.raft,
            AdoptionUnit.lost_reason,
            AdoptionUnit.lost_at,
            func.count(),
            func.min(AdoptionUnit.position),
            func.max(AdoptionUnit.position),
        )
        .join(SeaArea, SeaArea.id == AdoptionUnit.sea_area_id)
        .where(AdoptionUnit.status == LOST)
        .group_by(SeaArea.name, AdoptionUnit.raft, AdoptionUnit.lost_reason, AdoptionUnit.lost_at)
        .order_by(AdoptionUnit.lost_at.desc(), AdoptionUnit.raft)
        .limit(limit)
    ).all()
    return [
        {
            "sea_area": area,
            "raft": raft,
            "reason": reason,
            "lost_at": lost_at,
            "units": count,
            "positions": f"{low}-{high}" if low != high else str(low),
        }
        for area, raft, reason, lost_at, count, low, high in rows
    ]
