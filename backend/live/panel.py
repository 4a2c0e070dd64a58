"""What the host's control room shows, and polls as JSON once a second: the room (its status and
how that is followed, the product on screen and its card), the running flash sale, the last
one's result, the show's figures, the shelf and every listed SKU with its stock, and the comments
after a cursor. Also the start-sale form's defaults, so that starting a sale is one tap."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.catalogue import cache
from backend.catalogue import service as catalogue
from backend.inventory import service as inventory
from backend.live import cards, comments, following, rooms, sale_results, shelf, summary
from backend.live.models import FlashSale

SKUS_LISTED = 200
DEFAULT_UNITS = 50
DEFAULT_SECONDS = 300
DEFAULT_PER_PERSON = 2
DEFAULT_PAY_MINUTES = 5


def _listed_skus(session: Session) -> list[dict]:
    products, _ = catalogue.on_sale_products(session, page=1, page_size=SKUS_LISTED)
    return [
        {
            "id": sku.id,
            "name": f"{product.name} · {sku.grade.name} · {sku.spec}",
            "price": sku.price,
        }
        for product in products
        for sku in product.skus
        if sku.on_sale
    ]


def sku_options(session: Session) -> list[dict]:
    """The on-sale SKUs a host can show or sell: name, price (fen) and units in stock."""
    listed = cache.cached(("live-panel-skus",), lambda: _listed_skus(session))
    stock = inventory.available(session, [sku["id"] for sku in listed])
    return [{**sku, "stock": stock.get(sku["id"], 0)} for sku in listed]


def state(session: Session, *, room_id: int, after: str | None, comments_shown: int) -> dict:
    """The control room's whole state (comments only after the cursor `after`)."""
    room = rooms.get_room(session, room_id)
    detail = rooms.room_detail(session, room_id=room_id, custom_params={})
    running = detail.pop("flash_sale")
    sale = sale_results.sale_result(session, sale_id=running["id"]) if running else None
    detail["card"] = cards.card_state(session, room)
    detail["following"] = following.status_note()
    return {
        "room": detail,
        "flash_sale": sale,
        "last_sale": sale_results.last_result(session, room_id=room_id),
        "summary": summary.show_figures(session, room_id),
        "shelf": shelf.listing(session, room_id),
        "stock": {str(sku["id"]): sku["stock"] for sku in sku_options(session)},
        "comments": comments.read(room_id=room_id, after=after, limit=comments_shown),
    }


def sale_defaults(session: Session, *, room_id: int, options: list[dict]) -> dict:
    """The start-sale form filled for one tap: the product on screen (else the shelf's first),
    at the price of its last sale in this room (else its own price), 50 units or what stock
    allows, for 5 minutes, 2 per person, 5 minutes to pay. `last_prices` lets the page refill
    the price when the host picks another product."""
    room = rooms.get_room(session, room_id)
    listed = {sku["id"]: sku for sku in options}
    candidates = [room.on_screen_sku_id, *(item.sku_id for item in shelf.items(session, room_id))]
    sku_id = next((sku for sku in candidates if sku in listed), None)
    last_prices = dict(
        session.execute(
            select(FlashSale.sku_id, FlashSale.price)
            .where(FlashSale.room_id == room_id)
            .order_by(FlashSale.id)
        ).all()
    )  # the latest sale of each SKU wins
    units = DEFAULT_UNITS
    if sku_id is not None and listed[sku_id]["stock"] > 0:
        units = min(DEFAULT_UNITS, listed[sku_id]["stock"])
    return {
        "sku_id": sku_id,
        "price": last_prices.get(sku_id, listed[sku_id]["price"]) if sku_id else None,
        "units": units,
        "seconds": DEFAULT_SECONDS,
        "per_person_limit": min(DEFAULT_PER_PERSON, units),
        "pay_minutes": DEFAULT_PAY_MINUTES,
        "starts_in": "",
        "last_prices": last_prices,
    }
