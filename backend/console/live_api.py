"""/console/api/flash-sales: the host starts and stops flash sales and watches them."""

from __future__ import annotations

from apiflask import APIBlueprint

from backend.console.access import staff_required
from backend.extensions import db
from backend.live import flash_sales, following, hosts, moderation, rooms, shelf, summary
from backend.live.schemas import OnScreenIn, RoomIn, ShelfIn, StartSaleIn
from backend.staff import permissions as perms

bp = APIBlueprint("live_api", __name__, tag="Console: live")


@bp.post("/flash-sales")
@staff_required(perms.LIVE_HOST)
@bp.input(StartSaleIn, arg_name="body")
def start_flash_sale(body, staff):
    if body.get("room_id") is not None:
        hosts.hosted_room(db.session, room_id=body["room_id"], staff=staff)
    sale = flash_sales.start_sale(db.session, staff_id=staff.id, **body)
    return flash_sales.sale_view(db.session, sale_id=sale.id), 201


@bp.post("/flash-sales/<int:sale_id>/stop")
@staff_required(perms.LIVE_HOST)
def stop_flash_sale(sale_id: int, staff):
    hosts.hosted_sale(db.session, sale_id=sale_id, staff=staff)
    flash_sales.end_sale(db.session, sale_id=sale_id)
    return flash_sales.sale_view(db.session, sale_id=sale_id)


@bp.get("/flash-sales/<int:sale_id>")
@staff_required(perms.LIVE_HOST)
def watch_flash_sale(sale_id: int, staff):
    hosts.hosted_sale(db.session, sale_id=sale_id, staff=staff)
    return flash_sales.sale_view(db.session, sale_id=sale_id)


@bp.post("/live/rooms")
@staff_required(perms.LIVE_HOST)
@bp.input(RoomIn, arg_name="body")
def create_room(body, staff):
    room = rooms.create_room(db.session, **body, staff_id=staff.id)
    return rooms.room_detail(db.session, room_id=room.id, custom_params={}), 201


@bp.post("/live/rooms/<int:room_id>/on-screen")
@staff_required(perms.LIVE_HOST)
@bp.input(OnScreenIn, arg_name="body")
def put_on_screen(room_id: int, body, staff):
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    card = shelf.show(db.session, room_id=room_id, sku_id=body["sku_id"])
    return {**rooms.room_detail(db.session, room_id=room_id, custom_params={}), "card": card}


@bp.post("/live/rooms/sync")
@staff_required(perms.LIVE_HOST)
def sync_rooms(staff):
    return {"changed": following.sync_now(db.session)}


@bp.get("/live/rooms/<int:room_id>/shelf")
@staff_required(perms.LIVE_HOST)
def room_shelf(room_id: int, staff):
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    return {"items": shelf.listing(db.session, room_id)}


@bp.post("/live/rooms/<int:room_id>/shelf")
@staff_required(perms.LIVE_HOST)
@bp.input(ShelfIn, arg_name="body")
def add_to_shelf(room_id: int, body, staff):
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    shelf.add(db.session, room_id=room_id, sku_id=body["sku_id"], number=body.get("number"))
    return {"items": shelf.listing(db.session, room_id)}, 201


@bp.delete("/live/rooms/<int:room_id>/shelf/<int:number>")
@staff_required(perms.LIVE_HOST)
def remove_from_shelf(room_id: int, number: int, staff):
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    shelf.remove(db.session, room_id=room_id, number=number)
    return {"items": shelf.listing(db.session, room_id)}


@bp.get("/live/rooms/<int:room_id>/summary")
@staff_required(perms.LIVE_HOST)
def show_summary(room_id: int, staff):
    """The host's summary once the show ended; the figures so far while it runs."""
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    return summary.show_figures(db.session, room_id)


@bp.get("/live/rooms/<int:room_id>/mutes")
@staff_required(perms.LIVE_HOST)
def muted_viewers(room_id: int, staff):
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    return {
        "items": [
            {"customer_id": m.customer_id, "reason": m.reason, "muted_at": m.created_at.isoformat()}
            for m in moderation.muted_viewers(db.session, room_id)
        ]
    }


@bp.delete("/live/rooms/<int:room_id>/mutes/<int:customer_id>")
@staff_required(perms.LIVE_HOST)
def unmute_viewer(room_id: int, customer_id: int, staff):
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    moderation.unmute(db.session, room_id=room_id, customer_id=customer_id)
    return {"ok": True}


from backend.console import announcements_api, sharers_api  # noqa: E402, F401  (routes on bp)
