"""The warehouse's jobs: the minute's admissions and waves, waybills, WeChat's shipping
information and the buyer's messages."""

from backend.adoption import harvest_orders
from backend.extensions import db
from backend.fulfilment import notify
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
    if kind == "SHIPPED":  # a harvest parcel's adopter hears of it as their adoption's news
        told = harvest_orders.tell_parcel_shipped(db.session, order_id=order_id)
        if told is not None:
            return told
    return notify.tell_buyer(db.session, order_id=order_id, kind=kind)
