"""Goods inside a live room: `room/addgoods`, `goods/onsale`, `goods/push` (the product card
shown to viewers), `goods/sort` and `goods/deleteInRoom`.

Every push is recorded (`GET /sandbox/live/pushes`) so tests can see what viewers were shown.
Errcodes are the ones the official pages list for each call. Callers hold the sandbox lock.
"""

from __future__ import annotations

from typing import Any

from .context import Sandbox
from .errors import WeChatError
from .live_common import body_object, is_int, spend_quota
from .live_goods import APPROVED, find_goods
from .live_rooms import FINAL, LIVE, find_room
from .wxa_state import Room

ROOM_STATUS_ERRMSG = "room status does not allow this operation"


def _open_room(sb: Sandbox, roomid: Any) -> Room:
    room = find_room(sb, roomid)
    if room.live_status in FINAL:
        raise WeChatError(300023, f"{ROOM_STATUS_ERRMSG} (live_status {room.live_status})")
    return room


def _pushing(sb: Sandbox, room: Room) -> bool:
    """Whether a product card is still on screen (`live_push_busy_seconds`, 0 = never busy)."""
    busy = float(sb.settings["live_push_busy_seconds"])
    return busy > 0 and room.last_push_at is not None and sb.wechat_now() < room.last_push_at + busy


def add_goods_to_room(sb: Sandbox, body: Any) -> dict[str, Any]:
    """Import approved goods into a room's shelf (on sale); ids already there are skipped."""
    body = body_object(body)
    spend_quota(sb, "room/addgoods", "live_addgoods_per_day")
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or not all(is_int(i) for i in ids):
        raise WeChatError(200002, "invalid args, ids must be a list of goods ids")
    room = _open_room(sb, body.get("roomId"))
    for goods_id in ids:
        if find_goods(sb, goods_id).audit_status != APPROVED:
            raise WeChatError(300025, f"goods {goods_id} has not passed the audit")
    new = [g for g in dict.fromkeys(ids) if g not in room.goods]
    if len(room.goods) + len(new) > int(sb.settings["live_room_goods_max"]):
        raise WeChatError(300033, "goods in the room exceed the limit")
    room.goods.extend(new)
    return {"errcode": 0, "errmsg": "ok"}


def _room_goods(sb: Sandbox, body: dict[str, Any]) -> tuple[Room, int]:
    room = find_room(sb, body.get("roomId"))
    goods = find_goods(sb, body.get("goodsId"))
    if goods.goods_id not in room.goods:
        raise WeChatError(300024, "goods not exist in this room")
    return room, goods.goods_id


def on_sale(sb: Sandbox, body: Any) -> dict[str, Any]:
    """Put a goods of the room on (1) or off (0) the shelf."""
    body = body_object(body)
    room, goods_id = _room_goods(sb, body)
    flag = body.get("onSale")
    if not is_int(flag) or flag not in (0, 1):
        raise WeChatError(200002, "invalid args, onSale must be 0 or 1")
    if room.live_status in FINAL:
        raise WeChatError(300023, ROOM_STATUS_ERRMSG)
    if _pushing(sb, room):
        raise WeChatError(300049, "goods can not go on or off sale while a goods is being pushed")
    if flag:
        room.off_sale.discard(goods_id)
    else:
        room.off_sale.add(goods_id)
    return {"errcode": 0, "errmsg": "ok"}


def push(sb: Sandbox, body: Any) -> dict[str, Any]:
    """Show a product card to the viewers: approved, in the room, on sale, room live."""
    body = body_object(body)
    spend_quota(sb, "goods/push", "live_push_per_day")
    room = find_room(sb, body.get("roomId"))
    goods = find_goods(sb, body.get("goodsId"))
    if room.live_status != LIVE:
        raise WeChatError(300023, f"{ROOM_STATUS_ERRMSG}, the room is not live")
    if goods.goods_id not in room.goods:
        raise WeChatError(300053, "goods is not added to this room")
    if goods.audit_status != APPROVED:
        raise WeChatError(300025, "goods has not passed the audit")
    if goods.goods_id in room.off_sale:
        raise WeChatError(300052, "goods is off sale and can not be pushed")
    if _pushing(sb, room):
        raise WeChatError(300047, "a goods is being pushed, try again later")
    now = sb.wechat_now()
    room.last_push_at = now
    sb.state.wxa.pushes.append(
        {
            "roomId": room.roomid,
            "goodsId": goods.goods_id,
            "name": goods.name,
            "price_type": goods.price_type,
            "price": goods.price,
            "price2": goods.price2,
            "at": now,
        }
    )
    return {"errcode": 0, "errmsg": "ok"}


def sort(sb: Sandbox, body: Any) -> dict[str, Any]:
    """Reorder the shelf: the listed goods first, in that order, the others after them."""
    body = body_object(body)
    entries = body.get("goods")
    if not isinstance(entries, list) or not entries:
        raise WeChatError(200002, "invalid args, goods must be a list of {goodsId}")
    ids = [e.get("goodsId") if isinstance(e, dict) else None for e in entries]
    if not all(is_int(i) for i in ids):
        raise WeChatError(200002, "invalid args, goods must be a list of {goodsId}")
    room = _open_room(sb, body.get("roomId"))
    missing = [i for i in ids if i not in room.goods]
    if missing:
        raise WeChatError(300048, f"goods {missing} not in this room")
    ordered = list(dict.fromkeys(ids))
    room.goods = ordered + [g for g in room.goods if g not in ordered]
    return {"errcode": 0, "errmsg": "ok"}


def delete_in_room(sb: Sandbox, body: Any) -> dict[str, Any]:
    """Take a goods out of the room (it stays in the goods library)."""
    room, goods_id = _room_goods(sb, body_object(body))
    if _pushing(sb, room):
        raise WeChatError(300047, "a goods is being pushed, try again later")
    room.goods.remove(goods_id)
    room.off_sale.discard(goods_id)
    return {"errcode": 0, "errmsg": "ok"}
