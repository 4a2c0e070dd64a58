"""What the harvest looks like to each reader: the adopter's delivery plan, the staff's harvest
calendar, and the block a trace scan of a harvest parcel's code shows ("认养编号 … 的收获", the
unit, its household and its story; "你的 12号笼" when the adopter scans it)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.adoption import adopting
from backend.adoption import units as unit_rules
from backend.adoption.harvest import (
    HARVEST_LEAD_DAYS,
    MIN_PARCEL_G,
    YIELD_TOLERANCE,
    deliveries_of,
)
from backend.adoption.models import ACTIVE, LOST, Adoption, AdoptionDelivery, AdoptionUnit
from backend.batches.models import Batch
from backend.fulfilment.models import Parcel
from backend.inventory.models import Lot
from backend.orders.models import Order
from backend.timeutil import to_shanghai_iso

STATUS_NAMES = {
    "PLANNED": "待采收",
    "HARVESTED": "已采收，加工中",
    "PAID": "待发货",
    "SHIPPED": "已发货",
    "DELIVERED": "已签收",
    "COMPLETED": "已完成",
}
MAX_CALENDAR_DAYS = 92


def _status(delivery: AdoptionDelivery, order_status: str | None) -> str:
    if delivery.batch_id is None:
        return "PLANNED"
    if order_status is None:
        return "HARVESTED"
    return order_status


def delivery_view(
    delivery: AdoptionDelivery, *, order: Order | None = None, parcel: Parcel | None = None
) -> dict:
    status = _status(delivery, order.status if order else None)
    return {
        "id": delivery.id,
        "seq": delivery.seq,
        "deliver_on": delivery.deliver_on.isoformat(),
        "weight_g": delivery.weight_g,
        "weight_jin": round(delivery.weight_g / 500, 1),
        "address": delivery.address,
        "gift": delivery.gift,
        "gift_message": delivery.gift_message,
        "harvested_g": delivery.harvested_g,
        "status": status,
        "status_name": STATUS_NAMES.get(status, status),
        "order_id": delivery.order_id,
        "order_number": order.number if order else None,
        "tracking_no": parcel.tracking_no if parcel else None,
        "carrier": parcel.carrier if parcel else None,
    }


def _orders_and_parcels(session: Session, order_ids: list[int]) -> tuple[dict, dict]:
    if not order_ids:
        return {}, {}
    found = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(order_ids)))}
    parcels = {
        p.order_id: p for p in session.scalars(select(Parcel).where(Parcel.order_id.in_(order_ids)))
    }
    return found, parcels


def plan_view(session: Session, *, customer_id: int | None, adoption_id: int) -> dict:
    """The adoption's harvest plan as its adopter reads it (None: staff); 404 for another's."""
    adoption = adopting.get_adoption(session, customer_id=customer_id, adoption_id=adoption_id)
    unit = adoption.unit
    rows = deliveries_of(session, adoption.id)
    found, parcels = _orders_and_parcels(session, [d.order_id for d in rows if d.order_id])
    harvested = [d for d in rows if d.batch_id is not None]
    return {
        "adoption_id": adoption.id,
        "number": adoption.number,
        "unit": unit_rules.view(unit),
        "harvest_from": unit.harvest_from.isoformat(),
        "harvest_to": unit.harvest_to.isoformat(),
        "yield_g": unit.yield_g,
        "max_parcels": unit.max_parcels,
        "min_parcel_g": MIN_PARCEL_G,
        "changeable": adoption.status == ACTIVE
        and unit.status != LOST
        and unit.yield_g - sum(d.weight_g for d in harvested) >= MIN_PARCEL_G,
        "items": [
            delivery_view(d, order=found.get(d.order_id), parcel=parcels.get(d.order_id))
            for d in rows
        ],
        "total": len(rows),
    }


def harvest_calendar(
    session: Session, *, start: date, days: int = 14, farm_id: int | None = None
) -> list[dict]:
    """The parcels to lift from `start` for `days` days, by date and household: what staff
    schedule on the rafts. Each day lists only the days that have parcels."""
    days = max(1, min(days, MAX_CALENDAR_DAYS))
    where = [
        AdoptionDelivery.deliver_on >= start,
        AdoptionDelivery.deliver_on < start + timedelta(days=days),
        Adoption.status == ACTIVE,
    ]
    if farm_id is not None:
        where.append(AdoptionUnit.farm_id == farm_id)
    rows = session.execute(
        select(AdoptionDelivery, Adoption, AdoptionUnit, Batch.code)
        .join(Adoption, Adoption.id == AdoptionDelivery.adoption_id)
        .join(AdoptionUnit, AdoptionUnit.id == Adoption.unit_id)
        .outerjoin(Batch, Batch.id == AdoptionDelivery.batch_id)
        .where(*where)
        .order_by(
            AdoptionDelivery.deliver_on,
            AdoptionUnit.farm_id,
            AdoptionUnit.raft,
            AdoptionUnit.position,
            AdoptionDelivery.seq,
        )
    ).all()
    counts = dict(
        session.execute(
            select(AdoptionDelivery.adoption_id, func.count())
            .where(AdoptionDelivery.adoption_id.in_({a.id for _, a, _, _ in rows}))
            .group_by(AdoptionDelivery.adoption_id)
        ).all()
    )
    found, parcels = _orders_and_parcels(session, [d.order_id for d, *_ in rows if d.order_id])
    today = unit_rules.today()
    calendar: dict[date, dict] = {}
    for delivery, adoption, unit, batch_code in rows:
        day = calendar.setdefault(
            delivery.deliver_on,
            {
                "date": delivery.deliver_on.isoformat(),
                "parcels": 0,
                "weight_g": 0,
                "households": {},
            },
        )
        household = day["households"].setdefault(
            unit.farm_id, {"household": unit.farm.name, "parcels": []}
        )
        view = delivery_view(
            delivery, order=found.get(delivery.order_id), parcel=parcels.get(delivery.order_id)
        )
        receiver = str(delivery.address.get("name", ""))
        view.update(
            adoption_number=adoption.number,
            unit_id=unit.id,
            unit_code=unit.code,
            unit_name=unit_rules.unit_name(unit),
            sea_area=unit.sea_area.name,
            parcels_of_adoption=counts.get(adoption.id, 0),
            batch_code=batch_code,
            receiver=(receiver[:1] + "*" * max(len(receiver) - 1, 1)) if receiver else "",
            province=delivery.address.get("province", ""),
            max_harvest_g=int(delivery.weight_g * (1 + YIELD_TOLERANCE)),
            can_record=delivery.batch_id is None
            and today >= unit.harvest_from
            and (delivery.deliver_on - today).days <= HARVEST_LEAD_DAYS,
        )
        household["parcels"].append(view)
        day["parcels"] += 1
        day["weight_g"] += delivery.weight_g
    return [
        {**day, "households": list(day["households"].values())}
        for _, day in sorted(calendar.items())
    ]


# -- the trace scan ------------------------------------------------------------------------------
def _day(moment) -> str | None:
    return to_shanghai_iso(moment)[:10] if moment else None


def chain_block(session: Session, lot: Lot) -> dict | None:
    """The "adoption" block of a lot's trace chain when the lot is an adopted unit's harvest
    (None otherwise): the same for every scanner, so the chain's cache may keep it."""
    found = session.execute(
        select(AdoptionDelivery, Adoption)
        .join(Adoption, Adoption.id == AdoptionDelivery.adoption_id)
        .where(AdoptionDelivery.batch_id == lot.batch_id)
    ).first()
    if found is None:
        return None
    delivery, adoption = found
    unit = adoption.unit
    harvested_at = session.scalar(select(Batch.opened_at).where(Batch.id == delivery.batch_id))
    story = [
        {"what": "投苗", "at": unit.seeded_on.isoformat()},
        {"what": "认养", "at": _day(adoption.paid_at)},
        {"what": "采收", "at": _day(harvested_at)},
    ]
    return {
        "number": adoption.number,
        "title": f"认养编号 {adoption.number} 的收获",
        "unit": {
            "code": unit.code,
            "name": unit_rules.unit_name(unit),
            "raft": unit.raft,
            "position": unit.position,
            "kind": unit.kind,
            "sea_area": unit.sea_area.name,
            "household": unit.farm.name,
            "latitude": unit.latitude,
            "longitude": unit.longitude,
        },
        "parcel": delivery.seq,
        "harvested_g": delivery.harvested_g,
        "gift": delivery.gift,
        "story": story,
        "yours": False,
        "message": f"这是认养编号 {adoption.number}（{unit_rules.unit_name(unit)}）的收获",
    }


def _yours(unit: dict) -> str:
    return f"你的 {unit['position']}{unit_rules.UNIT_NAMES.get(unit['kind'], '号')}"


def for_scanner(session: Session, answer: dict, customer_id: int | None) -> dict:
    """A scan's answer as this scanner reads it: the adopter of the harvest reads "你的 12号笼"
    (a new dict; the cached chain is never changed)."""
    block = answer.get("adoption")
    if not block or customer_id is None:
        return answer
    adopter = session.scalar(select(Adoption.customer_id).where(Adoption.number == block["number"]))
    if adopter != customer_id:
        return answer
    message = f"{_yours(block['unit'])}：认养编号 {block['number']} 的收获"
    return {**answer, "adoption": {**block, "yours": True, "message": message}}
