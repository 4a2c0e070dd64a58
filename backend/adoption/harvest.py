"""An adopted unit's harvest: the adopter plans its parcels (dates within the harvest window, up
to the unit's number of parcels, the yield split between them, a parcel may go to another
address as a gift); on a parcel's date staff record the lift, which opens a batch the
processing line reports like any other. Once that batch is packed its lot becomes a free order
of the adopter (harvest_orders) that the fulfilment center ships with trace codes naming the
unit (harvest_views: the scan's block)."""

from __future__ import annotations

from datetime import date
from itertools import count

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.adoption import adopting
from backend.adoption import units as unit_rules
from backend.adoption.models import (
    ACTIVE,
    HARVESTED,
    LOST,
    Adoption,
    AdoptionDelivery,
    AdoptionUnit,
)
from backend.audit import service as audit
from backend.batches import service as batches
from backend.batches.models import Batch, Plant
from backend.catalogue.models import ProductLine
from backend.errors import BadRequest, Conflict, NotFound, RuleBroken
from backend.orders.models import Order
from backend.shipping import service as shipping
from backend.shipping.provinces import short_name
from backend.staff.models import Staff
from backend.timeutil import utcnow
from backend.transactions import lock_row, retry_conflicts

YIELD_TOLERANCE = 0.15  # a lift may weigh this much more than planned (shellfish are not exact)
MIN_PARCEL_G = 500  # 1 斤: less is not worth a cold-chain parcel
HARVEST_LEAD_DAYS = 3  # lifted at most this many days before the parcel's date, so it stays alive
MAX_GIFT_MESSAGE = 60


def _jin(grams: int) -> str:
    return f"{grams / 500:g}"


def _as_date(value) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadRequest("收货日期格式应为 YYYY-MM-DD", code="BAD_DELIVERY_DATE") from None


def deliveries_of(session: Session, adoption_id: int) -> list[AdoptionDelivery]:
    return list(
        session.scalars(
            select(AdoptionDelivery)
            .where(AdoptionDelivery.adoption_id == adoption_id)
            .order_by(AdoptionDelivery.deliver_on, AdoptionDelivery.seq)
        )
    )


def _check_open(adoption: Adoption) -> None:
    if adoption.status != ACTIVE:
        raise RuleBroken("认养尚未支付或已结束，不能安排收获寄送", code="ADOPTION_NOT_ACTIVE")
    if adoption.unit.status == LOST:
        raise RuleBroken("该单元已灭失，按灭失条款处理，不再寄送收获", code="UNIT_LOST")


def _check_date(unit: AdoptionUnit, day: date, today: date) -> None:
    if day < unit.harvest_from:
        raise RuleBroken(
            f"收货日期 {day.isoformat()} 早于收获期（{unit.harvest_from.isoformat()} 起），"
            "那时牡蛎还没到采收的时候，请选收获期内的日期",
            code="DELIVERY_BEFORE_HARVEST",
            details={"deliver_on": day.isoformat(), "harvest_from": unit.harvest_from.isoformat()},
        )
    if day > unit.harvest_to:
        raise RuleBroken(
            f"收货日期 {day.isoformat()} 晚于收获期（{unit.harvest_to.isoformat()} 止）",
            code="DELIVERY_AFTER_HARVEST",
            details={"deliver_on": day.isoformat(), "harvest_to": unit.harvest_to.isoformat()},
        )
    if day < today:
        raise RuleBroken("收货日期不能早于今天", code="DELIVERY_DATE_PASSED")


def _check_region(session: Session, address: dict) -> None:
    """A parcel of live shellfish goes only where the shipping rules send live products."""
    province = shipping.province(str(address.get("province", "")))
    if short_name(province) in shipping.regions_not_shipped_live(session):
        raise shipping.RegionNotShipped(
            f"鲜活牡蛎暂不发往{province}，无法保证鲜活送达，请换一个收货地址",
            details={"province": province},
        )


def _weights(plan: list[dict], remaining: int) -> list[int]:
    """Each parcel's grams: those given, the rest of the yield shared evenly by the others."""
    given = [p.get("weight_g") for p in plan]
    named = sum(w for w in given if w is not None)
    unnamed = given.count(None)
    if any(w is not None and w < MIN_PARCEL_G for w in given):
        raise RuleBroken(f"每个包裹至少 {MIN_PARCEL_G} 克（1 斤）", code="PARCEL_TOO_LIGHT")
    left = remaining - named
    if (unnamed and left < MIN_PARCEL_G * unnamed) or (not unnamed and left != 0):
        raise RuleBroken(
            f"各包裹重量之和应为 {remaining} 克（{_jin(remaining)} 斤），现为 {named} 克",
            code="WEIGHTS_DONT_ADD_UP",
            details={"yield_g": remaining, "planned_g": named},
        )
    share, extra = divmod(left, unnamed) if unnamed else (0, 0)
    weights = []
    for w in given:
        if w is None:
            w, extra = share + extra, 0
        weights.append(w)
    return weights


def plan_deliveries(
    session: Session, *, customer_id: int, adoption_id: int, deliveries: list[dict]
) -> list[AdoptionDelivery]:
    """Set the adopter's parcels not yet harvested ([{deliver_on, weight_g?, address?, gift?,
    gift_message?}]): each date within the unit's harvest window and not past, at most the
    unit's number of parcels, the yield split (evenly unless given), every address in a region
    live shellfish are shipped to. Parcels already harvested stay as they are. Commits;
    answers every parcel of the adoption by date. Another customer's adoption is 404."""
    adoption = adopting.get_adoption(session, customer_id=customer_id, adoption_id=adoption_id)
    _check_open(adoption)
    lock_row(session, Adoption, adoption.id)  # two plans at once take turns
    unit = adoption.unit
    existing = deliveries_of(session, adoption.id)
    fixed = [d for d in existing if d.batch_id is not None]
    remaining = unit.yield_g - sum(d.weight_g for d in fixed)
    if fixed and remaining < MIN_PARCEL_G:
        raise Conflict("收获已全部采收，寄送安排不能再修改", code="PLAN_LOCKED")
    if not deliveries:
        raise BadRequest("请至少安排一个包裹", code="NO_DELIVERIES")
    if len(fixed) + len(deliveries) > unit.max_parcels:
        raise RuleBroken(
            f"该单元的收获最多分 {unit.max_parcels} 个包裹寄出"
            + (f"（已采收 {len(fixed)} 个）" if fixed else ""),
            code="TOO_MANY_PARCELS",
            details={"max_parcels": unit.max_parcels, "harvested": len(fixed)},
        )
    today = unit_rules.today()
    home = session.scalar(select(Order.address).where(Order.id == adoption.order_id)) or {}
    rows = []
    for entry, weight in zip(deliveries, _weights(deliveries, remaining), strict=True):
        day = _as_date(entry.get("deliver_on"))
        _check_date(unit, day, today)
        gift = bool(entry.get("gift"))
        if gift and not entry.get("address"):
            raise BadRequest("送人的包裹请填写对方的收货地址", code="GIFT_ADDRESS_REQUIRED")
        address = entry.get("address") or home
        if not address:
            raise BadRequest("请填写收货地址", code="ADDRESS_REQUIRED")
        _check_region(session, address)
        message = str(entry.get("gift_message") or "").strip()
        if len(message) > MAX_GIFT_MESSAGE:
            raise BadRequest(f"赠言最多 {MAX_GIFT_MESSAGE} 个字", code="GIFT_MESSAGE_TOO_LONG")
        rows.append((day, weight, dict(address), gift, message if gift else ""))
    for delivery in existing:
        if delivery.batch_id is None:
            session.delete(delivery)
    session.flush()
    taken = {d.seq for d in fixed}
    free_seqs = (n for n in count(1) if n not in taken)
    for day, weight, address, gift, message in sorted(rows, key=lambda row: row[0]):
        session.add(
            AdoptionDelivery(
                adoption_id=adoption.id,
                seq=next(free_seqs),
                deliver_on=day,
                weight_g=weight,
                address=address,
                gift=gift,
                gift_message=message,
            )
        )
    session.commit()
    return deliveries_of(session, adoption.id)


# -- the lift -----------------------------------------------------------------------------------
def _delivery_to_harvest(
    session: Session, *, delivery_id: int | None, unit_id: int | None, on: date | None
) -> AdoptionDelivery:
    if delivery_id is not None:
        delivery = session.get(AdoptionDelivery, delivery_id)
        if delivery is None:
            raise NotFound("认养包裹不存在", code="DELIVERY_NOT_FOUND")
        return delivery
    if unit_id is None or on is None:
        raise BadRequest("请指定认养包裹，或单元与日期", code="DELIVERY_REQUIRED")
    delivery = session.scalar(
        select(AdoptionDelivery)
        .join(Adoption, Adoption.id == AdoptionDelivery.adoption_id)
        .where(
            Adoption.holding_unit_id == unit_id,
            AdoptionDelivery.deliver_on == on,
            AdoptionDelivery.batch_id.is_(None),
        )
        .order_by(AdoptionDelivery.seq)
    )
    if delivery is None:
        raise NotFound(f"该单元在 {on.isoformat()} 没有待采收的包裹", code="DELIVERY_NOT_FOUND")
    return delivery


def _plant(session: Session, plant_id: int | None) -> Plant:
    """A processing company's line (a farm system's key opens no batch)."""
    where = [Plant.active.is_(True), Plant.farm_id.is_(None)]
    where += [Plant.id == plant_id] if plant_id else []
    plant = session.scalar(select(Plant).where(*where).order_by(Plant.id))
    if plant is None:
        raise NotFound("加工厂不存在或已停用", code="PLANT_NOT_FOUND")
    return plant


@retry_conflicts
def record_harvest(
    session: Session,
    *,
    harvested_g: int,
    staff_id: int | None,
    delivery_id: int | None = None,
    unit_id: int | None = None,
    on: date | None = None,
    plant_id: int | None = None,
) -> AdoptionDelivery:
    """Staff lifted a parcel's share of the unit (the parcel `delivery_id`, or the unit's parcel
    of date `on`): its harvest opens a batch at the plant (the first active one unless given)
    that the line then reports like any other. Refused: a lift before the harvest window or too
    long before the parcel's date, and a weight beyond what the unit can give (the parcel's
    planned weight, and the unit's yield in all, each + YIELD_TOLERANCE). Commits."""
    delivery = _delivery_to_harvest(session, delivery_id=delivery_id, unit_id=unit_id, on=on)
    delivery_id = delivery.id
    # The adoption first, as a new plan does: a plan and the lifts of one adoption take turns,
    # so a plan never drops a parcel being lifted and two lifts never pass the yield together.
    lock_row(session, Adoption, delivery.adoption_id)
    lock_row(session, AdoptionDelivery, delivery_id)
    session.expire_all()
    delivery = session.get(AdoptionDelivery, delivery_id)
    if delivery is None:
        raise Conflict("认养人刚刚修改了寄送安排，请刷新后重试", code="PLAN_CHANGED")
    if delivery.batch_id is not None:
        raise Conflict("该包裹已记录采收", code="ALREADY_HARVESTED")
    adoption = session.get(Adoption, delivery.adoption_id)
    _check_open(adoption)
    unit = adoption.unit
    today = unit_rules.today()
    if today < unit.harvest_from:
        raise RuleBroken(
            f"未到收获期（{unit.harvest_from.isoformat()} 起），不能采收",
            code="HARVEST_NOT_STARTED",
        )
    if (delivery.deliver_on - today).days > HARVEST_LEAD_DAYS:
        raise RuleBroken(
            f"该包裹的收货日期是 {delivery.deliver_on.isoformat()}，"
            f"请在收货日期前 {HARVEST_LEAD_DAYS} 天内采收，以保证鲜活",
            code="HARVEST_TOO_EARLY",
        )
    if not isinstance(harvested_g, int) or harvested_g < 1:
        raise BadRequest("采收重量应为正整数（克）", code="BAD_HARVEST_WEIGHT")
    before = sum(
        d.harvested_g or 0 for d in deliveries_of(session, adoption.id) if d.id != delivery.id
    )
    parcel_limit = int(delivery.weight_g * (1 + YIELD_TOLERANCE))
    unit_limit = int(unit.yield_g * (1 + YIELD_TOLERANCE))
    if harvested_g > parcel_limit or before + harvested_g > unit_limit:
        raise RuleBroken(
            f"采收重量 {harvested_g} 克超出该单元可收获的重量：本包裹计划 {delivery.weight_g} 克，"
            f"整个单元 {unit.yield_g} 克，允许误差 {round(YIELD_TOLERANCE * 100)}%",
            code="YIELD_BEYOND_UNIT",
            details={
                "harvested_g": harvested_g,
                "parcel_limit_g": parcel_limit,
                "unit_limit_g": unit_limit - before,
            },
        )
    plant = _plant(session, plant_id)
    code = f"{adoption.number}-{delivery.seq}"
    batches.open_batch(
        session,
        plant,
        code=code,
        product_line=session.scalar(
            select(ProductLine.code).where(ProductLine.id == unit.product_line_id)
        ),
        sea_area=unit.sea_area.code,
        harvested_at=utcnow(),
        weight_g=harvested_g,
    )
    delivery.batch_id = session.scalar(
        select(Batch.id).where(Batch.plant_id == plant.id, Batch.code == code)
    )
    delivery.harvested_g = harvested_g
    session.flush()
    if all(d.batch_id is not None for d in deliveries_of(session, adoption.id)):
        session.execute(
            update(AdoptionUnit)
            .where(AdoptionUnit.id == unit.id)
            .values(status=HARVESTED)
            .execution_options(synchronize_session=False)
        )
    audit.record(
        session,
        staff=session.get(Staff, staff_id) if staff_id else None,
        action="adoption.harvest",
        target_type="adoption_delivery",
        target_id=delivery.id,
        summary=f"认养 {adoption.number}（{unit_rules.unit_name(unit)}）第 {delivery.seq} 包采收 "
        f"{harvested_g} 克，批次 {code}",
        after={"harvested_g": harvested_g, "batch": code, "plant": plant.name},
    )
    session.commit()
    return delivery
