"""What a buyer is told about an order by subscribe message: a harvest parcel of an adoption is
told as the adoption's news (which unit, which parcel), every other order as the store's."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.adoption import harvest_orders
from backend.fulfilment import notify


def tell_buyer(session: Session, *, order_id: int, kind: str) -> str:
    if kind == "SHIPPED":
        told = harvest_orders.tell_parcel_shipped(session, order_id=order_id)
        if told is not None:
            return told
    return notify.tell_buyer(session, order_id=order_id, kind=kind)
