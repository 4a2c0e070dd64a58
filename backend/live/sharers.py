"""Sales of a show by the sharer who brought each buyer (backend/live/entries.py): paid orders,
units and GMV (integer fen) per sharer, and a "自然流量" row for orders nobody shared. The
room's orders and the paid rule are the show summary's, so the rows add up to its figures."""

from __future__ import annotations

from sqlalchemy import Select, func, select, union
from sqlalchemy.orm import Session

from backend.csv_export import csv_text, yuan
from backend.live.models import FlashClaim, FlashSale, LiveClaim, LiveEntry
from backend.orders.models import Order, OrderItem

NATURAL = "自然流量"


def room_order_ids(room_id: int) -> Select:
    """The ids of the show's orders: comment claims, flash sales in the room, and orders placed
    in it."""
    sale_ids = select(FlashSale.id).where(FlashSale.room_id == room_id)
    return union(
        select(LiveClaim.order_id).where(LiveClaim.room_id == room_id),
        select(FlashClaim.order_id).where(FlashClaim.flash_sale_id.in_(sale_ids)),
        select(Order.id).where(Order.live_room_id == room_id),
    )


def by_sharer(session: Session, room_id: int) -> list[dict]:
    """A row per sharer (most GMV first) and the natural-traffic row last, each with the paid
    orders, their units and GMV, and the viewers that sharer brought into the room."""
    paid = (Order.id.in_(room_order_ids(room_id)), Order.paid_at.is_not(None))
    rows: dict[str | None, dict] = {}

    def row(sharer: str | None) -> dict:
        return rows.setdefault(
            sharer,
            {
                "sharer": sharer,
                "name": sharer or NATURAL,
                "viewers": 0,
                "orders": 0,
                "units": 0,
                "gmv": 0,
            },
        )

    for sharer, orders, gmv in session.execute(
        select(Order.sharer, func.count(), func.coalesce(func.sum(Order.total), 0))
        .where(*paid)
        .group_by(Order.sharer)
    ):
        row(sharer).update(orders=orders, gmv=int(gmv))
    for sharer, units in session.execute(
        select(Order.sharer, func.coalesce(func.sum(OrderItem.quantity), 0))
        .join(OrderItem, OrderItem.order_id == Order.id)
        .where(*paid)
        .group_by(Order.sharer)
    ):
        row(sharer)["units"] = int(units)
    for sharer, viewers in session.execute(
        select(LiveEntry.sharer, func.count())
        .where(LiveEntry.room_id == room_id)
        .group_by(LiveEntry.sharer)
    ):
        row(sharer)["viewers"] = viewers
    natural = row(None)
    shared = sorted(
        (found for key, found in rows.items() if key is not None),
        key=lambda found: (-found["gmv"], -found["orders"], found["name"]),
    )
    return [*shared, natural]


def report(session: Session, room_id: int) -> dict:
    """The per-sharer rows with their totals."""
    items = by_sharer(session, room_id)
    totals = {key: sum(item[key] for item in items) for key in ("viewers", "orders", "units")}
    totals["gmv"] = sum(item["gmv"] for item in items)
    return {"room_id": room_id, "items": items, "totals": totals}


def report_csv(session: Session, room_id: int) -> str:
    """The report as CSV for Excel: one row per sharer, then the totals."""
    found = report(session, room_id)
    rows = [["分享者", "带来观众", "支付订单", "件数", "成交额（元）"]]
    for item in found["items"]:
        rows.append(
            [item["name"], item["viewers"], item["orders"], item["units"], yuan(item["gmv"])]
        )
    totals = found["totals"]
    rows.append(["合计", totals["viewers"], totals["orders"], totals["units"], yuan(totals["gmv"])])
    return csv_text(rows)
