"""Adopting a unit: a buyer holds a free unit (one conditional UPDATE: of two buyers racing for
the last unit one wins, the other is told), pays for it through an order, and the adoption
becomes active when that order is paid — by the notification, a query or the sweep, whichever
sees it first. An unpaid hold lapses at the pay deadline (WeChat Pay closes the prepay then),
so the unit goes back and nothing is charged twice."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.adoption import units as unit_rules
from backend.adoption.models import (
    ACTIVE,
    ADOPTED,
    CANCELLED,
    COMPENSATED,
    FREE,
    HELD,
    PENDING,
    Adoption,
    AdoptionUnit,
)
from backend.errors import Conflict, NotFound, RuleBroken
from backend.orders import events, lifecycle, limits
from backend.orders import service as orders
from backend.orders.models import ADOPTION, PAID, PENDING_PAYMENT, Order
from backend.payments import service as payments
from backend.queue import enqueue, enqueue_at
from backend.timeutil import SHANGHAI, to_aware_utc, to_shanghai_iso, utcnow
from backend.transactions import on_commit

PAY_MINUTES = 15
# WeChat Pay refuses payment after the prepay's time_expire (the order's pay deadline); the
# unit stays held a little longer so a payment already under way can land.
HOLD_GRACE = timedelta(minutes=2)
MAX_UNPAID = 3  # adoptions one buyer may hold unpaid at once
PICK_TRIES = 8  # "let us pick": free units tried before telling the buyer none is left
PAID_STATES = (PAID, "SHIPPED", "DELIVERED", "COMPLETED", "REFUNDING", "PARTLY_REFUNDED")


def new_adoption_number(session: Session) -> str:
    """认养编号: year and a running number, short enough to say on a livestream."""
    year = to_aware_utc(utcnow()).astimezone(SHANGHAI).year
    for _ in range(5):
        number = f"RY{year}{secrets.randbelow(10**6):06d}"
        if session.scalar(select(Adoption.id).where(Adoption.number == number)) is None:
            return number
    return f"RY{year}{secrets.randbelow(10**9):09d}"


def _take(session: Session, unit_id: int, until) -> bool:
    """Hold the unit if it is free (or its hold lapsed): one statement, so one buyer wins."""
    now = utcnow()
    return (
        session.execute(
            update(AdoptionUnit)
            .where(
                AdoptionUnit.id == unit_id,
                AdoptionUnit.adopt_until >= unit_rules.today(),
                or_(
                    AdoptionUnit.status == FREE,
                    (AdoptionUnit.status == HELD) & (AdoptionUnit.held_until < now),
                ),
            )
            .values(status=HELD, held_until=until)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def _end_lapsed_adoption(session: Session, unit_id: int) -> None:
    """The unit's earlier buyer did not pay in time: their adoption ends and their order is
    cancelled, so the unit can be someone else's."""
    lapsed = session.scalar(
        select(Adoption).where(Adoption.holding_unit_id == unit_id, Adoption.status == PENDING)
    )
    if lapsed is not None:
        cancel_pending(session, lapsed, reason="认养超时未支付")


def cancel_pending(session: Session, adoption: Adoption, *, reason: str) -> None:
    """End an adoption still being paid for and cancel its order, so nothing is charged; the
    caller decides what becomes of the unit."""
    if adoption.order_id is not None:
        orders.cancel_unpaid(session, order_id=adoption.order_id, reason=reason)
    adoption.status, adoption.holding_unit_id, adoption.cancelled_at = CANCELLED, None, utcnow()
    session.flush()


def _check_adoptable(unit: AdoptionUnit) -> None:
    if unit.status in ("HARVESTED", "LOST"):
        raise RuleBroken(
            f"该单元{unit_rules.STATUS_NAMES[unit.status]}，不能认养", code="UNIT_CLOSED"
        )
    if unit.adopt_until < unit_rules.today():
        raise RuleBroken(
            "该单元已过认养期（投苗认养窗口已关闭）",
            code="ADOPTION_WINDOW_CLOSED",
            details={"adopt_until": unit.adopt_until.isoformat()},
        )


def _replay(session: Session, customer_id: int, key: str | None) -> Adoption | None:
    if key is None:
        return None
    return session.scalar(
        select(Adoption).where(Adoption.customer_id == customer_id, Adoption.idempotency_key == key)
    )


def adopt(
    session: Session,
    *,
    customer_id: int,
    unit_id: int | None = None,
    sea_area_id: int | None = None,
    raft: int | None = None,
    address: dict | None = None,
    idempotency_key: str | None = None,
    live_room_id: int | None = None,
    sharer: str | None = None,
    pay_minutes: int = PAY_MINUTES,
    ip: str | None = None,
) -> tuple[Adoption, bool]:
    """Hold unit `unit_id` (or let us pick a free one of the sea area / raft) for the buyer and
    make the order to pay for it. Answers (adoption, created); a retried key answers the first
    adoption. 409 UNIT_TAKEN when someone else has it, 409 NO_FREE_UNIT when none is left."""
    earlier = _replay(session, customer_id, idempotency_key)
    if earlier is not None:
        return earlier, False
    limits.count_order(customer_id=customer_id, ip=ip)  # an adoption is an order to pay
    unpaid = session.scalar(
        select(func.count())
        .select_from(Adoption)
        .where(Adoption.customer_id == customer_id, Adoption.status == PENDING)
    )
    if unpaid >= MAX_UNPAID:
        raise Conflict(
            f"您有 {unpaid} 个认养待支付，请先支付或取消", code="TOO_MANY_UNPAID_ADOPTIONS"
        )
    until = utcnow() + timedelta(minutes=pay_minutes) + HOLD_GRACE
    if unit_id is not None:
        unit = unit_rules.get_unit(session, unit_id)
        _check_adoptable(unit)
        if not _take(session, unit.id, until):
            session.rollback()
            raise Conflict("手慢了，这个单元刚被别人认养，请换一个", code="UNIT_TAKEN")
    else:
        unit = _pick(session, sea_area_id=sea_area_id, raft=raft, until=until)
    _end_lapsed_adoption(session, unit.id)
    adoption = _adoption_with_order(
        session,
        unit=unit,
        customer_id=customer_id,
        address=address or {},
        pay_minutes=pay_minutes,
        idempotency_key=idempotency_key,
        live_room_id=live_room_id,
        sharer=sharer,
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        earlier = _replay(session, customer_id, idempotency_key)
        if earlier is not None:  # the same request, twice at once
            return earlier, False
        raise Conflict("手慢了，这个单元刚被别人认养，请换一个", code="UNIT_TAKEN") from None
    return adoption, True


def _pick(session: Session, *, sea_area_id: int | None, raft: int | None, until) -> AdoptionUnit:
    """A free unit, chosen at random among the first free ones so racing buyers rarely try
    the same unit twice."""
    now = utcnow()
    where = [
        AdoptionUnit.adopt_until >= unit_rules.today(),
        or_(
            AdoptionUnit.status == FREE,
            (AdoptionUnit.status == HELD) & (AdoptionUnit.held_until < now),
        ),
    ]
    if sea_area_id is not None:
        where.append(AdoptionUnit.sea_area_id == sea_area_id)
    if raft is not None:
        where.append(AdoptionUnit.raft == raft)
    for _ in range(3):
        candidates = list(
            session.scalars(
                select(AdoptionUnit.id)
                .where(*where)
                .order_by(AdoptionUnit.raft, AdoptionUnit.position)
                .limit(64)
            )
        )
        if not candidates:
            break
        secrets.SystemRandom().shuffle(candidates)
        for unit_id in candidates[:PICK_TRIES]:
            if _take(session, unit_id, until):
                return session.get(AdoptionUnit, unit_id)
    session.rollback()
    raise Conflict("这一片的单元已全部被认养", code="NO_FREE_UNIT")


def _adoption_with_order(
    session: Session,
    *,
    unit: AdoptionUnit,
    customer_id: int,
    address: dict,
    pay_minutes: int,
    idempotency_key: str | None,
    live_room_id: int | None,
    sharer: str | None,
) -> Adoption:
    name = unit_rules.unit_name(unit)
    order = Order(
        number=orders.new_number(),
        kind=ADOPTION,
        customer_id=customer_id,
        goods_total=unit.price,
        total=unit.price,
        address=address,
        remark=f"{unit.sea_area.name} {name}",
        pay_deadline=utcnow() + timedelta(minutes=pay_minutes),
        live_room_id=live_room_id,
        sharer=sharer,
    )
    session.add(order)
    session.flush()
    events.record(session, order.id, "CREATED", total=order.total, adoption_unit=unit.code)
    adoption = Adoption(
        number=new_adoption_number(session),
        certificate_token=secrets.token_urlsafe(24),
        unit_id=unit.id,
        holding_unit_id=unit.id,
        customer_id=customer_id,
        idempotency_key=idempotency_key,
        order_id=order.id,
        price=unit.price,
        live_room_id=live_room_id,
        sharer=sharer,
    )
    session.add(adoption)
    session.flush()
    order_id, deadline = order.id, order.pay_deadline
    on_commit(
        session,
        lambda: enqueue_at(
            to_aware_utc(deadline),
            "jobs.orders.expire_unpaid_order",
            order_id,
            job_id=f"expire-order-{order_id}",
        ),
    )
    return adoption


def settle(session: Session, adoption: Adoption) -> Adoption:
    """Bring a paying adoption up to date with its order: paid → active (the unit is the
    buyer's), cancelled or past its hold → ended (the unit goes back). Commits a change."""
    if adoption.status != PENDING:
        return adoption
    order = session.get(Order, adoption.order_id)
    if order.status in PAID_STATES:
        changed = session.execute(
            update(Adoption)
            .where(Adoption.id == adoption.id, Adoption.status == PENDING)
            .values(status=ACTIVE, paid_at=order.paid_at or utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed:
            session.execute(
                update(AdoptionUnit)
                .where(AdoptionUnit.id == adoption.unit_id)
                .values(status=ADOPTED, held_until=None)
                .execution_options(synchronize_session=False)
            )
        session.commit()
    elif order.status != PENDING_PAYMENT or order.pay_deadline + HOLD_GRACE < utcnow():
        end_unpaid(session, adoption_id=adoption.id)
        session.commit()
    session.refresh(adoption)
    return adoption


def end_unpaid(session: Session, *, adoption_id: int) -> bool:
    """An adoption not paid in time (its order cancelled): the unit goes back. The caller
    cancels the order and commits."""
    adoption = session.get(Adoption, adoption_id)
    if adoption is None or adoption.status != PENDING:
        return False
    unit_id = adoption.holding_unit_id
    adoption.status, adoption.holding_unit_id, adoption.cancelled_at = CANCELLED, None, utcnow()
    session.flush()
    if unit_id is not None:
        session.execute(
            update(AdoptionUnit)
            .where(AdoptionUnit.id == unit_id, AdoptionUnit.status == HELD)
            .values(status=FREE, held_until=None)
            .execution_options(synchronize_session=False)
        )
    return True


def paid_origin(session: Session, adoption: Adoption) -> Adoption:
    """The paid adoption a chain of loss replacements started from (itself if none)."""
    while adoption.replaces_adoption_id is not None:
        adoption = session.get(Adoption, adoption.replaces_adoption_id)
    return adoption


def adoption_of_order(session: Session, order_id: int) -> Adoption | None:
    return session.scalar(select(Adoption).where(Adoption.order_id == order_id))


def sweep(session: Session) -> int:
    """Settle every adoption still paying (a lost notification, a lapsed hold), and every
    payment that landed after its adoption had lapsed."""
    pending = session.scalars(
        select(Adoption).where(Adoption.status == PENDING).order_by(Adoption.id).limit(500)
    ).all()
    for adoption in pending:
        settle(session, adoption)
    late = session.scalars(
        select(Adoption)
        .join(Order, Order.id == Adoption.order_id)
        .where(Adoption.status == CANCELLED, Order.status == PAID)
        .order_by(Adoption.id)
    ).all()
    for adoption in late:
        _paid_after_lapse(session, adoption)
    return len(pending) + len(late)


def _paid_after_lapse(session: Session, adoption: Adoption) -> None:
    """The money came after the hold lapsed: the unit is the buyer's if nobody took it
    meanwhile; otherwise the whole payment goes back and staff are told."""
    order = session.get(Order, adoption.order_id)
    if _take(session, adoption.unit_id, utcnow()):
        _end_lapsed_adoption(session, adoption.unit_id)
        session.execute(
            update(AdoptionUnit)
            .where(AdoptionUnit.id == adoption.unit_id)
            .values(status=ADOPTED, held_until=None)
            .execution_options(synchronize_session=False)
        )
        adoption.status, adoption.holding_unit_id = ACTIVE, adoption.unit_id
        adoption.paid_at, adoption.cancelled_at = order.paid_at or utcnow(), None
        session.commit()
        return
    payments.flag_anomaly(
        session, kind="PAID_AFTER_CANCEL", reference=order.number, order_id=order.id
    )
    refund = payments.create_refund(
        session,
        order=order,
        amount=order.total,
        after_sale_id=None,
        reason="付款时认养单元已被他人认养，全额退款",
    )
    lifecycle.move(session, order.id, "REFUND_REQUESTED", note={"refund_id": refund.id})
    refund_id = refund.id
    on_commit(session, lambda: enqueue("jobs.payments.submit_refund", refund_id))
    session.commit()


def get_adoption(session: Session, *, customer_id: int | None, adoption_id: int) -> Adoption:
    """The adoption if it is the customer's (None: staff); settled with its order."""
    adoption = session.get(Adoption, adoption_id)
    if adoption is None or (customer_id is not None and adoption.customer_id != customer_id):
        raise NotFound("认养不存在", code="ADOPTION_NOT_FOUND")
    return settle(session, adoption)


def my_adoptions(session: Session, *, customer_id: int) -> list[Adoption]:
    rows = session.scalars(
        select(Adoption)
        .where(Adoption.customer_id == customer_id, Adoption.status != CANCELLED)
        .order_by(Adoption.id.desc())
    ).all()
    return [settle(session, adoption) for adoption in rows]


def by_certificate(session: Session, token: str) -> Adoption:
    if not 20 <= len(token) <= 40:
        raise NotFound("认养证书不存在", code="CERTIFICATE_NOT_FOUND")
    adoption = session.scalar(select(Adoption).where(Adoption.certificate_token == token))
    if adoption is None or adoption.status in (PENDING, CANCELLED):
        raise NotFound("认养证书不存在", code="CERTIFICATE_NOT_FOUND")
    return adoption


STATUS_NAMES = {
    PENDING: "待支付",
    ACTIVE: "养殖中",
    CANCELLED: "已取消",
    COMPENSATED: "已灭失补偿",
}


def view(adoption: Adoption, *, order: Order | None = None) -> dict:
    """The adopter's own view: with the order to pay while paying, and the certificate's token."""
    unit = adoption.unit
    status = adoption.status
    if status == ACTIVE and unit.status == "HARVESTED":
        status_name = "已收获"
    else:
        status_name = STATUS_NAMES[status]
    return {
        "id": adoption.id,
        "number": adoption.number,
        "status": status,
        "status_name": status_name,
        "price": adoption.price,
        "unit": unit_rules.view(unit),
        "order_id": adoption.order_id,
        "pay_deadline": to_shanghai_iso(order.pay_deadline) if order is not None else None,
        "paid_at": to_shanghai_iso(adoption.paid_at),
        "certificate_token": adoption.certificate_token if status != PENDING else None,
        "compensation": adoption.compensation,
        "replaces_adoption_id": adoption.replaces_adoption_id,
    }


def certificate(adoption: Adoption) -> dict:
    """What anyone holding the certificate's link sees: the unit, where it lies, who tends it."""
    unit = adoption.unit
    return {
        "number": adoption.number,
        "adopted_on": to_aware_utc(adoption.paid_at or adoption.created_at)
        .astimezone(SHANGHAI)
        .date()
        .isoformat(),
        "status": adoption.status,
        "status_name": STATUS_NAMES[adoption.status],
        "unit": unit_rules.view(unit),
        "unit_status_name": unit_rules.STATUS_NAMES[unit.status],
        "lost_reason": unit.lost_reason,
        "farm": {
            "name": unit.farm.name,
            "cooperative": unit.farm.cooperative,
            "town": unit.farm.town,
        },
    }
