"""The product card (商品卡片) of what a host shows on screen. The first time a product is shown
its card goes into the live provider's goods library, which submits it for WeChat's audit; a
card reaches a room's viewers only once it is approved and the room is live. A card the host put
on screen before then waits, and `push_due` pushes it when the audit passes or the room goes
live (the followers of following.py call it) — once per showing: the wait is a note on the room
(Redis), claimed by one pusher and turned to "pushed"."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.clients import quota
from backend.clients.wechat import WeChatError
from backend.errors import RuleBroken, UpstreamUnavailable
from backend.live.models import LIVE, LiveGoods, LiveRoom
from backend.live.providers import GoodsSpec, provider
from backend.queue import redis_client

NOT_AUDITED, UNDER_AUDIT, APPROVED, REJECTED = 0, 1, 2, 3
AWAITING_AUDIT = (NOT_AUDITED, UNDER_AUDIT)
RETRY_SECONDS = 60  # a failed automatic push is tried again after this
KEEP_SECONDS = 2 * 24 * 3600
WAITING, PUSHED, FAILED = "waiting", "pushed", "failed"

# The on-screen product's card as the host reads it: tone (badge colour) and text.
CARD_TEXTS = {
    "pushed": ("good", "已推送给观众"),
    "auditing": ("warn", "微信审核中，观众暂时看不到；审核通过后自动推送"),
    "ready": ("warn", "审核已通过，直播开始后自动推送给观众"),
    "pushing": ("warn", "审核已通过，正在推送给观众"),
    "failed": ("bad", "推送失败，稍后自动重试"),
    "rejected": ("bad", "微信审核未通过，观众看不到此商品卡片"),
    "missing": ("bad", "商品卡片未能提交审核，请重新推送讲解商品"),
    "unpushed": ("warn", "审核已通过，尚未推送；可重新推送讲解商品"),
}


def _note_key(room_id: int) -> str:
    return f"heli:live:room:{room_id}:card"


def _claim_key(room_id: int, sku_id: int) -> str:
    return f"heli:live:room:{room_id}:card:{sku_id}:claim"


def _note(room_id: int, sku_id: int, state: str, message: str = "") -> None:
    key = _note_key(room_id)
    pipe = redis_client().pipeline()
    pipe.delete(key)
    pipe.hset(key, mapping={"sku_id": sku_id, "state": state, "message": message[:200]})
    pipe.expire(key, KEEP_SECONDS)
    pipe.execute()


def _read_note(room_id: int) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in redis_client().hgetall(_note_key(room_id)).items()}


def forget(room_id: int) -> None:
    """The host took the product off screen: nothing waits to be pushed."""
    redis_client().delete(_note_key(room_id))


def goods_of(session: Session, sku_id: int) -> LiveGoods | None:
    return session.scalar(select(LiveGoods).where(LiveGoods.sku_id == sku_id))


def _refusal(exc: WeChatError) -> Exception:
    if exc.errcode is None:
        return UpstreamUnavailable("微信直播暂时不可用，请稍后再试")
    return RuleBroken(
        f"商品卡片推送失败：{exc.errmsg}（错误码 {exc.errcode}）",
        code="LIVE_GOODS_REFUSED",
        details={"errcode": exc.errcode},
    )


def _reason(exc: WeChatError) -> str:
    return f"{exc.errmsg}（错误码 {exc.errcode}）" if exc.errcode is not None else "微信暂时不可用"


def _refresh_audit(session: Session, goods: LiveGoods) -> None:
    """Ask WeChat once more whether the card passed (unless today's quota is spent: then the
    follower's next look decides)."""
    if quota.is_spent("getgoodswarehouse"):
        return
    try:
        audits = provider().goods_audit([goods.goods_id])
    except WeChatError:
        return  # the host's switch stands; the audit follower asks again
    goods.audit_status = audits.get(goods.goods_id, goods.audit_status)
    session.commit()


def _push(session: Session, room: LiveRoom, goods: LiveGoods) -> None:
    """Put the approved card in the room (importing it the first time) and show it to viewers."""
    provider().show_goods(
        room.external_id, goods.goods_id, import_first=room.external_id not in goods.room_ids
    )
    if room.external_id not in goods.room_ids:
        goods.room_ids = [*goods.room_ids, room.external_id]
        session.commit()
    _note(room.id, goods.sku_id, PUSHED)


def show(session: Session, room: LiveRoom, sku) -> str:
    """The card of the product the host just put on screen: submitted for audit the first time,
    pushed now if approved and the room is live, else left waiting. Answers pushed, auditing,
    ready (approved, waits for the room to go live) or rejected."""
    goods = goods_of(session, sku.id)
    try:
        if goods is None:
            goods_id, audit_id = provider().add_goods(
                GoodsSpec(
                    name=f"{sku.product.name}{sku.grade.name}",
                    price_fen=sku.price,
                    page=f"pages/product/detail?id={sku.product_id}&sku={sku.id}",
                )
            )
            goods = LiveGoods(sku_id=sku.id, goods_id=goods_id, audit_id=audit_id)
            session.add(goods)
            session.commit()
        if goods.audit_status != APPROVED:
            _refresh_audit(session, goods)
        if goods.audit_status == REJECTED:
            forget(room.id)
            return "rejected"
        if goods.audit_status != APPROVED or room.live_status != LIVE:
            _note(room.id, sku.id, WAITING)
            return "auditing" if goods.audit_status != APPROVED else "ready"
        _push(session, room, goods)
    except WeChatError as exc:
        session.rollback()
        if goods is None:
            forget(room.id)
        else:  # approved, but the push failed: push_due tries again
            _note(room.id, sku.id, FAILED, _reason(exc))
        raise _refusal(exc) from exc
    return "pushed"


def push_due(session: Session) -> list[int]:
    """Push every waiting card that became pushable (approved, its room live, still on screen);
    each showing once, whoever else runs this at the same moment. Answers the rooms pushed to."""
    rows = session.execute(
        select(LiveRoom, LiveGoods)
        .join(LiveGoods, LiveGoods.sku_id == LiveRoom.on_screen_sku_id)
        .where(LiveRoom.live_status == LIVE, LiveGoods.audit_status == APPROVED)
        .order_by(LiveRoom.id)
    ).all()
    pushed = []
    redis = redis_client()
    for room, goods in rows:
        note = _read_note(room.id)
        if note.get("state") not in (WAITING, FAILED) or note.get("sku_id") != str(goods.sku_id):
            continue
        # one pusher per showing; a failed one leaves the claim to lapse, then tries again
        if not redis.set(_claim_key(room.id, goods.sku_id), "1", nx=True, ex=RETRY_SECONDS):
            continue
        if _read_note(room.id).get("state") == PUSHED:
            continue
        try:
            _push(session, room, goods)
        except WeChatError as exc:
            session.rollback()
            _note(room.id, goods.sku_id, FAILED, _reason(exc))
            continue
        pushed.append(room.id)
    return pushed


def awaiting_audit(session: Session) -> list[LiveGoods]:
    return list(
        session.scalars(
            select(LiveGoods)
            .where(LiveGoods.audit_status.in_(AWAITING_AUDIT))
            .order_by(LiveGoods.id)
        )
    )


def on_screen_sku_ids(session: Session, room_ids: list[int]) -> set[int]:
    return set(
        session.scalars(
            select(LiveRoom.on_screen_sku_id).where(
                LiveRoom.id.in_(room_ids), LiveRoom.on_screen_sku_id.is_not(None)
            )
        )
    )


def record_audits(session: Session, goods: list[LiveGoods], audits: dict[str, int]) -> int:
    """WeChat's audit answers mirrored; answers how many cards changed."""
    changed = 0
    for item in goods:
        status = audits.get(item.goods_id, item.audit_status)
        if status != item.audit_status:
            item.audit_status, changed = status, changed + 1
    session.commit()
    return changed


def card_state(session: Session, room: LiveRoom) -> dict | None:
    """The on-screen product's card as the control room shows it (None: nothing on screen)."""
    if room.on_screen_sku_id is None:
        return None
    goods = goods_of(session, room.on_screen_sku_id)
    note = _read_note(room.id)
    noted = note.get("state") if note.get("sku_id") == str(room.on_screen_sku_id) else None
    if goods is None:
        state = "missing"
    elif goods.audit_status == REJECTED:
        state = "rejected"
    elif goods.audit_status != APPROVED:
        state = "auditing"
    elif noted == PUSHED:
        state = "pushed"
    elif noted == FAILED:
        state = "failed"
    elif noted == WAITING:
        state = "pushing" if room.live_status == LIVE else "ready"
    else:  # shown before notes were kept, or the note lapsed
        state = "pushed" if room.external_id in goods.room_ids else "unpushed"
    tone, text = CARD_TEXTS[state]
    if state == "failed" and note.get("message"):
        text = f"推送失败：{note['message']}，稍后自动重试"
    return {"state": state, "tone": tone, "text": text}
