"""Each active adopter of a unit is told of its growth update once, by subscribe message within
WeChat's credits, through backend/adoption/messages.py (once per adoption and update; 43101
kept as the outcome)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.adoption.growth import get_update, measurement_text
from backend.adoption.messages import tell_adopter
from backend.adoption.models import ACTIVE, Adoption, AdoptionUnit, GrowthUpdate
from backend.adoption.units import unit_name
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
        outcome = tell_adopter(
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
