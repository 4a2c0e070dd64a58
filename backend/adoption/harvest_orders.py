"""The packing hook of an adopted unit's harvest: once the line packs a harvest batch, its lots
become one free, paid order of the adopter (to the parcel's address, a gift's too), holding those
very lots, which the fulfilment center then ships like any order — once, whatever runs it."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from backend.adoption import messages
from backend.adoption import units as unit_rules
from backend.adoption.models import Adoption, AdoptionDelivery, AdoptionUnit
from backend.batches.models import Batch
from backend.catalogue.models import Sku
from backend.errors import DomainError
from backend.inventory import service as inventory
from backend.inventory.models import KEPT, SELLABLE, Lot
from backend.orders import events, lifecycle
from backend.orders import service as orders
from backend.orders.models import HARVEST, Order, OrderItem
from backend.timeutil import to_shanghai_iso, utcnow
from backend.transactions import lock_row

log = logging.getLogger(__name__)

# The store's "shipped" subscribe message, worded for the harvest and opening the adoption.
SHIPPED_TEMPLATE = "TPL_ORDER_SHIPPED"


def order_harvest(session: Session, *, batch_id: int) -> Order | None:
    """The packing hook: once a harvest batch of an adoption is packed, its lots become one
    free, paid order of the adopter to the parcel's address, holding those lots' units — once
    (the parcel's order is unique; a second run answers the first order and takes nothing).
    None for a batch that is no adoption's or not packed yet. The caller commits."""
    delivery = session.scalar(select(AdoptionDelivery).where(AdoptionDelivery.batch_id == batch_id))
    if delivery is None:
        return None
    if delivery.order_id is None:
        lock_row(session, AdoptionDelivery, delivery.id)  # two hooks at once take turns
        session.refresh(delivery)
    if delivery.order_id is not None:
        return session.get(Order, delivery.order_id)
    lots = [
        (lot.id, lot.sku_id, lot.on_hand - lot.reserved)
        for lot in session.scalars(
            select(Lot)
            .where(
                Lot.batch_id == batch_id, Lot.status.in_((SELLABLE, KEPT)), Lot.use_by > utcnow()
            )
            .order_by(Lot.id)
        )
        if lot.on_hand > lot.reserved
    ]
    if not lots:
        return None
    adoption = session.get(Adoption, delivery.adoption_id)
    skus = {
        sku.id: sku
        for sku in session.scalars(
            select(Sku)
            .where(Sku.id.in_({sku_id for _, sku_id, _ in lots}))
            .options(selectinload(Sku.product), selectinload(Sku.grade))
        )
    }
    units: dict[int, int] = {}
    for _, sku_id, quantity in lots:
        units[sku_id] = units.get(sku_id, 0) + quantity
    name = unit_rules.unit_name(adoption.unit)
    remark = f"认养编号 {adoption.number} 的收获（{name}，第 {delivery.seq} 包）"
    if delivery.gift:
        remark += f"；赠言：{delivery.gift_message}" if delivery.gift_message else "；送礼"
    order = Order(
        number=orders.new_number(),
        kind=HARVEST,
        customer_id=adoption.customer_id,
        goods_total=0,
        shipping_fee=0,
        total=0,
        address=delivery.address,
        remark=remark[:200],
        pay_deadline=utcnow(),
        items=[
            OrderItem(
                sku_id=sku_id,
                product_name=skus[sku_id].product.name,
                grade=skus[sku_id].grade.name,
                spec=skus[sku_id].spec,
                unit_price=0,
                quantity=quantity,
                subtotal=0,
                pieces_per_pack=skus[sku_id].pieces_per_pack,
            )
            for sku_id, quantity in sorted(units.items())
        ],
    )
    session.add(order)
    session.flush()
    events.record(
        session, order.id, "CREATED", total=0, adoption=adoption.number, parcel=delivery.seq
    )
    for lot_id, _, quantity in lots:
        inventory.sell_lot(session, order_id=order.id, lot_id=lot_id, quantity=quantity)
    lifecycle.move(session, order.id, "PAID", note={"reason": "认养收获，免费寄送"})
    delivery.order_id = order.id
    session.flush()
    return order


def on_batch_packed(session: Session, *, plant_id: int, batch_code: str) -> int | None:
    """Called in the transaction of a packing report: the adoption's order, if the batch is
    one's. A refusal is logged and left to the sweep (order_packed_harvests) rather than
    failing the line's report. Answers the order's id."""
    batch_id = session.scalar(
        select(Batch.id).where(Batch.plant_id == plant_id, Batch.code == batch_code)
    )
    if batch_id is None:
        return None
    if session.scalar(select(AdoptionDelivery.id).where(AdoptionDelivery.batch_id == batch_id)):
        # the adopter's, whatever becomes of the order below: never on sale to anyone else
        inventory.keep_lots(session, batch_id=batch_id)
    try:
        with session.begin_nested():
            order = order_harvest(session, batch_id=batch_id)
    except DomainError as refused:
        log.warning("harvest order of batch %s not made: %s", batch_code, refused.message)
        return None
    return order.id if order is not None else None


def order_packed_harvests(session: Session) -> int:
    """Sweep: every packed harvest batch whose parcel has no order yet gets one. Commits each;
    answers how many were made."""
    batch_ids = list(
        session.scalars(
            select(AdoptionDelivery.batch_id)
            .join(Batch, Batch.id == AdoptionDelivery.batch_id)
            .where(AdoptionDelivery.order_id.is_(None), Batch.status == "PACKED")
            .order_by(AdoptionDelivery.id)
            .limit(500)
        )
    )
    made = 0
    for batch_id in batch_ids:
        if order_harvest(session, batch_id=batch_id) is not None:
            made += 1
        session.commit()
    return made


def tell_parcel_shipped(session: Session, *, order_id: int) -> str | None:
    """The adopter hears that a parcel of their harvest left — which unit, which parcel, a gift
    or not — once; the message opens their adoption. None when the order is no harvest parcel
    (the store's own message is sent instead)."""
    delivery = session.scalar(select(AdoptionDelivery).where(AdoptionDelivery.order_id == order_id))
    if delivery is None:
        return None
    adoption = session.get(Adoption, delivery.adoption_id)
    unit = session.get(AdoptionUnit, adoption.unit_id)
    parcels = session.scalar(
        select(func.count())
        .select_from(AdoptionDelivery)
        .where(AdoptionDelivery.adoption_id == adoption.id)
    )
    what = f"{unit_rules.unit_name(unit)}收获 第{delivery.seq}/{parcels}包"
    if delivery.gift:
        what += "·送礼"
    data = {
        "character_string1": {"value": adoption.number},
        "thing2": {"value": what[:20]},
        "character_string3": {"value": session.get(Order, order_id).tracking_no or "-"},
        "time4": {"value": to_shanghai_iso(utcnow())[:16].replace("T", " ")},
    }
    return messages.tell_adopter(
        session,
        adoption_id=adoption.id,
        kind="HARVEST",
        ref_id=delivery.id,
        template=SHIPPED_TEMPLATE,
        data=data,
    )
