"""Who brought a viewer into a live room. The mini-program passes what the live-player plugin's
`getShareParams()` returned — the room's plugin id, `share_openid` (the viewer who shared the
card) and `custom_params` (the JSON the entry URL carried, e.g. {"sharer": ..., "channel": ...})
— when the viewer enters, claims or orders. It is the viewer's own claim about someone else, so
it is checked for shape and length and used for attribution alone: never for a price, a limit,
a permission or to identify anyone.

One entry per room and viewer; its sharer is set once, by the first entry that names one. Orders
the viewer places in that room take the sharer of their entry when they are created
(`orders.sharer`, never changed afterwards); an order without one is natural traffic."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import unquote

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.errors import BadRequest, NotFound, RuleBroken, get_or_404
from backend.live.models import FlashSale, LiveEntry, LiveRoom, LiveShelfItem
from backend.live.rooms import get_room
from backend.orders import service as orders
from backend.schemas import MAX_ID
from backend.timeutil import utcnow

MAX_CUSTOM_PARAMS = 512  # characters of the JSON text
MAX_SHARER, MAX_CHANNEL = 64, 32
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PLUGIN_ROOM_ID = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True)
class Share:
    """The share parameters, checked: the room they came from and who shared it."""

    plugin_room_id: str | None = None
    sharer: str | None = None
    channel: str | None = None
    share_openid: str | None = None


@dataclass
class Entered:
    room_id: int
    sharer: str | None
    created: bool  # this call recorded the entry (or set its sharer)


def _label(value, *, field: str, longest: int, code: str) -> str | None:
    """A short text of custom_params (a number is taken as its digits)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise RuleBroken(f"custom_params 中的 {field} 必须是文字", code=code)
    value = value.strip()
    if not value or _CONTROL.search(value) or len(value) > longest:
        raise RuleBroken(
            f"custom_params 中的 {field} 需为 1 到 {longest} 个字符，且不含控制字符", code=code
        )
    return value


def _custom_params(raw) -> dict:
    """custom_params as a JSON object: from the JSON text the entry URL carried (percent-encoded
    or not), or the object the plugin handed back."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        text = json.dumps(raw, ensure_ascii=False, separators=(",", ":"))
    elif isinstance(raw, str):
        # bounded before decoding: percent-encoded, one character takes at most 12
        text = raw
        if raw.startswith("%") and len(raw) <= 12 * MAX_CUSTOM_PARAMS:
            text = unquote(raw)
    else:
        raise BadRequest("custom_params 必须是 JSON 对象", code="CUSTOM_PARAMS_NOT_JSON")
    if len(text) > MAX_CUSTOM_PARAMS:
        raise RuleBroken(
            f"custom_params 不能超过 {MAX_CUSTOM_PARAMS} 个字符",
            code="CUSTOM_PARAMS_TOO_LONG",
            details={"length": len(text), "limit": MAX_CUSTOM_PARAMS},
        )
    try:
        params = json.loads(text)
    except ValueError:
        raise RuleBroken("custom_params 不是有效的 JSON", code="CUSTOM_PARAMS_NOT_JSON") from None
    if not isinstance(params, dict):
        raise RuleBroken("custom_params 必须是 JSON 对象", code="CUSTOM_PARAMS_NOT_JSON")
    return params


def read_share(*, room_id=None, share_openid=None, custom_params=None) -> Share:
    """The plugin's share parameters checked: 400 for a room id or share_openid of the wrong
    shape (the API's schema refuses those first), 422 for custom_params that are not a JSON
    object of at most MAX_CUSTOM_PARAMS characters with a short `sharer` and `channel`. The
    sharer is custom_params' `sharer`, else its `seller_id` (the room link a seller shares), else
    the `share_openid` of the viewer who shared the card."""
    if isinstance(room_id, int) and not isinstance(room_id, bool):
        room_id = str(room_id)
    if room_id is not None and not (
        isinstance(room_id, str) and _PLUGIN_ROOM_ID.fullmatch(room_id)
    ):
        raise BadRequest("room_id 需为直播间号（数字）", code="INVALID_SHARE_ROOM")
    if isinstance(share_openid, str):
        share_openid = share_openid.strip() or None
    if share_openid is not None and not (
        isinstance(share_openid, str) and _OPENID.fullmatch(share_openid)
    ):
        raise BadRequest("share_openid 格式不正确", code="INVALID_SHARE_OPENID")
    params = _custom_params(custom_params)
    sharer = _label(params.get("sharer"), field="sharer", longest=MAX_SHARER, code="INVALID_SHARER")
    channel = _label(
        params.get("channel"), field="channel", longest=MAX_CHANNEL, code="INVALID_CHANNEL"
    )
    seller_id = params.get("seller_id")
    if seller_id is not None:
        if isinstance(seller_id, bool) or not isinstance(seller_id, int):
            raise RuleBroken("custom_params 中的 seller_id 必须是整数", code="INVALID_SELLER_ID")
        if not 1 <= seller_id <= MAX_ID:
            raise RuleBroken("custom_params 中的 seller_id 超出范围", code="INVALID_SELLER_ID")
    return Share(
        plugin_room_id=room_id,
        sharer=sharer or (f"seller:{seller_id}" if seller_id else None) or share_openid,
        channel=channel,
        share_openid=share_openid,
    )


def _same_room(room: LiveRoom, share: Share) -> None:
    if share.plugin_room_id is not None and share.plugin_room_id != room.external_id:
        raise RuleBroken(
            "分享参数来自另一个直播间，与本次操作的直播间不符",
            code="SHARE_OTHER_ROOM",
            details={"room_id": room.id},
        )


def enter(session: Session, *, room_id: int, customer_id: int, share: Share) -> Entered:
    """Record the viewer's entry into the room (once), with its sharer if it is the first to
    name one; a replayed or later entry changes nothing. 422 for share parameters of another
    room."""
    room = get_room(session, room_id)
    _same_room(room, share)
    return _record(session, room.id, customer_id, share)


def _record(session: Session, room_id: int, customer_id: int, share: Share) -> Entered:
    entry = _entry(session, room_id, customer_id)
    if entry is None:
        session.add(
            LiveEntry(
                room_id=room_id,
                customer_id=customer_id,
                sharer=share.sharer,
                channel=share.channel,
                share_openid=share.share_openid,
                attributed_at=utcnow() if share.sharer else None,
            )
        )
        try:
            session.commit()
            return Entered(room_id, share.sharer, created=True)
        except IntegrityError:  # the same viewer entering twice at once
            session.rollback()
            entry = _entry(session, room_id, customer_id)
    if entry.sharer is None and share.sharer is not None:
        set_now = session.execute(
            update(LiveEntry)
            .where(LiveEntry.id == entry.id, LiveEntry.sharer.is_(None))
            .values(
                sharer=share.sharer,
                channel=share.channel,
                share_openid=share.share_openid,
                attributed_at=utcnow(),
            )
        ).rowcount
        session.commit()
        if set_now:
            return Entered(room_id, share.sharer, created=True)
        entry = _entry(session, room_id, customer_id)
    return Entered(room_id, entry.sharer, created=False)


def _entry(session: Session, room_id: int, customer_id: int) -> LiveEntry | None:
    return session.scalar(
        select(LiveEntry)
        .where(LiveEntry.room_id == room_id, LiveEntry.customer_id == customer_id)
        .execution_options(populate_existing=True)
    )


def enter_for_sale(session: Session, *, sale_id: int, customer_id: int, share: Share) -> Entered:
    """The share parameters that came with a flash-sale claim: recorded as an entry into the
    sale's room, so the order the claim becomes takes its sharer. 422 for a sale in another
    room, or in none."""
    sale = get_or_404(session, FlashSale, sale_id, "秒杀活动不存在", code="FLASH_SALE_NOT_FOUND")
    if sale.room_id is None:
        raise RuleBroken("该秒杀不在直播间内，不能带分享参数", code="SHARE_OTHER_ROOM")
    return enter(session, room_id=sale.room_id, customer_id=customer_id, share=share)


def sharer_of(session: Session, *, room_id: int, customer_id: int) -> str | None:
    """The sharer who brought this viewer into this room (None: they came on their own)."""
    return session.scalar(
        select(LiveEntry.sharer).where(
            LiveEntry.room_id == room_id, LiveEntry.customer_id == customer_id
        )
    )


def sharers_of(session: Session, *, room_id: int, customer_ids: set[int]) -> dict[int, str]:
    """The sharers of these viewers in this room, by customer id (those with one)."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(LiveEntry.customer_id, LiveEntry.sharer).where(
            LiveEntry.room_id == room_id,
            LiveEntry.customer_id.in_(customer_ids),
            LiveEntry.sharer.is_not(None),
        )
    )
    return {customer_id: sharer for customer_id, sharer in rows}


def place_order_in_room(
    session: Session,
    *,
    customer_id: int,
    share: Share,
    idempotency_key: str,
    items: list[tuple[int, int]],
    address: dict,
    remark: str = "",
    ip: str | None = None,
) -> orders.Placed:
    """A store order placed from a live room (its product card): the entry is recorded, and the
    order belongs to the room with the viewer's sharer. Its products must be on that room's
    shelf (422 SHARE_OTHER_ROOM otherwise); the share parameters change nothing else."""
    if share.plugin_room_id is None:
        raise BadRequest("share 中需有直播间号 room_id", code="SHARE_ROOM_REQUIRED")
    room = session.scalar(select(LiveRoom).where(LiveRoom.external_id == share.plugin_room_id))
    if room is None:
        raise NotFound("分享参数中的直播间不存在", code="LIVE_ROOM_NOT_FOUND")
    on_shelf = set(
        session.scalars(select(LiveShelfItem.sku_id).where(LiveShelfItem.room_id == room.id))
    )
    elsewhere = sorted({sku_id for sku_id, _ in items} - on_shelf)
    if elsewhere:
        raise RuleBroken(
            "订单中的商品不在分享的直播间里，请从该直播间下单",
            code="SHARE_OTHER_ROOM",
            details={"sku_ids": elsewhere, "room_id": room.id},
        )
    entered = _record(session, room.id, customer_id, share)
    return orders.place_order(
        session,
        customer_id=customer_id,
        idempotency_key=idempotency_key,
        items=items,
        address=address,
        remark=remark,
        ip=ip,
        live_room_id=room.id,
        sharer=entered.sharer,
    )
