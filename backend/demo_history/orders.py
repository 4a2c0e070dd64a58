"""The demo year's store orders (mini-program and live room), each written with its whole life
decided at once: items, payment, stock holds and ledger rows, the parcel and the courier's scans,
refunds and dead-on-arrival claims, with statuses as they stand at the end of the year."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from backend.aftersales.models import DEAD_ON_ARRIVAL, REFUND_ONLY, AfterSale
from backend.demo_history import shape
from backend.demo_history.context import Context
from backend.demo_history.fulfil import (
    Waves,
    take_units,
    tracking_number,
    write_holds,
    write_parcel,
)
from backend.demo_history.plans import DAY, HOUR, MINUTE, Buyers, Life, Planned, life
from backend.demo_history.stock import Stock
from backend.demo_history.writer import Writer
from backend.fulfilment.models import LIVE, MINIPROGRAM
from backend.orders.models import Order, OrderItem
from backend.payments.models import Payment, Refund
from backend.timeutil import SHANGHAI, to_aware_utc


def _shipping_fee(goods: int, place_days: int, live: bool) -> int:
    if live or goods >= 19900:
        return 0  # live-room orders and large ones ship free
    return {1: 1800, 2: 2600, 3: 3200}.get(place_days, 3800)


def write_store_order(
    ctx: Context,
    stock: Stock,
    waves: Waves,
    buyers: Buyers,
    rng: random.Random,
    planned: Planned,
    end: datetime,
) -> dict | None:
    """A mini-program or live-room order with everything that followed it; answers what a show
    summary counts of it, or None when it was too recent to be written."""
    writer = stock.writer
    live = planned.channel == LIVE
    customer_id, openid, name, phone, place = buyers.pick(planned.created)
    place_days = shape.PLACES[place][5]
    story = life(
        rng,
        planned.created,
        end,
        unpaid=0.14 if live else 0.07,
        refund=0.015,
        place_days=place_days,
        couriers=shape.STORE_COURIERS,
    )
    if story is None:
        return None
    created = planned.created
    goods = sum(line.quantity * line.unit_price for line in planned.lines)
    total = goods + _shipping_fee(goods, place_days, live)
    order_id = writer.next_ids["orders"]
    number = f"HL{to_aware_utc(created).astimezone(SHANGHAI):%Y%m%d%H%M%S}{order_id:010d}"
    taken = take_units(stock, story, planned.lines, created, end)
    doa = _dead_on_arrival(rng, story, taken, stock, end, hot=shape.hot_day(created.date()))
    tracking = tracking_number(writer, story)
    refunded_total = total if story.refunded else (doa["amount"] if doa and doa["paid"] else 0)
    status = _store_status(story)
    sharer = planned.sale.sharer(rng) if live else None
    writer.add(
        Order,
        {
            "number": number,
            "customer_id": customer_id,
            "status": status,
            "goods_total": goods,
            "shipping_fee": total - goods,
            "total": total,
            "refunded_total": refunded_total,
            "address": {
                "name": name,
                "phone": phone,
                "province": shape.PLACES[place][0],
                "city": shape.PLACES[place][1],
                "district": "",
                "detail": f"{rng.randint(1, 300)} 号 {rng.randint(1, 30)} 单元",
            },
            "remark": "",
            "flash_sale_id": planned.sale.id if live else None,
            "live_room_id": planned.sale.room_id if live else None,
            "sharer": sharer,
            "pay_deadline": created + timedelta(minutes=15),
            "paid_at": story.paid,
            "shipped_at": story.shipped,
            "carrier": story.courier if story.shipped else None,
            "tracking_no": tracking,
            "delivered_at": story.delivered,
            "completed_at": story.completed,
            "cancelled_at": story.cancelled,
            "cancel_reason": story.cancel_reason,
            "status_before_refund": "PAID" if story.refunded else None,
            "created_at": created,
            "updated_at": max(
                t
                for t in (
                    created,
                    story.paid,
                    story.cancelled,
                    story.shipped,
                    story.delivered,
                    story.completed,
                    story.refunded,
                )
                if t
            ),
        },
    )
    item_ids = []
    for line in planned.lines:
        item_ids.append(
            writer.add(
                OrderItem,
                {
                    "order_id": order_id,
                    "sku_id": line.sku.id,
                    "product_name": line.sku.product_name,
                    "grade": line.sku.grade_name,
                    "spec": line.sku.spec,
                    "unit_price": line.unit_price,
                    "quantity": line.quantity,
                    "subtotal": line.unit_price * line.quantity,
                    "pieces_per_pack": line.sku.pieces_per_pack,
                },
            )
        )
    if story.paid or rng.random() < 0.5:
        payment_id = writer.next_ids["payments"]
        writer.add(
            Payment,
            {
                "order_id": order_id,
                "out_trade_no": number,
                "amount": total,
                "payer_openid": openid,
                "prepay_id": f"wx_hist_{payment_id}",
                "prepay_expires_at": created + timedelta(hours=2),
                "status": "SUCCESS" if story.paid else "CLOSED",
                "transaction_id": f"4200{payment_id:020d}" if story.paid else None,
                "paid_at": story.paid,
                "confirmed_by": "notification" if story.paid else None,
                "created_at": created + timedelta(seconds=5),
                "updated_at": story.paid or story.cancelled,
            },
        )
    write_holds(stock, story, taken, created, order_id=order_id)
    if live:
        planned.sale.claims(
            writer,
            rng,
            order_id=order_id,
            customer_id=customer_id,
            quantity=planned.lines[0].quantity,
            at=created,
            paid=story.paid,
        )
    if story.paid:
        write_parcel(
            writer,
            waves,
            rng,
            end,
            order_id=order_id,
            channel=LIVE if live else MINIPROGRAM,
            number=number,
            life=story,
            lines=planned.lines,
            receiver=(name, phone, place),
            staff_id=ctx.staff_id,
        )
    if story.refunded:
        _after_sale(
            writer,
            ctx.staff_id,
            order_id,
            customer_id,
            REFUND_ONLY,
            "不想要了，申请退款",
            total,
            asked=story.refund_asked,
            decided=story.refunded,
            number=number,
            item_id=None,
        )
    if doa:
        index = doa["index"]
        _after_sale(
            writer,
            ctx.staff_id,
            order_id,
            customer_id,
            DEAD_ON_ARRIVAL,
            doa["reason"],
            doa["amount"],
            asked=doa["asked"],
            decided=doa["decided"],
            number=number,
            item_id=item_ids[index],
            dead=doa["dead"],
            verdict=doa["verdict"],
        )
    units = sum(line.quantity for line in planned.lines)
    return {"paid": story.paid is not None, "total": total, "sharer": sharer, "units": units}


def _store_status(story: Life) -> str:
    if story.cancelled:
        return "CANCELLED"
    if story.refunded:
        return "REFUNDED"
    if story.completed:
        return "COMPLETED"
    if story.delivered:
        return "DELIVERED"
    if story.shipped:
        return "SHIPPED"
    return "PAID"


def _dead_on_arrival(rng, story: Life, taken, stock: Stock, end: datetime, *, hot):
    """Whether the buyer found dead oysters: more often with the slow courier, in summer heat,
    far away, and from a bad batch. Decided before the order is written (its refunded total)."""
    if not story.delivered:
        return None
    claimable = [
        index
        for index, (line, _) in enumerate(taken)
        if line.sku.pieces_per_pack and line.sku.form == "live"
    ]
    if not claimable:
        return None
    index = claimable[0]
    line, parts = taken[index]
    bad = any(stock.lots[lot_id].bad for lot_id, _ in parts)
    chance = 0.02 * story.doa_factor * (2.0 if hot else 1.0) * (5.0 if bad else 1.0)
    chance *= 1.4 if story.extra_days or story.delivered - story.shipped > 2.5 * DAY else 1.0
    if rng.random() >= chance:
        return None
    asked = story.delivered + HOUR * rng.uniform(0.3, 20)
    if asked > end:
        return None
    pieces = line.quantity * line.sku.pieces_per_pack
    dead = max(1, min(pieces, int(pieces * rng.uniform(0.05, 0.3))))
    amount = -(-line.unit_price * line.quantity * dead // pieces)
    decided = asked + HOUR * rng.uniform(1, 30)
    verdict = "PENDING" if decided > end else ("REJECTED" if rng.random() < 0.08 else "REFUNDED")
    return {
        "index": index,
        "dead": dead,
        "amount": amount,
        "asked": asked,
        "decided": decided if verdict != "PENDING" else None,
        "verdict": verdict,
        "paid": verdict == "REFUNDED",
        "reason": rng.choice(shape.DOA_REASONS),
    }


def _after_sale(
    writer: Writer,
    staff_id,
    order_id: int,
    customer_id: int,
    kind: str,
    reason: str,
    amount: int,
    *,
    asked,
    decided,
    number: str,
    item_id,
    dead=None,
    verdict="REFUNDED",
) -> None:
    case_id = writer.add(
        AfterSale,
        {
            "order_id": order_id,
            "customer_id": customer_id,
            "type": kind,
            "reason": reason,
            "photos": ["/media/demo/doa.jpg"] if kind == DEAD_ON_ARRIVAL else [],
            "dead_count": dead,
            "order_item_id": item_id,
            "refund_amount": amount,
            "status": verdict,
            "staff_id": staff_id if decided else None,
            "staff_note": "照片看不出死亡，已驳回" if verdict == "REJECTED" else "",
            "decided_at": decided,
            "created_at": asked,
            "updated_at": decided or asked,
        },
    )
    if verdict == "REFUNDED":
        writer.add(
            Refund,
            {
                "order_id": order_id,
                "after_sale_id": case_id,
                "out_refund_no": f"{number}R{case_id}",
                "amount": amount,
                "reason": reason[:80],
                "status": "SUCCESS",
                "refund_id": f"5030{case_id:020d}",
                "succeeded_at": decided + 2 * MINUTE,
                "created_at": decided,
                "updated_at": decided + 2 * MINUTE,
            },
        )
