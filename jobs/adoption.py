from backend.adoption import adopting, losses
from backend.adoption.messages import tell_adopter
from backend.extensions import db
from jobs.base import job

# -- paying for an adoption ------------------------------------------------------------------


@job
def settle_adoptions() -> int:
    """Adoptions whose payment (or lapse) no read has seen yet: the unit becomes the buyer's, or
    goes back."""
    return adopting.sweep(db.session)


# -- loss --------------------------------------------------------------------------------------


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
