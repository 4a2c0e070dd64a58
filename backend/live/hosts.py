"""Whose room is it: a host runs only the rooms they created (and the flash sales in them, or
the ones they started outside a room); operators and administrators run every room."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.errors import Forbidden, get_or_404
from backend.live.models import FlashSale, LiveRoom
from backend.staff import permissions
from backend.staff.models import Staff


def _may_run(staff: Staff, host_id: int | None) -> bool:
    return host_id == staff.id or permissions.allowed(staff.role, permissions.LIVE_ANY_ROOM)


def hosted_room(session: Session, *, room_id: int, staff: Staff) -> LiveRoom:
    """The room, if this staff member may run it; NotFound, or Forbidden for another's room."""
    room = get_or_404(session, LiveRoom, room_id, "直播间不存在", code="LIVE_ROOM_NOT_FOUND")
    if not _may_run(staff, room.created_by):
        raise Forbidden("只能管理自己创建的直播间", code="NOT_YOUR_ROOM")
    return room


def hosted_sale(session: Session, *, sale_id: int, staff: Staff) -> FlashSale:
    """The flash sale, if this staff member may run it: its room's host, or (outside a room)
    whoever started it."""
    sale = get_or_404(session, FlashSale, sale_id, "秒杀活动不存在", code="FLASH_SALE_NOT_FOUND")
    host_id = session.get(LiveRoom, sale.room_id).created_by if sale.room_id else sale.created_by
    if not _may_run(staff, host_id):
        raise Forbidden("只能管理自己直播间的秒杀", code="NOT_YOUR_SALE")
    return sale
