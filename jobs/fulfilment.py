"""The warehouse's jobs: the minute's admissions and waves, waybills, WeChat's shipping
information and the buyer's messages."""

from backend.extensions import db
from backend.flows import buyer_messages
from backend.fulfilment import service as fulfilment
from jobs.base import job


@job
def form_due_wave() -> int | None:
    """Every minute: new paid orders become parcels; a passed cut-off gathers its wave."""
    wave = fulfilment.form_due_wave(db.session)
    return wave.id if wave else None


@job
def label_parcel(parcel_id: int) -> str:
    """A packed parcel's waybill (retried while the courier is down), then it ships."""
    return fulfilment.label_parcel(db.session, parcel_id).status


@job
def upload_shipping(parcel_id: int) -> bool:
    return fulfilment.upload_shipping(db.session, parcel_id)


@job
def tell_buyer(order_id: int, kind: str) -> str:
    return buyer_messages.tell_buyer(db.session, order_id=order_id, kind=kind)
