"""Live rooms: created and scheduled by hosts, mirrored from the live provider every minute,
listed for viewers with what is on screen, and "remind me when it starts" (told once)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.audit import service as audit
from backend.catalogue import service as catalogue
from backend.clients.wechat import WeChatError, wechat_client
from backend.customers.models import Customer
from backend.errors import (
    BadRequest,
    NotFound,
    RuleBroken,
    UpstreamIdTaken,
    UpstreamUnavailable,
    get_or_404,
)
from backend.inventory import service as inventory
from backend.live import cards, flash_sales
from backend.live.models import (
    ABNORMAL,
    EXPIRED,
    FINISHED,
    LIVE,
    LIVE_STATUSES,
    NOT_STARTED,
    PAUSED,
    RUNNING,
    FlashSale,
    LiveReminder,
    LiveRoom,
)
from backend.live.providers import RoomSpec, provider
from backend.pagination import page_of
from backend.queue import enqueue
from backend.staff.models import Staff
from backend.timeutil import to_shanghai_iso, utcnow
from backend.transactions import on_commit

KINDS = {"upcoming": (NOT_STARTED,), "live": (LIVE, PAUSED, ABNORMAL), "replay": (FINISHED,)}
REMINDER_TEMPLATE = "TPL_LIVE_START"


def create_room(
    session: Session,
    *,
    name: str,
    anchor_name: str,
    anchor_wechat: str,
    starts_at: datetime,
    ends_at: datetime,
    staff_id: int | None,
) -> LiveRoom:
    """Schedule a room with the live provider; its refusals come back in Chinese."""
    if ends_at <= starts_at:
        raise BadRequest("结束时间必须晚于开始时间", code="INVALID_PERIOD")
    spec = RoomSpec(
        name=name,
        anchor_name=anchor_name,
        anchor_wechat=anchor_wechat,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    try:
        external_id = provider().create_room(spec)
    except WeChatError as exc:
        if exc.errcode is None:
            raise UpstreamUnavailable("微信直播暂时不可用，请稍后再试") from exc
        raise RuleBroken(
            f"微信直播拒绝创建直播间：{exc.errmsg}（错误码 {exc.errcode}）",
            code="LIVE_ROOM_REFUSED",
            details={"errcode": exc.errcode, "errmsg": exc.errmsg},
        ) from exc
    room = LiveRoom(
        external_id=external_id,
        name=name,
        anchor_name=anchor_name,
        starts_at=starts_at,
        ends_at=ends_at,
        live_status=NOT_STARTED,
        created_by=staff_id,
    )
    session.add(room)
    try:  # external_id is the only unique column a new room can clash on
        session.flush()
        audit.record(
            session,
            staff=session.get(Staff, staff_id) if staff_id else None,
            action="live.room_create",
            target_type="live_room",
            target_id=room.id,
            summary=f"创建直播间 {name}（主播 {anchor_name}）",
            after={"name": name, "starts_at": starts_at.isoformat()},
        )
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise UpstreamIdTaken(
            f"微信直播返回的直播间编号 {external_id} 已属于本系统的另一个直播间，"
            "新直播间未保存，请联系技术人员核对",
            code="LIVE_ROOM_ID_TAKEN",
            details={"external_id": external_id},
        ) from exc
    return room


def get_room(session: Session, room_id: int) -> LiveRoom:
    return get_or_404(session, LiveRoom, room_id, "直播间不存在", code="LIVE_ROOM_NOT_FOUND")


def sync(session: Session, *, wanted: set[str] | None = None) -> int:
    """Mirror rooms' status from the provider (every room, or at least the `wanted` external
    ids); a room going live tells its reminders. Answers how many rooms changed."""
    try:
        statuses = provider().statuses(wanted)
    except WeChatError as exc:
        raise UpstreamUnavailable(
            "微信直播状态同步失败，请稍后再试", details={"errcode": exc.errcode}
        ) from exc
    changed = 0
    for room in session.scalars(select(LiveRoom).where(LiveRoom.external_id.in_(statuses))):
        status = statuses[room.external_id]
        room.synced_at = utcnow()
        if status != room.live_status:
            changed += 1
            went_live = status == LIVE and room.live_status != LIVE
            room.live_status = status
            if went_live:
                room_id = room.id
                on_commit(
                    session,
                    lambda room_id=room_id: enqueue(
                        "jobs.live.send_live_reminders", room_id, job_id=f"live-reminders-{room_id}"
                    ),
                )
    session.commit()
    return changed


def remind_me(session: Session, *, room_id: int, customer_id: int) -> None:
    """A viewer wants to be told when the room starts (asking twice changes nothing)."""
    room = get_room(session, room_id)
    if room.live_status != NOT_STARTED:
        raise RuleBroken("直播已开始或已结束，无需预约", code="ROOM_NOT_UPCOMING")
    if session.scalar(
        select(LiveReminder.id).where(
            LiveReminder.room_id == room_id, LiveReminder.customer_id == customer_id
        )
    ):
        return
    session.add(LiveReminder(room_id=room_id, customer_id=customer_id))
    try:
        session.commit()
    except IntegrityError:  # the same viewer asked twice at once
        session.rollback()


def send_reminders(session: Session, *, room_id: int) -> dict:
    """Tell every viewer who asked, once each (a reminder is claimed before it is sent)."""
    room = get_room(session, room_id)
    client, outcomes = wechat_client(), {"sent": 0, "refused": 0}
    pending = session.execute(
        select(LiveReminder.id, Customer.openid)
        .join(Customer)
        .where(LiveReminder.room_id == room_id, LiveReminder.sent_at.is_(None))
    ).all()
    for reminder_id, openid in pending:
        claimed = session.execute(
            update(LiveReminder)
            .where(LiveReminder.id == reminder_id, LiveReminder.sent_at.is_(None))
            .values(sent_at=utcnow(), outcome="sending")
        ).rowcount
        session.commit()
        if not claimed:
            continue
        try:
            client.send_subscribe_message(
                openid,
                REMINDER_TEMPLATE,
                {
                    "thing1": {"value": room.name[:20]},
                    "time2": {"value": to_shanghai_iso(room.starts_at)[:16].replace("T", " ")},
                    "name3": {"value": room.anchor_name[:10]},
                    "thing4": {"value": "直播开始啦，快来抢购乳山牡蛎"},
                },
                page=f"pages/live/room?id={room.id}",
            )
            outcome = "sent"
        except WeChatError as exc:  # 43101: the viewer's subscription was used up or withdrawn
            outcome = f"refused:{exc.errcode}"
        session.execute(
            update(LiveReminder).where(LiveReminder.id == reminder_id).values(outcome=outcome)
        )
        session.commit()
        outcomes["sent" if outcome == "sent" else "refused"] += 1
    return outcomes


def put_on_screen(session: Session, *, room_id: int, sku_id: int | None) -> str:
    """The product the host is showing now (None takes it off). Its card reaches viewers once
    the live provider approved it and the room is live (cards.py); answers the card's state:
    pushed, auditing, ready, rejected, or none."""
    room = get_room(session, room_id)
    sku = catalogue.skus_for_sale(session, [sku_id]).get(sku_id) if sku_id else None
    if sku_id is not None and sku is None:
        raise NotFound("商品不存在", code="SKU_NOT_FOUND")
    room.on_screen_sku_id = sku_id
    session.commit()
    if sku is None:
        cards.forget(room.id)
        return "none"
    return cards.show(session, room, sku)


def _render(room: LiveRoom) -> dict:
    return {
        "id": room.id,
        "name": room.name,
        "anchor_name": room.anchor_name,
        "live_status": room.live_status,
        "status_text": LIVE_STATUSES.get(room.live_status, "未知"),
        "starts_at": to_shanghai_iso(room.starts_at),
        "ends_at": to_shanghai_iso(room.ends_at),
    }


def list_rooms(session: Session, *, kind: str, page: int, page_size: int) -> dict:
    """Rooms for viewers: upcoming (soonest first), live, or replays (newest first)."""
    where = LiveRoom.live_status.in_(KINDS[kind])
    order = LiveRoom.starts_at if kind == "upcoming" else LiveRoom.starts_at.desc()
    total = session.scalar(select(func.count()).select_from(LiveRoom).where(where))
    rooms = session.scalars(
        page_of(
            select(LiveRoom).where(where).order_by(order),
            page,
            page_size,
        )
    )
    return {"items": [_render(room) for room in rooms], "total": total}


def opening_kind(session: Session) -> str:
    """Where the host's room list opens: the rooms live now, else the upcoming ones (the one
    that starts soonest first)."""
    live = session.scalar(
        select(func.count()).select_from(LiveRoom).where(LiveRoom.live_status.in_(KINDS["live"]))
    )
    return "live" if live else "upcoming"


def room_detail(session: Session, *, room_id: int, custom_params: dict) -> dict:
    """A room as the mini-program shows it: status, the product on screen with its lot and
    stock, the flash sale running, and the plugin URL that enters it."""
    room = get_room(session, room_id)
    body = _render(room)
    body["entry_url"] = provider().entry_url(room.external_id, custom_params)
    body["on_screen"] = None
    if room.on_screen_sku_id:
        sku = catalogue.skus_for_sale(session, [room.on_screen_sku_id])[room.on_screen_sku_id]
        lot = inventory.lots_on_sale(session, [sku.id]).get(sku.id)
        body["on_screen"] = {
            "sku_id": sku.id,
            "name": sku.product.name,
            "grade": sku.grade.name,
            "spec": sku.spec,
            "price": sku.price,
            "stock": inventory.available(session, [sku.id])[sku.id],
            "lot": None
            if lot is None
            else {"code": lot.code, "use_by": to_shanghai_iso(lot.use_by)},
        }
    sale_id = session.scalar(
        select(FlashSale.id)
        .where(FlashSale.room_id == room.id, FlashSale.status == RUNNING)
        .order_by(FlashSale.id.desc())
    )
    body["flash_sale"] = flash_sales.sale_view(session, sale_id=sale_id) if sale_id else None
    body["can_remind"] = room.live_status == NOT_STARTED
    body["expired"] = room.live_status == EXPIRED
    return body
