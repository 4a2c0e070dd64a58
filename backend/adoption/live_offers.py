"""认养上屏: a host puts an adoption offer on screen in a live room — the free units of a sea
area (or of one raft) — and viewers hold one by the claim button or by commenting "扣1" /
"认养", exactly as a flash-sale claim holds stock: one conditional UPDATE decides the unit
(adopting.adopt), the buyer pays the adoption's order within the offer's pay window, and an
unpaid hold lapses so the unit goes back. One offer at a time per room."""

from __future__ import annotations

import math

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.adoption import adopting
from backend.adoption import units as unit_rules
from backend.adoption.models import KINDS, PENDING, Adoption, AdoptionUnit, LiveAdoptionOffer
from backend.audit import service as audit
from backend.batches.models import SeaArea
from backend.errors import Conflict, NotFound, RuleBroken
from backend.live import entries
from backend.live.models import FINISHED, LiveRoom
from backend.live.rooms import get_room
from backend.orders.models import Order
from backend.queue import redis_client
from backend.staff.models import Staff
from backend.timeutil import to_shanghai_iso, utcnow
from backend.transactions import lock_row, retry_conflicts

RUNNING, ENDED = "RUNNING", "ENDED"
PAY_MINUTES = 15


def current_offer(session: Session, room_id: int) -> LiveAdoptionOffer | None:
    """The adoption offer on screen in the room now, if any."""
    return session.scalar(
        select(LiveAdoptionOffer)
        .where(LiveAdoptionOffer.room_id == room_id, LiveAdoptionOffer.status == RUNNING)
        .order_by(LiveAdoptionOffer.id.desc())
    )


def _where(raft: int | None) -> str:
    """After the sea area's name: its raft on screen, if only one."""
    return f" · {raft}号筏" if raft is not None else ""


def start_offer(
    session: Session,
    *,
    room_id: int,
    sea_area_id: int,
    raft: int | None,
    pay_minutes: int = PAY_MINUTES,
    staff_id: int | None,
) -> LiveAdoptionOffer:
    """Put the free units of a sea area (or one raft) on screen: 409 while another offer is on
    screen in the room, 409 NO_FREE_UNIT when none is left to offer, 422 for a room that ended."""
    room = get_room(session, room_id)
    if room.live_status == FINISHED:
        raise RuleBroken("本场直播已结束，不能再上屏认养", code="ROOM_NOT_LIVE")
    area = session.get(SeaArea, sea_area_id)
    if area is None:
        raise NotFound("养殖海区不存在", code="SEA_AREA_NOT_FOUND")
    lock_row(session, LiveRoom, room_id)  # two hosts pressing at once: one offer
    if current_offer(session, room_id) is not None:
        session.rollback()
        raise Conflict("本直播间已有认养在上屏，请先结束它", code="ADOPTION_OFFER_RUNNING")
    free = unit_rules.free_count(session, sea_area_id=sea_area_id, raft=raft)
    if free == 0:
        session.rollback()
        raise Conflict(f"{area.name}{_where(raft)}没有可认养的单元", code="NO_FREE_UNIT")
    offer = LiveAdoptionOffer(
        room_id=room_id,
        sea_area_id=sea_area_id,
        raft=raft,
        pay_minutes=pay_minutes,
        status=RUNNING,
        created_by=staff_id,
    )
    session.add(offer)
    session.flush()
    audit.record(
        session,
        staff=session.get(Staff, staff_id) if staff_id else None,
        action="adoption.live_offer_start",
        target_type="live_adoption_offer",
        target_id=offer.id,
        summary=f"直播间 {room.name} 认养上屏：{area.name}{_where(raft)}，"
        f"可认养 {free} 个，{pay_minutes} 分钟内付款",
        after={"sea_area_id": sea_area_id, "raft": raft, "pay_minutes": pay_minutes, "free": free},
    )
    session.commit()
    redis_client().set(_gate_key(offer.id), free, ex=GATE_TTL)
    return offer


def end_offer(session: Session, *, room_id: int, staff_id: int | None) -> LiveAdoptionOffer:
    """Take the room's adoption offer off screen; holds already made stay to be paid."""
    room = get_room(session, room_id)
    lock_row(session, LiveRoom, room_id)
    offer = current_offer(session, room_id)
    if offer is None:
        session.rollback()
        raise RuleBroken("当前没有上屏的认养", code="NO_ADOPTION_OFFER")
    offer.status, offer.ended_at = ENDED, utcnow()
    held = _adoptions_in_room(session, offer)
    audit.record(
        session,
        staff=session.get(Staff, staff_id) if staff_id else None,
        action="adoption.live_offer_end",
        target_type="live_adoption_offer",
        target_id=offer.id,
        summary=f"直播间 {room.name} 认养下屏：本次认养 {held} 个",
        before={"status": RUNNING},
        after={"status": ENDED, "adoptions": held},
    )
    session.commit()
    redis_client().delete(_gate_key(offer.id))
    return offer


def _adoptions_in_room(session: Session, offer: LiveAdoptionOffer) -> int:
    """Adoptions (paying or paid) made in the offer's room while it was on screen."""
    return session.scalar(
        select(func.count())
        .select_from(Adoption)
        .join(AdoptionUnit, AdoptionUnit.id == Adoption.unit_id)
        .where(
            Adoption.live_room_id == offer.room_id,
            Adoption.holding_unit_id.is_not(None),
            Adoption.created_at >= offer.created_at,
            AdoptionUnit.sea_area_id == offer.sea_area_id,
        )
    )


def offer_view(session: Session, offer: LiveAdoptionOffer | None) -> dict | None:
    """What viewers and the host see of an offer: where, what it costs, what it yields, and
    how many units are still free."""
    if offer is None:
        return None
    where = [AdoptionUnit.sea_area_id == offer.sea_area_id]
    if offer.raft is not None:
        where.append(AdoptionUnit.raft == offer.raft)
    sample = session.scalar(
        select(AdoptionUnit)
        .where(*where, AdoptionUnit.adopt_until >= unit_rules.today())
        .order_by(AdoptionUnit.price, AdoptionUnit.raft, AdoptionUnit.position)
    )
    area = session.get(SeaArea, offer.sea_area_id)
    free = unit_rules.free_count(session, sea_area_id=offer.sea_area_id, raft=offer.raft)
    return {
        "id": offer.id,
        "status": offer.status,
        "sea_area": area.code,
        "sea_area_name": area.name,
        "raft": offer.raft,
        "title": f"{area.name}{_where(offer.raft)}认养",
        "kind_name": KINDS[sample.kind] if sample else None,
        "household": sample.farm.name if sample else None,
        "price": sample.price if sample else None,
        "yield_jin": round(sample.yield_g / 500, 1) if sample else None,
        "harvest_from": sample.harvest_from.isoformat() if sample else None,
        "free": free if offer.status == RUNNING else 0,
        "sold_out": offer.status == RUNNING and free == 0,
        "pay_minutes": offer.pay_minutes,
        "started_at": to_shanghai_iso(offer.created_at),
        "ended_at": to_shanghai_iso(offer.ended_at),
    }


def _mine(session: Session, *, room_id: int, customer_id: int, key: str) -> list[Adoption]:
    """The viewer's adoption under this key and their holds in this room still unpaid."""
    return list(
        session.scalars(
            select(Adoption)
            .where(
                Adoption.customer_id == customer_id,
                or_(
                    Adoption.idempotency_key == key,
                    (Adoption.live_room_id == room_id) & (Adoption.status == PENDING),
                ),
            )
            .order_by(Adoption.id.desc())
        )
    )


# The gate in front of the database: how many of the offer's units may still be free. A claim
# takes one from it before it tries the database, so once they are gone the rest of the crowd
# is told at once instead of queueing for the write. The database still decides every hold;
# the gate only turns people away, and it is recounted from the database (at most once a
# RECOUNT_SECONDS) whenever it says none is left — so units that come back (a hold not paid in
# time) are offered again, and a count gone wrong heals itself.
# KEYS: the count. Answers the count left after taking one, -1 none left, -2 no count yet.
TAKE = """
local left = redis.call('GET', KEYS[1])
if not left then return -2 end
if tonumber(left) <= 0 then return -1 end
return redis.call('DECR', KEYS[1])
"""
RECOUNT_SECONDS = 1
GATE_TTL = 24 * 3600


def _gate_key(offer_id: int) -> str:
    return f"heli:adoption:offer:{offer_id}:free"


def _admit(session: Session, offer_id: int, terms: dict) -> bool:
    """Whether this claim may try the database for a unit (False: none is left)."""
    redis, key = redis_client(), _gate_key(offer_id)
    left = redis.eval(TAKE, 1, key)
    if left >= 0:
        return True
    if not redis.set(f"{key}:recount", 1, nx=True, ex=RECOUNT_SECONDS):
        return left == -2  # no count yet and another claim is making it: the database decides
    free = unit_rules.free_count(session, **terms)
    redis.set(key, max(free - 1, 0), ex=GATE_TTL)  # this claim takes one of them
    return free > 0


def _sold_out() -> Conflict:
    return Conflict("手慢了，本轮认养的单元已被抢光", code="NO_FREE_UNIT", details={"free": 0})


@retry_conflicts
def claim(
    session: Session,
    *,
    room_id: int,
    customer_id: int,
    idempotency_key: str,
    address: dict | None = None,
    unit_id: int | None = None,
    position: int | None = None,
    ip: str | None = None,
) -> tuple[Adoption, bool]:
    """Hold a free unit of the offer on screen (the one the viewer tapped, else one we pick)
    for the viewer and make the order to pay for it.
    Answers (adoption, created): a retried key, or a viewer whose earlier hold in this room is
    still unpaid, gets that same hold. 422 NO_ADOPTION_OFFER when nothing is on screen, 409
    NO_FREE_UNIT when every unit is taken (told without a try when none is free)."""
    mine = _mine(session, room_id=room_id, customer_id=customer_id, key=idempotency_key)
    replay = next((a for a in mine if a.idempotency_key == idempotency_key), None)
    if replay is not None:
        return replay, False
    offer = current_offer(session, room_id)
    if offer is None:
        get_room(session, room_id)  # NotFound for a room that does not exist
        raise RuleBroken("主播当前没有上屏认养，暂时不能认养", code="NO_ADOPTION_OFFER")
    for unpaid in mine:  # "扣1" again while the first hold waits for payment
        if adopting.settle(session, unpaid).status == PENDING:
            return unpaid, False
    terms = {"sea_area_id": offer.sea_area_id, "raft": offer.raft}
    if position is not None:  # "12号笼" said in the room: that unit of the raft on screen
        unit_id = _unit_at(session, offer, position)
    if unit_id is not None:
        _check_in_offer(session, offer, unit_id)
        terms = {"unit_id": unit_id}
    offer_id, pay_minutes = offer.id, offer.pay_minutes
    admitted = _admit(session, offer_id, terms)
    session.rollback()  # the reads end here: the hold is decided in a transaction of its own
    if not admitted:
        raise _sold_out()
    try:
        if session.get_bind().dialect.name == "sqlite":
            # SQLite has one writer: begin with the write, so the transaction's snapshot is
            # never stale when it takes the unit (PostgreSQL's row locks let racers go abreast).
            lock_row(session, LiveAdoptionOffer, offer_id)
        return adopting.adopt(
            session,
            customer_id=customer_id,
            **terms,
            address=address,
            idempotency_key=idempotency_key,
            live_room_id=room_id,
            sharer=entries.sharer_of(session, room_id=room_id, customer_id=customer_id),
            pay_minutes=pay_minutes,
            ip=ip,
        )
    except Conflict as refused:
        if refused.code != "NO_FREE_UNIT":
            redis_client().incr(_gate_key(offer_id))  # the unit it counted is still free
            raise
        raise _sold_out() from None
    except BaseException:  # refused, or a collision retried from the start: it counts again
        redis_client().incr(_gate_key(offer_id))
        raise


def _unit_at(session: Session, offer: LiveAdoptionOffer, position: int) -> int:
    where = [AdoptionUnit.sea_area_id == offer.sea_area_id, AdoptionUnit.position == position]
    if offer.raft is not None:
        where.append(AdoptionUnit.raft == offer.raft)
    found = session.scalars(select(AdoptionUnit.id).where(*where)).all()
    if len(found) != 1:
        raise RuleBroken(
            f"本场上屏认养里没有唯一的 {position} 号单元，请看屏幕上的格子再选",
            code="UNIT_NOT_IN_OFFER",
        )
    return found[0]


def _check_in_offer(session: Session, offer: LiveAdoptionOffer, unit_id: int) -> None:
    unit = unit_rules.get_unit(session, unit_id)
    if unit.sea_area_id != offer.sea_area_id or offer.raft not in (None, unit.raft):
        raise RuleBroken("这个单元不在本场上屏认养中", code="UNIT_NOT_IN_OFFER")


def hold_text(adoption: Adoption) -> str:
    """How the held unit is said to the viewer: "3号筏 12号笼"."""
    return unit_rules.unit_name(adoption.unit)


def hold_message(session: Session, adoption: Adoption) -> str:
    """The hold in words, "已为你保留 3号筏 12号笼，请在15分钟内付款" (or that it is paid)."""
    name = hold_text(adoption)
    if adoption.status != PENDING:
        return f"{name} 已是你的认养（认养编号 {adoption.number}）"
    order = session.get(Order, adoption.order_id)
    seconds = (order.pay_deadline - utcnow()).total_seconds()
    return f"已为你保留 {name}，请在{max(1, math.ceil(seconds / 60))}分钟内付款"
