"""A unit lost at sea (typhoon, disease): staff mark it once with the reason, and each adopter
gets what the unit's terms promise, once — a replacement unit of the same kind, or part of the
price back through WeChat Pay. A replacement needs a free unit; with none left the adopter gets
the whole price back instead."""

from __future__ import annotations

import secrets

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from backend.adoption import adopting
from backend.adoption import units as unit_rules
from backend.adoption.models import (
    ACTIVE,
    ADOPTED,
    COMPENSATED,
    FREE,
    HARVESTED,
    LOST,
    PENDING,
    REFUND,
    REPLACE,
    Adoption,
    AdoptionDelivery,
    AdoptionUnit,
)
from backend.audit import service as audit
from backend.errors import BadRequest, Conflict, NotFound
from backend.orders import lifecycle
from backend.orders.models import Order
from backend.payments import service as payments
from backend.payments.models import Refund
from backend.queue import enqueue
from backend.staff.models import Staff
from backend.timeutil import utcnow
from backend.transactions import on_commit

TEMPLATE = "TPL_ADOPTION_LOSS"


def declare_loss(session: Session, *, unit_ids: list[int], reason: str, staff_id: int) -> dict:
    """Mark the units lost and compensate their adopters; answers what was done. Refuses the
    whole declaration when one unit is already lost or harvested, so nothing is done twice."""
    reason = (reason or "").strip()
    if not reason:
        raise BadRequest("请填写损失原因（如：台风、病害）", code="LOSS_REASON_REQUIRED")
    ids = sorted(set(unit_ids))
    if not ids:
        raise BadRequest("请选择损失的认养单元", code="NO_UNITS_CHOSEN")
    found = session.scalars(select(AdoptionUnit).where(AdoptionUnit.id.in_(ids))).all()
    if len(found) != len(ids):
        raise NotFound("有认养单元不存在", code="UNIT_NOT_FOUND")
    _refuse_closed(found)
    now = utcnow()
    marked = session.execute(
        update(AdoptionUnit)
        .where(AdoptionUnit.id.in_(ids), AdoptionUnit.status.notin_((LOST, HARVESTED)))
        .values(
            status=LOST, held_until=None, lost_at=now, lost_reason=reason[:100], lost_by=staff_id
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if marked != len(ids):  # another declaration got there first
        session.rollback()
        raise Conflict("这些单元刚刚已被标记损失，请勿重复登记", code="LOSS_ALREADY_DECLARED")
    outcome = {"units": len(ids), "replaced": [], "refunded": [], "cancelled": []}
    holding = session.scalars(
        select(Adoption).where(Adoption.holding_unit_id.in_(ids)).order_by(Adoption.id)
    ).all()
    for adoption in holding:
        if adoption.status == PENDING:
            adopting.cancel_pending(session, adoption, reason="认养单元已灭失")
            outcome["cancelled"].append(adoption.number)
        elif adoption.status == ACTIVE:
            _compensate(session, adoption, reason=reason, lost=set(ids), outcome=outcome)
    staff = session.get(Staff, staff_id)
    audit.record(
        session,
        staff=staff,
        action="adoption.loss",
        target_type="adoption_unit",
        target_id=",".join(str(i) for i in ids)[:40],
        summary=f"标记 {len(ids)} 个认养单元损失（{reason}），换新 {len(outcome['replaced'])} "
        f"户，退款 {len(outcome['refunded'])} 户",
        after={"reason": reason, "status": LOST},
    )
    session.commit()
    return outcome


def _refuse_closed(found: list[AdoptionUnit]) -> None:
    lost = [u.code for u in found if u.status == LOST]
    if lost:
        raise Conflict(
            f"{len(lost)} 个单元已登记过损失，请勿重复登记",
            code="LOSS_ALREADY_DECLARED",
            details={"units": lost},
        )
    harvested = [u.code for u in found if u.status == HARVESTED]
    if harvested:
        raise Conflict(
            f"{len(harvested)} 个单元已收获，不能再登记损失",
            code="UNIT_ALREADY_HARVESTED",
            details={"units": harvested},
        )


def _compensate(
    session: Session, adoption: Adoption, *, reason: str, lost: set[int], outcome: dict
) -> None:
    claimed = session.execute(
        update(Adoption)
        .where(Adoption.id == adoption.id, Adoption.status == ACTIVE)
        .values(status=COMPENSATED, holding_unit_id=None, compensated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        return
    session.refresh(adoption)
    unit = adoption.unit
    percent = unit.loss_refund_percent
    # Parcels already lifted were received: only the share of the yield still at sea is made
    # good, and in money, since a whole new unit would give a whole harvest again.
    harvested = session.scalar(
        select(func.coalesce(func.sum(AdoptionDelivery.harvested_g), 0)).where(
            AdoptionDelivery.adoption_id == adoption.id
        )
    )
    if unit.loss_terms == REPLACE:
        replacement = None if harvested else _replacement_unit(session, unit, lost)
        if replacement is not None:
            adoption.compensation = REPLACE
            new = _adopt_replacement(session, adoption, replacement)
            outcome["replaced"].append(
                {"adoption": adoption.number, "replacement": new.number, "unit": replacement.code}
            )
            _tell_later(session, adoption.id)
            return
        percent = 100  # nothing to replace it with: the whole price (of what is left) back
    adoption.compensation = REFUND
    # A replacement was paid for by the adoption it replaced.
    paid = adopting.paid_origin(session, adoption)
    order = session.get(Order, paid.order_id)
    at_sea = max(unit.yield_g - harvested, 0)
    amount = paid.price * percent * at_sea // (100 * max(unit.yield_g, 1))
    if amount > 0:
        refund = payments.create_refund(
            session,
            order=order,
            amount=amount,
            after_sale_id=None,
            reason=f"认养单元灭失（{reason}），按约定退款 {percent}%",
            suffix="L",
        )
        lifecycle.try_move(session, order.id, "REFUND_REQUESTED", note={"refund_id": refund.id})
        adoption.refund_id = refund.id
        refund_id = refund.id
        on_commit(
            session,
            lambda: enqueue(
                "jobs.payments.submit_refund", refund_id, job_id=f"submit-refund-{refund_id}"
            ),
        )
    session.flush()
    outcome["refunded"].append({"adoption": adoption.number, "amount": amount})
    _tell_later(session, adoption.id)


def _replacement_unit(session: Session, unit: AdoptionUnit, lost: set[int]) -> AdoptionUnit | None:
    """A free unit of the same species still growing, the nearest alike first: same sea area,
    then same kind. Taken with one conditional update so a buyer cannot take it meanwhile."""
    candidates = session.scalars(
        select(AdoptionUnit.id)
        .where(
            AdoptionUnit.product_line_id == unit.product_line_id,
            AdoptionUnit.status == FREE,
            AdoptionUnit.harvest_to >= unit_rules.today(),
            AdoptionUnit.id.notin_(lost),
        )
        .order_by(
            case((AdoptionUnit.sea_area_id == unit.sea_area_id, 0), else_=1),
            case((AdoptionUnit.kind == unit.kind, 0), else_=1),
            AdoptionUnit.raft,
            AdoptionUnit.position,
        )
        .limit(20)
    ).all()
    for candidate in candidates:
        taken = session.execute(
            update(AdoptionUnit)
            .where(AdoptionUnit.id == candidate, AdoptionUnit.status == FREE)
            .values(status=ADOPTED, held_until=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken:
            return session.get(AdoptionUnit, candidate)
    return None


def _adopt_replacement(session: Session, lost: Adoption, unit: AdoptionUnit) -> Adoption:
    replacement = Adoption(
        number=adopting.new_adoption_number(session),
        certificate_token=secrets.token_urlsafe(24),
        unit_id=unit.id,
        holding_unit_id=unit.id,
        customer_id=lost.customer_id,
        price=0,
        status=ACTIVE,
        live_room_id=lost.live_room_id,
        sharer=lost.sharer,
        replaces_adoption_id=lost.id,
        paid_at=utcnow(),
    )
    session.add(replacement)
    session.flush()
    return replacement


def _tell_later(session: Session, adoption_id: int) -> None:
    on_commit(session, lambda: enqueue("jobs.adoption.tell_adopter_of_loss", adoption_id))


def loss_message(session: Session, adoption_id: int) -> dict:
    """The subscribe message's data: 认养编号, the unit, what the adopter gets, the reason."""
    adoption = session.get(Adoption, adoption_id)
    unit = adoption.unit
    if adoption.compensation == REPLACE:
        new = session.scalar(select(Adoption).where(Adoption.replaces_adoption_id == adoption.id))
        remedy = f"已免费换为{unit_rules.unit_name(new.unit)}"
    else:
        refund = session.get(Refund, adoption.refund_id) if adoption.refund_id else None
        remedy = f"退款¥{refund.amount / 100:.2f}，原路退回" if refund else "按约定处理"
    return {
        "character_string1": {"value": adoption.number},
        "thing2": {"value": f"{unit.sea_area.name}{unit_rules.unit_name(unit)}"[:20]},
        "thing3": {"value": f"{unit.lost_reason}灭失，{remedy}"[:20]},
    }
