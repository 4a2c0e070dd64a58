"""Live-room comments: one Redis Stream per room (bounded), posted after WeChat content security
(msgSecCheck v2) and a local blocklist, read with a cursor. The co-host bot reads the same
stream.

Two readings of the stream: staff (the console's control room) see every field; the public
(`read_public`, the mini-program) sees a nickname, the text and the time, and nothing that
identifies a customer or an order. A viewer signed in also learns which comments are their own
and which bot replies are addressed to them; only in those does the bot's pay prompt carry the
order id, the total and the full text."""

from __future__ import annotations

import re

from flask import current_app
from redis.client import Pipeline
from sqlalchemy.orm import Session

from backend.clients.wechat import WeChatError, wechat_client
from backend.customers.models import Customer
from backend.errors import BadRequest, Forbidden, RuleBroken, UpstreamUnavailable
from backend.live import moderation
from backend.live.models import LIVE, PAUSED
from backend.live.rooms import get_room
from backend.queue import redis_client
from backend.timeutil import naive_utc_from_timestamp, to_shanghai_iso

MAX_LENGTH = 100
BOT_NAME = "合蛎小助手"
REQUIRED_FIELDS = {"customer_id", "nickname", "text"}
KEEP_PER_ROOM = 5000  # the stream is trimmed to about this many comments
# Words the alliance never shows, whatever WeChat says (ads for private channels, abuse).
BLOCKLIST = ("加微信", "加v", "vx", "私聊", "代购", "刷单", "假货", "傻逼")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIGITS = re.compile(r"\d{7,}")
NO_NAME = "微信用户"
# What everyone may read of an entry; `order_id`, `total` and `private_text` only its addressee.
PUBLIC_FIELDS = ("nickname", "text", "kind", "reply_to")


def shown_name(nickname: str | None) -> str:
    """A nickname as the room shows it: a phone number (or any long digit run) in it masked."""
    name = (nickname or "").strip() or NO_NAME
    return _DIGITS.sub(lambda m: m.group()[:3] + "*" * (len(m.group()) - 5) + m.group()[-2:], name)


def stream_key(room_id: int) -> str:
    return f"heli:live:room:{room_id}:comments"


def post(session: Session, *, room_id: int, customer_id: int, text: str) -> dict:
    """Check and publish a viewer's comment; answers it with its cursor id."""
    room = get_room(session, room_id)
    if room.live_status not in (LIVE, PAUSED):
        raise RuleBroken("直播未开始或已结束，暂不能评论", code="ROOM_NOT_LIVE")
    if moderation.is_muted(room_id, customer_id):
        raise Forbidden("您已被禁言，本场直播不能再评论", code="MUTED")
    text = _CONTROL.sub("", text).strip()
    if not text:
        raise BadRequest("评论内容不能为空", code="EMPTY_COMMENT")
    if len(text) > MAX_LENGTH:
        raise BadRequest(f"评论最多 {MAX_LENGTH} 个字", code="COMMENT_TOO_LONG")
    lowered = text.lower()
    blocked = current_app.config.get("LIVE_COMMENT_BLOCKLIST", BLOCKLIST)
    if any(word in lowered for word in blocked):
        _refuse(session, room_id, customer_id, "评论包含不允许的内容", None)
    customer = session.get(Customer, customer_id)
    try:
        verdict = wechat_client().check_text(openid=customer.openid, content=text)
    except WeChatError as exc:
        raise UpstreamUnavailable("内容安全检查暂时不可用，请稍后再试") from exc
    if verdict.get("suggest") == "risky":
        _refuse(session, room_id, customer_id, "评论包含违规内容，未能发布", verdict.get("label"))
    fields = {
        "customer_id": customer_id,
        "nickname": customer.nickname,
        "text": text,
        "review": "1" if verdict.get("suggest") == "review" else "0",
    }
    comment_id = redis_client().xadd(
        stream_key(room_id), fields, maxlen=KEEP_PER_ROOM, approximate=True
    )
    return {"id": comment_id.decode(), **fields}


def _refuse(session: Session, room_id: int, customer_id: int, message: str, label) -> None:
    muted = moderation.record_offence(
        session, room_id=room_id, customer_id=customer_id, reason=message
    )
    if muted:
        message += "；多次违规，您已被禁言"
    raise RuleBroken(message, code="COMMENT_BLOCKED", details={"label": label, "muted": muted})


def publish_reply(room_id: int, text: str, **fields) -> str:
    """The co-host bot speaks in the room: a comment by the bot (customer 0), maybe addressed to
    one viewer (`to_customer_id`) and answering one comment (`reply_to`). `text` is what the room
    reads; `private_text` (with the order's details) only the viewer it is addressed to."""
    pipe = redis_client().pipeline(transaction=False)
    queue_reply(pipe, room_id, text, **fields)
    return pipe.execute()[0].decode()


def queue_reply(
    pipe: Pipeline, room_id: int, text: str, *, private_text: str | None = None, **fields
) -> None:
    """publish_reply on a pipeline: the bot writes a batch's replies in one round trip."""
    entry = {"customer_id": 0, "nickname": BOT_NAME, "text": text, "review": "0", "bot": "1"}
    if private_text is not None:
        entry["private_text"] = private_text
    entry.update({key: str(value) for key, value in fields.items() if value is not None})
    pipe.xadd(stream_key(room_id), entry, maxlen=KEEP_PER_ROOM, approximate=True)


def read(*, room_id: int, after: str | None, limit: int) -> dict:
    """Comments after a cursor (oldest first), or the latest ones without a cursor, with every
    field: for staff only."""
    redis = redis_client()
    if after:
        if not re.fullmatch(r"\d{1,20}-\d{1,20}", after):
            raise BadRequest("游标格式不正确", code="INVALID_CURSOR")
        rows = redis.xrange(stream_key(room_id), min=f"({after}", count=limit)
    else:
        rows = list(reversed(redis.xrevrange(stream_key(room_id), count=limit)))
    hidden = moderation.hidden(room_id)
    items = [
        {"id": entry_id.decode(), **{k.decode(): v.decode() for k, v in fields.items()}}
        for entry_id, fields in rows
    ]
    cursor = items[-1]["id"] if items else after
    items = [
        item
        for item in items
        if item["id"] not in hidden and REQUIRED_FIELDS <= item.keys()  # skip malformed entries
    ]
    for item in items:
        item["customer_id"] = int(item["customer_id"])
        item["bot"] = item.get("bot") == "1"
        for number_field in ("to_customer_id", "order_id", "total"):
            if number_field in item:
                item[number_field] = int(item[number_field])
    return {"items": items, "cursor": cursor}


def _posted_at(entry_id: str) -> str:
    """When a comment was posted: its stream id starts with the milliseconds since the epoch."""
    return to_shanghai_iso(naive_utc_from_timestamp(int(entry_id.split("-")[0]) / 1000))


def read_public(*, room_id: int, after: str | None, limit: int, viewer_id: int | None) -> dict:
    """Comments as the room shows them to everyone: nickname, text, time; plus, for a signed-in
    viewer, which are their own (`mine`) and which bot replies are for them (`to_me`, with the
    order id, total and full text of a pay prompt)."""
    stream = read(room_id=room_id, after=after, limit=limit)
    items = []
    for item in stream["items"]:
        shown = {"id": item["id"], "at": _posted_at(item["id"]), "bot": item["bot"]}
        shown.update({key: item[key] for key in PUBLIC_FIELDS if key in item})
        shown["nickname"] = item["nickname"] if item["bot"] else shown_name(item["nickname"])
        if viewer_id is not None:
            shown["mine"] = not item["bot"] and item["customer_id"] == viewer_id
            shown["to_me"] = item.get("to_customer_id") == viewer_id
            if shown["to_me"]:
                shown["text"] = item.get("private_text") or item["text"]
                shown.update({k: item[k] for k in ("order_id", "total") if k in item})
        items.append(shown)
    return {"items": items, "cursor": stream["cursor"]}
