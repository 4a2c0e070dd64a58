"""The order's history; every domain that changes an order records what it did here."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.orders.models import OrderEvent


def record(session: Session, order_id: int, kind: str, **data) -> None:
    session.add(OrderEvent(order_id=order_id, kind=kind, data=data))
