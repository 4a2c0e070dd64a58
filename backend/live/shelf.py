"""A room's shelf: the products of the show, numbered as the host shows them on screen ("3号"),
and the live facts the co-host bot answers from (price, grade, origin, harvest, depuration,
stock, the running sale)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.catalogue import service as catalogue
from backend.catalogue.models import Grade
from backend.errors import Conflict, NotFound, RuleBroken
from backend.inventory import service as inventory
from backend.live import flash_sales, rooms
from backend.live.models import RUNNING, FlashSale, LiveRoom, LiveShelfItem
from backend.live.rooms import get_room
from backend.shipping import service as shipping
from backend.timeutil import to_aware_utc
from backend.trace.chain import chain_for_lot

MAX_ITEMS = 99


def add(session: Session, *, room_id: int, sku_id: int, number: int | None = None) -> LiveShelfItem:
    """Put a SKU on the room's shelf under a number (the next free one by default); a SKU
    already there keeps its number."""
    get_room(session, room_id)
    existing = session.scalar(
        select(LiveShelfItem).where(
            LiveShelfItem.room_id == room_id, LiveShelfItem.sku_id == sku_id
        )
    )
    if existing is not None and number in (None, existing.number):
        return existing
    sku = catalogue.skus_for_sale(session, [sku_id]).get(sku_id)
    if sku is None or not (sku.on_sale and sku.product.on_sale):
        raise NotFound("商品不存在或已下架", code="SKU_NOT_FOUND")
    if number is None:
        highest = session.scalar(
            select(func.max(LiveShelfItem.number)).where(LiveShelfItem.room_id == room_id)
        )
        number = (highest or 0) + 1
    if not 1 <= number <= MAX_ITEMS:
        raise RuleBroken(f"商品编号需在 1 到 {MAX_ITEMS} 之间", code="INVALID_SHELF_NUMBER")
    if existing is not None:
        existing.number = number
        item = existing
    else:
        item = LiveShelfItem(room_id=room_id, sku_id=sku_id, number=number)
        session.add(item)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"{number}号已被其他商品占用", code="SHELF_NUMBER_TAKEN") from None
    return item


def remove(session: Session, *, room_id: int, number: int) -> None:
    item = session.scalar(
        select(LiveShelfItem).where(
            LiveShelfItem.room_id == room_id, LiveShelfItem.number == number
        )
    )
    if item is None:
        raise NotFound(f"没有 {number}号商品", code="SHELF_ITEM_NOT_FOUND")
    session.delete(item)
    session.commit()


def items(session: Session, room_id: int) -> list[LiveShelfItem]:
    return list(
        session.scalars(
            select(LiveShelfItem)
            .where(LiveShelfItem.room_id == room_id)
            .order_by(LiveShelfItem.number)
        )
    )


def listing(session: Session, room_id: int) -> list[dict]:
    """The shelf as the mini-program and console show it, with price and stock."""
    shelf = items(session, room_id)
    sku_ids = [item.sku_id for item in shelf]
    skus = catalogue.skus_for_sale(session, sku_ids)
    stock = inventory.available(session, sku_ids)
    return [
        {
            "number": item.number,
            "sku_id": item.sku_id,
            "name": skus[item.sku_id].product.name,
            "grade": skus[item.sku_id].grade.name,
            "spec": skus[item.sku_id].spec,
            "price": skus[item.sku_id].price,
            "stock": stock[item.sku_id],
        }
        for item in shelf
        if item.sku_id in skus
    ]


def _depuration(chain: dict) -> dict | None:
    for step in chain["processing"]["steps"]:
        if "净化" in step["name"]:
            return step
    return None


def room_facts(session: Session, room_id: int) -> dict:
    """Everything the co-host bot may say about the room right now, read from live data."""
    room: LiveRoom = get_room(session, room_id)
    shelf = listing(session, room_id)
    sku_ids = [entry["sku_id"] for entry in shelf]
    skus = catalogue.skus_for_sale(session, sku_ids)
    grades = {
        grade.id: grade
        for grade in session.scalars(
            select(Grade).where(Grade.id.in_({sku.grade_id for sku in skus.values()}))
        )
    }
    lots = inventory.lots_on_sale(session, sku_ids)
    sales = {
        sale.sku_id: sale
        for sale in session.scalars(
            select(FlashSale).where(FlashSale.room_id == room_id, FlashSale.status == RUNNING)
        )
    }
    for entry in shelf:
        sku = skus[entry["sku_id"]]
        grade = grades[sku.grade_id]
        entry["form"] = sku.form
        entry["pieces_per_pack"] = sku.pieces_per_pack
        entry["pieces_per_kg"] = (grade.min_pieces_per_kg, grade.max_pieces_per_kg)
        lot = lots.get(sku.id)
        entry["lot"] = None
        if lot is not None:
            chain = chain_for_lot(session, lot.id)
            entry["lot"] = {
                "code": lot.code,
                "use_by": lot.use_by,
                "packed_at": lot.packed_at,
                "origin": chain["origin"],
                "depuration": _depuration(chain),
                "inspection": chain["inspection"],
            }
        sale = sales.get(sku.id)
        entry["flash_sale"] = None
        if sale is not None:
            view = flash_sales.sale_view(session, sale_id=sale.id)
            entry["flash_sale"] = {
                "id": sale.id,
                "price": sale.price,
                "units": sale.units,
                "remaining": view["remaining"],
                "per_person_limit": sale.per_person_limit,
                "ends_at": to_aware_utc(sale.ends_at).timestamp(),
                "starts_at": to_aware_utc(sale.starts_at).timestamp(),
            }
    on_screen = next((e["number"] for e in shelf if e["sku_id"] == room.on_screen_sku_id), None)
    return {
        "room_id": room.id,
        "name": room.name,
        "live_status": room.live_status,
        "on_screen": on_screen,
        "shelf": shelf,
        "shipping": shipping.shop_facts(session),
    }


def show(session: Session, *, room_id: int, sku_id: int | None) -> str:
    """Put a product on screen (it joins the shelf if it was not there, so viewers can name
    its number); answers the card's state as rooms.put_on_screen does."""
    if sku_id is not None:
        add(session, room_id=room_id, sku_id=sku_id)
    return rooms.put_on_screen(session, room_id=room_id, sku_id=sku_id)
