"""Adoptable units as data: staff (and the farm) lay out a sea area's rafts into ropes, cages or
grid cells, each with its price, what it yields and its terms for loss."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.adoption.models import (
    FREE,
    HELD,
    KINDS,
    REFUND,
    REPLACE,
    AdoptionUnit,
)
from backend.batches.models import Farm, SeaArea
from backend.catalogue.models import ProductLine
from backend.errors import BadRequest, Conflict, NotFound, RuleBroken
from backend.timeutil import SHANGHAI, to_aware_utc, utcnow

UNIT_CODE_LENGTH = 30  # AdoptionUnit.code
UNIT_NAMES = {"rope": "号绳", "cage": "号笼", "grid": "号格"}
LOSS_TERMS = {REPLACE: "换一个同类单元", REFUND: "按比例退款"}
STATUS_NAMES = {
    "FREE": "可认养",
    "HELD": "待支付",
    "ADOPTED": "已认养",
    "HARVESTED": "已收获",
    "LOST": "已灭失",
}


def today() -> date:
    return to_aware_utc(utcnow()).astimezone(SHANGHAI).date()


def unit_name(unit: AdoptionUnit) -> str:
    """How people say it: "3号筏 12号笼"."""
    return f"{unit.raft}号筏 {unit.position}{UNIT_NAMES.get(unit.kind, '号')}"


def is_free(unit: AdoptionUnit, now: datetime | None = None) -> bool:
    """Free, or held for a buyer whose time to pay has run out."""
    now = now or utcnow()
    return unit.status == FREE or (
        unit.status == HELD and unit.held_until is not None and unit.held_until < now
    )


def get_unit(session: Session, unit_id: int) -> AdoptionUnit:
    unit = session.get(AdoptionUnit, unit_id)
    if unit is None:
        raise NotFound("认养单元不存在", code="UNIT_NOT_FOUND")
    return unit


def _check_terms(fields: dict) -> None:
    if fields["kind"] not in KINDS:
        raise BadRequest("单元类型只能是吊绳、网笼或格子", code="BAD_UNIT_KIND")
    if not fields["seeded_on"] <= fields["adopt_until"] <= fields["harvest_from"]:
        raise RuleBroken("日期顺序应为：投苗 ≤ 认养截止 ≤ 收获开始", code="BAD_UNIT_DATES")
    if fields["harvest_from"] > fields["harvest_to"]:
        raise RuleBroken("收获开始不能晚于收获结束", code="BAD_UNIT_DATES")
    if fields["price"] <= 0 or fields["yield_g"] <= 0 or fields["max_parcels"] < 1:
        raise RuleBroken("价格、收获重量和包裹数都必须大于 0", code="BAD_UNIT_TERMS")
    if fields["loss_terms"] not in LOSS_TERMS:
        raise BadRequest("灭失条款只能是换单元或退款", code="BAD_LOSS_TERMS")
    if not 0 < fields.get("loss_refund_percent", 50) <= 100:
        raise RuleBroken("灭失退款比例应在 1–100 之间", code="BAD_LOSS_TERMS")


def create_units(
    session: Session,
    *,
    sea_area_code: str,
    farm_id: int,
    product_line_code: str,
    raft: int,
    positions: list[int],
    **terms,
) -> list[AdoptionUnit]:
    """Lay out units `positions` of raft `raft` with the same terms; their places spread along
    the raft from the sea area's coordinates unless given. The caller commits."""
    area = session.scalar(select(SeaArea).where(SeaArea.code == sea_area_code))
    if area is None:
        raise NotFound("养殖海区不存在", code="SEA_AREA_NOT_FOUND")
    if session.get(Farm, farm_id) is None:
        raise NotFound("养殖户不存在", code="FARM_NOT_FOUND")
    line = session.scalar(select(ProductLine).where(ProductLine.code == product_line_code))
    if line is None:
        raise NotFound("产品品类不存在", code="PRODUCT_LINE_NOT_FOUND")
    _check_terms(terms)
    taken = set(
        session.scalars(
            select(AdoptionUnit.position).where(
                AdoptionUnit.sea_area_id == area.id,
                AdoptionUnit.raft == raft,
                AdoptionUnit.position.in_(positions),
            )
        )
    )
    if taken:
        raise Conflict(
            "这些位置已有认养单元", code="UNIT_EXISTS", details={"positions": sorted(taken)}
        )
    longest = f"{area.code}-R{raft}-{max(positions, default=0)}"
    if len(longest) > UNIT_CODE_LENGTH:
        raise BadRequest(
            f"海区编号太长：单元编号 {longest} 超过 {UNIT_CODE_LENGTH} 个字符",
            code="UNIT_CODE_TOO_LONG",
        )
    units = []
    for position in positions:
        unit = AdoptionUnit(
            code=f"{area.code}-R{raft}-{position}",
            farm_id=farm_id,
            sea_area_id=area.id,
            product_line_id=line.id,
            raft=raft,
            position=position,
            # rafts lie ~30 m apart, units ~5 m apart along a raft
            latitude=terms.get("latitude") or round(area.latitude + raft * 0.00027, 6),
            longitude=terms.get("longitude") or round(area.longitude + position * 0.000055, 6),
            **{k: v for k, v in terms.items() if k not in ("latitude", "longitude")},
        )
        session.add(unit)
        units.append(unit)
    session.flush()
    return units


def grid(session: Session, *, sea_area_id: int | None = None, raft: int | None = None) -> list:
    """Every unit open to adoption now or later, by raft and position, with whether it is free."""
    where = [AdoptionUnit.adopt_until >= today()]
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
    return [view(unit, free=is_free(unit, now)) for unit in units]


def free_count(session: Session, *, sea_area_id: int, raft: int | None = None) -> int:
    where = [
        AdoptionUnit.sea_area_id == sea_area_id,
        AdoptionUnit.adopt_until >= today(),
        (AdoptionUnit.status == FREE)
        | ((AdoptionUnit.status == HELD) & (AdoptionUnit.held_until < utcnow())),
    ]
    if raft is not None:
        where.append(AdoptionUnit.raft == raft)
    return session.scalar(select(func.count()).select_from(AdoptionUnit).where(*where))


def view(unit: AdoptionUnit, *, free: bool | None = None) -> dict:
    return {
        "id": unit.id,
        "code": unit.code,
        "name": unit_name(unit),
        "kind": unit.kind,
        "kind_name": KINDS[unit.kind],
        "species": unit.product_line.name,
        "raft": unit.raft,
        "position": unit.position,
        "sea_area": unit.sea_area.name,
        "household": unit.farm.name,
        "latitude": unit.latitude,
        "longitude": unit.longitude,
        "seeded_on": unit.seeded_on.isoformat(),
        "adopt_until": unit.adopt_until.isoformat(),
        "harvest_from": unit.harvest_from.isoformat(),
        "harvest_to": unit.harvest_to.isoformat(),
        "price": unit.price,
        "yield_g": unit.yield_g,
        "yield_jin": round(unit.yield_g / 500, 1),
        "max_parcels": unit.max_parcels,
        "loss_terms": unit.loss_terms,
        "loss_terms_text": _loss_text(unit),
        "status": unit.status,
        "status_name": STATUS_NAMES[unit.status],
        "free": is_free(unit) if free is None else free,
    }


def _loss_text(unit: AdoptionUnit) -> str:
    if unit.loss_terms == REPLACE:
        return "如遇台风、病害等灭失，免费换一个同品种的单元；无可换单元时全额退款"
    return f"如遇台风、病害等灭失，退还认养费的 {unit.loss_refund_percent}%"


def sea_area_id(session: Session, code: str) -> int:
    found = session.scalar(select(SeaArea.id).where(SeaArea.code == code))
    if found is None:
        raise NotFound("养殖海区不存在", code="SEA_AREA_NOT_FOUND")
    return found


def areas(session: Session) -> list[dict]:
    """Each sea area with units open to adoption, raft by raft: what grows there, the price and
    how many are free — the first screen of "认养一笼海"."""
    now = utcnow()
    rows = session.scalars(
        select(AdoptionUnit)
        .where(AdoptionUnit.adopt_until >= today())
        .order_by(AdoptionUnit.sea_area_id, AdoptionUnit.raft, AdoptionUnit.position)
    ).all()
    found: dict[int, dict] = {}
    for unit in rows:
        area = found.setdefault(
            unit.sea_area_id,
            {
                "code": unit.sea_area.code,
                "name": unit.sea_area.name,
                "latitude": unit.sea_area.latitude,
                "longitude": unit.sea_area.longitude,
                "rafts": {},
            },
        )
        raft = area["rafts"].setdefault(
            unit.raft,
            {
                "raft": unit.raft,
                "kind_name": KINDS[unit.kind],
                "species": unit.product_line.name,
                "household": unit.farm.name,
                "price": unit.price,
                "yield_jin": round(unit.yield_g / 500, 1),
                "units": 0,
                "free": 0,
            },
        )
        raft["units"] += 1
        raft["free"] += is_free(unit, now)
    return [{**area, "rafts": list(area["rafts"].values())} for area in found.values()]


def rafts_around(session: Session, unit: AdoptionUnit) -> list[dict]:
    """The sea area's rafts as rows of positions, for drawing where the unit lies."""
    rows = session.execute(
        select(AdoptionUnit.raft, AdoptionUnit.position)
        .where(AdoptionUnit.sea_area_id == unit.sea_area_id)
        .order_by(AdoptionUnit.raft, AdoptionUnit.position)
    ).all()
    rafts: dict[int, list[int]] = {}
    for raft, position in rows:
        rafts.setdefault(raft, []).append(position)
    return [{"raft": raft, "positions": positions} for raft, positions in rafts.items()]
