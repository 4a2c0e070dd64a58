"""Each active adopter of a unit is told of its growth update once, by subscribe message within
WeChat's credits: the AdopterMessage row (unique per adoption, kind and update) is claimed
before sending, so a retried job or a second node sends nothing twice; 43101 (the adopter
granted no credit) and other refusals are kept as the outcome, never retried."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.adoption.growth import get_update, measurement_text
from backend.adoption.models import ACTIVE, AdopterMessage, Adoption, AdoptionUnit, GrowthUpdate
from backend.adoption.units import unit_name
from backend.clients.wechat import WeChatError, wechat_client
from backend.customers.models import Customer
from backend.timeutil import SHANGHAI, to_aware_utc

TEMPLATE = "TPL_ADOPTION_GROWTH"  # thing1 unit, thing2 what was measured, time3 when
MESSAGE_KIND = "UPDATE"


def tell_adopters(session: Session, *, update_id: int) -> dict[str, int]:
    """Tell each active adopter of the update's unit once (a rerun sends nothing twice; a hidden
    update is told to nobody). Answers how many of each outcome."""
    update = get_update(session, update_id)
    outcomes: dict[str, int] = {}
    if update.hidden:
        return outcomes
    unit = session.get(AdoptionUnit, update.unit_id)
    data = _message_data(unit, update)
    adoption_ids = list(
        session.scalars(
            select(Adoption.id)
            .where(Adoption.unit_id == update.unit_id, Adoption.status == ACTIVE)
            .order_by(Adoption.id)
        )
    )
    for adoption_id in adoption_ids:
        outcome = _tell_adopter(
            session,
            adoption_id=adoption_id,
            kind=MESSAGE_KIND,
            ref_id=update.id,
            template=TEMPLATE,
            data=data,
        )
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def _message_data(unit: AdoptionUnit, update: GrowthUpdate) -> dict:
    said = measurement_text(update.measurements).replace(" · ", " ")
    if not said:
        said = update.note or f"新拍了 {len(update.photos)} 张照片"
    when = to_aware_utc(update.measured_at).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return {
        "thing1": {"value": unit_name(unit)[:20]},
        "thing2": {"value": said[:20]},
        "time3": {"value": when},
    }


def _tell_adopter(
    session: Session, *, adoption_id: int, kind: str, ref_id: int, template: str, data: dict
) -> str:
    """Send unless sent (the AdopterMessage row is claimed first); answers the outcome
    ("already" when another run sent it). 43101 (no credit left) and other refusals are kept
    as the outcome; a transient failure forgets the claim and propagates for the job's retry."""
    session.add(AdopterMessage(adoption_id=adoption_id, kind=kind, ref_id=ref_id))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return "already"
    this = (
        AdopterMessage.adoption_id == adoption_id,
        AdopterMessage.kind == kind,
        AdopterMessage.ref_id == ref_id,
    )
    openid = session.scalar(
        select(Customer.openid)
        .join(Adoption, Adoption.customer_id == Customer.id)
        .where(Adoption.id == adoption_id)
    )
    try:
        wechat_client().send_subscribe_message(
            openid, template, data, page=f"pages/adoption/detail?id={adoption_id}"
        )
        outcome = "sent"
    except WeChatError as refused:
        if refused.errcode in (None, -1):
            session.execute(delete(AdopterMessage).where(*this))
            session.commit()
            raise
        outcome = f"refused:{refused.errcode}"
    session.scalar(select(AdopterMessage).where(*this)).outcome = outcome
    session.commit()
    return outcome
