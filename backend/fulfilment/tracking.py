"""What a buyer sees of their parcel: its state, the courier and number, the courier's scans,
and until when a dead-on-arrival claim is open."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy.orm import Session

from backend.fulfilment import service as fulfilment
from backend.orders.models import Order
from backend.platforms.carriers import CARRIERS
from backend.timeutil import to_shanghai_iso

STATUS_TEXT = {
    "WAITING": "仓库备货中",
    "PACKED": "已打包，等待快递揽收",
    "SHIPPED": "已发货",
    "DELIVERED": "已签收",
    "STOPPED": "已停止发货",
}


def order_tracking(session: Session, order: Order) -> dict:
    parcel = fulfilment.parcel_of_order(session, order.id)
    doa_until = None
    if order.delivered_at is not None:
        hours = current_app.config["DOA_CLAIM_HOURS"]
        doa_until = to_shanghai_iso(order.delivered_at + timedelta(hours=hours))
    if parcel is None:
        status = "WAITING" if order.status == "PAID" else order.status
        return {
            "status": status,
            "status_text": STATUS_TEXT.get(status, "暂无物流信息"),
            "carrier": order.carrier,
            "carrier_name": CARRIERS.get(order.carrier or "", {}).get("name"),
            "tracking_no": order.tracking_no,
            "shipped_at": to_shanghai_iso(order.shipped_at),
            "delivered_at": to_shanghai_iso(order.delivered_at),
            "doa_claim_until": doa_until,
            "events": [],
        }
    return {**parcel_view(session, parcel), "doa_claim_until": doa_until}


def platform_order_tracking(session: Session, platform_order_id: int) -> dict | None:
    """The warehouse's parcel of a seller's platform order (None: self-fulfilled, or not yet
    admitted)."""
    parcel = fulfilment.parcel_of_platform_order(session, platform_order_id)
    return parcel_view(session, parcel) if parcel else None


def parcel_view(session: Session, parcel) -> dict:
    return {
        "status": parcel.status,
        "status_text": STATUS_TEXT[parcel.status],
        "carrier": parcel.carrier,
        "carrier_name": CARRIERS.get(parcel.carrier or "", {}).get("name"),
        "tracking_no": parcel.tracking_no,
        "shipped_at": to_shanghai_iso(parcel.shipped_at),
        "delivered_at": to_shanghai_iso(parcel.delivered_at),
        "events": [
            {
                "at": to_shanghai_iso(event.at),
                "state": event.state,
                "context": event.context,
                "location": event.location,
            }
            for event in fulfilment.parcel_events(session, parcel.id)
        ],
    }
