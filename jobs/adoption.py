"""Adoption's jobs: thin rq functions that load by id and call one service."""

from backend.adoption import adopting, growth_messages, harvest_orders, losses
from backend.adoption.messages import tell_adopter
from backend.extensions import db
from jobs.base import job

# -- paying for an adoption ------------------------------------------------------------------


@job
def settle_adoptions() -> int:
    """Adoptions whose payment (or lapse) no read has seen yet: the unit becomes the buyer's, or
    goes back."""
    return adopting.sweep(db.session)


# -- growth updates (backend/adoption/growth.py) -----------------------------------------------


@job
def tell_growth_adopters(update_id: int) -> dict[str, int]:
    """Each active adopter of the update's unit gets its subscribe message once (a rerun sends
    nothing twice; 43101, no credit left, is kept as the outcome)."""
    return growth_messages.tell_adopters(db.session, update_id=update_id)


# -- loss ----------------------------------------------------------------------------------------


@job
def tell_adopter_of_loss(adoption_id: int) -> str:
    return tell_adopter(
        db.session,
        adoption_id=adoption_id,
        kind="LOST",
        ref_id=0,
        template=losses.TEMPLATE,
        data=losses.loss_message(db.session, adoption_id),
    )


# -- harvest: packed harvest batches become the adopters' orders (backend/adoption/harvest*) -----


@job
def order_packed_harvests() -> int:
    """Safety net for the packing hook: every packed harvest batch without its order gets one."""
    return harvest_orders.order_packed_harvests(db.session)
