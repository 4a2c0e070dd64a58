"""An order's stock and parcel: units held first-expiring-first-out with the ledger rows of its
life, the wave that collected it, the courier's waybill and scans."""

from __future__ import annotations

import random
from datetime import datetime

from backend.demo_history import shape
from backend.demo_history.plans import HOUR, MINUTE, Life, Line
from backend.demo_history.stock import Stock
from backend.demo_history.writer import Writer
from backend.fulfilment.models import Parcel, TrackingEvent, Wave
from backend.inventory.models import (
    COMMIT,
    COMMITTED,
    RELEASE,
    RELEASED,
    RESERVE,
    SHIP,
    SHIPPED,
    StockReservation,
)
from backend.timeutil import SHANGHAI, to_aware_utc


class Waves:
    """The day's 14:00 wave, written the first time a parcel needs it."""

    def __init__(self, writer: Writer, staff_id: int | None):
        self.writer, self.staff_id, self.ids = writer, staff_id, {}

    def id_for(self, cutoff: datetime) -> int:
        if cutoff not in self.ids:
            local = to_aware_utc(cutoff).astimezone(SHANGHAI)
            self.ids[cutoff] = self.writer.add(
                Wave,
                {
                    "number": "W" + local.strftime("%Y%m%d-%H%M"),
                    "cutoff_at": cutoff,
                    "created_by": self.staff_id,
                    "created_at": cutoff,
                },
            )
        return self.ids[cutoff]


def tracking_number(writer: Writer, life: Life) -> str | None:
    """The waybill of the parcel about to be written (H marks the demo year's)."""
    if not life.shipped:
        return None
    return f"{shape.TRACKING_PREFIX[life.courier]}H{writer.next_ids['parcels']:011d}"


def write_parcel(
    writer: Writer,
    waves: Waves,
    rng: random.Random,
    end: datetime,
    *,
    order_id=None,
    platform_order_id=None,
    channel: str,
    number: str,
    seller_id=None,
    life: Life,
    lines: list[Line],
    receiver: tuple[str, str, int],
    staff_id,
) -> int:
    """The warehouse's parcel of a paid order and the courier's scans of it."""
    name, phone, place = receiver
    province, city = shape.PLACES[place][0], shape.PLACES[place][1]
    if life.refunded:
        status = "STOPPED"
    elif life.delivered:
        status = "DELIVERED"
    elif life.shipped:
        status = "SHIPPED"
    else:
        status = "WAITING"
    wave_id = waves.id_for(life.cutoff) if life.cutoff <= end and not life.refunded else None
    shipped = life.shipped
    parcel_id = writer.next_ids["parcels"]
    tracking = tracking_number(writer, life)
    scans = []
    if shipped:
        scans.append((shipped + HOUR, "COLLECTED", "快件已揽收", "山东省威海市乳山市"))
        end_of_way = life.delivered or end
        middle = shipped + (end_of_way - shipped) / 2
        if middle > shipped + HOUR:
            scans.append(
                (middle, "IN_TRANSIT", "快件运输中，已到达转运中心", f"{province}转运中心")
            )
        if life.delivered:
            scans.append((life.delivered, "DELIVERED", "快件已签收，签收人：本人", city))
    writer.add(
        Parcel,
        {
            "order_id": order_id,
            "platform_order_id": platform_order_id,
            "channel": channel,
            "order_number": number,
            "seller_id": seller_id,
            "paid_at": life.paid,
            "units": sum(line.quantity for line in lines),
            "summary": "；".join(f"{line.sku.title} x{line.quantity}" for line in lines)[:200],
            "receiver_name": name[:40],
            "phone_last4": phone[-4:],
            "province": province,
            "status": status,
            "wave_id": wave_id,
            "carrier": life.courier if shipped else None,
            "tracking_no": tracking,
            "label_url": None,
            "push_salt": None,
            "courier_state": scans[-1][1] if scans else None,
            "last_event_at": scans[-1][0] if scans else None,
            "waybill_error": None,
            "packed_by": staff_id if shipped else None,
            "packed_at": shipped - 20 * MINUTE if shipped else None,
            "shipped_at": shipped,
            "delivered_at": life.delivered,
            "wechat_uploaded_at": shipped + 2 * MINUTE if shipped and order_id else None,
            "wechat_error": None,
            "created_at": life.paid,
            "updated_at": (scans[-1][0] if scans else life.refunded or life.paid),
        },
    )
    for at, state, context, location in scans:
        writer.add(
            TrackingEvent,
            {
                "parcel_id": parcel_id,
                "at": at,
                "state": state,
                "context": context,
                "location": location,
            },
        )
    return parcel_id


def take_units(stock: Stock, life: Life, lines: list[Line], at: datetime, end: datetime):
    """Each line's units from lots sellable for as long as the order holds them:
    [(line, [(lot id, units)])]."""
    until = life.cancelled or life.refunded or life.shipped or max(life.ship_due, end)
    return [(line, stock.take(line.sku.id, line.quantity, at, until)) for line in lines]


def write_holds(
    stock: Stock, life: Life, taken, at: datetime, *, order_id=None, platform_order_id=None
) -> None:
    """The holds and ledger rows of the order's life: reserve (at `at`), commit when paid, then
    ship or release."""
    writer = stock.writer
    owner = {"order_id": order_id, "platform_order_id": platform_order_id}
    released = life.cancelled or life.refunded
    for line, parts in taken:
        for lot_id, units in parts:
            if life.shipped:
                status = SHIPPED
            elif released:
                status = RELEASED
            else:
                status = COMMITTED if life.paid else "HELD"
            writer.add(
                StockReservation,
                {
                    **owner,
                    "flash_sale_id": None,
                    "lot_id": lot_id,
                    "sku_id": line.sku.id,
                    "quantity": units,
                    "status": status,
                    "returned": 0,
                    "created_at": at,
                    "updated_at": released or life.shipped or life.paid or at,
                },
            )
            stock.move(lot_id, RESERVE, at, reserved=units, reason="下单锁定库存", **owner)
            if life.paid:
                stock.move(lot_id, COMMIT, max(life.paid, at), reason="已支付", **owner)
            if life.shipped:
                stock.move(
                    lot_id,
                    SHIP,
                    life.shipped,
                    on_hand=-units,
                    reserved=-units,
                    reason="发货出库",
                    **owner,
                )
            elif released:
                reason = (
                    "未发货退款，库存释放" if life.refunded else f"{life.cancel_reason}，释放库存"
                )
                stock.move(lot_id, RELEASE, released, reserved=-units, reason=reason, **owner)
            else:
                stock.lots[lot_id].reserved += units
