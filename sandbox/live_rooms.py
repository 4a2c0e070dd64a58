"""小程序直播 rooms: `wxaapi/broadcast/room/create`, `wxa/business/getliveinfo` and the live_status
state machine (101 live, 102 not started, 103 ended, 104 banned, 105 paused, 106 abnormal,
107 expired).

Time moves a room on its own (see `settle`), read lazily against the sandbox clock so that
`POST /sandbox/clock {advance}` is all a test needs; what the host does on the phone arrives
through `change_status` (a control endpoint). Callers hold the sandbox lock.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime
from typing import Any

from . import media
from .context import Sandbox
from .errors import ControlError, WeChatError
from .live_common import WeChatErrorWithData, body_object, is_int, required_int, spend_quota
from .live_common import text_width as width
from .live_goods import goods_info
from .times import CST
from .wxa_state import Room

# the "小程序直播" mini-program code the real API answers with 300036 (from the create-room doc)
QRCODE_URL = (
    "https://res.wx.qq.com/op_res/9rSix1dhHfK4rR049JL0PHJ7TpOvkuZ3mE0z7Ou_Etvjf-w1J_jVX0rZqeStLfwh"
)
WECHAT_ID = re.compile(r"^[A-Za-z][-_A-Za-z0-9]{5,19}$")  # WeChat's rule for a 微信号
_ILLEGAL_NAME_CHARS = re.compile("[\x00-\x1f\x7f\U00010000-\U0010ffff]")  # controls, emoji
FLAG_DEFAULTS = {  # the doc's defaults for the optional switches
    "type": 0,
    "isFeedsPublic": 1,
    "closeLike": 0,
    "closeGoods": 0,
    "closeComment": 0,
    "closeReplay": 1,
    "closeShare": 0,
    "closeKf": 1,
}
IMAGE_FIELDS = (  # field, errcode when it is not a usable media id
    ("coverImg", 300031),
    ("shareImg", 300032),
    ("feedsImg", 300037),
)
TIME_ERRMSG = "parameter startTime or endTime is invalid"  # the platform's words for 200002
LIVE, NOT_STARTED, ENDED, BANNED, PAUSED, ABNORMAL, EXPIRED = range(101, 108)
FINAL = (ENDED, BANNED, EXPIRED)
# what the host (phone / MP console) may do from each state; time does the rest
TRANSITIONS: dict[int, tuple[int, ...]] = {
    NOT_STARTED: (LIVE, BANNED),
    LIVE: (ENDED, BANNED, PAUSED, ABNORMAL),
    PAUSED: (LIVE, ENDED, BANNED),
    ABNORMAL: (LIVE, ENDED, BANNED),
}
REPLAY_TTL_SECONDS = 7 * 24 * 3600  # sandbox choice: how long a replay url is said to live


def _add_months(moment: float, months: int) -> float:
    """The same wall-clock time `months` calendar months later in China time."""
    start = datetime.fromtimestamp(moment, CST)
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])  # 31 Aug + 6 months = 28/29 Feb
    return start.replace(year=year, month=month, day=day).timestamp()


def _check_wechat_id(value: Any, errcode: int, what: str) -> str:
    if not isinstance(value, str) or not WECHAT_ID.match(value):
        raise WeChatError(errcode, f"invalid {what}")
    return value


def is_verified(sb: Sandbox, wechat: str) -> bool:
    """Real-name verified in the 小程序直播 mini-program: the setting plus control additions."""
    return wechat in sb.settings["live_verified_wechats"] or wechat in sb.state.wxa.verified_wechats


def _check_times(sb: Sandbox, body: dict[str, Any]) -> tuple[int, int]:
    start, end = required_int(body, "startTime"), required_int(body, "endTime")
    now = sb.wechat_now()
    if start < now + 600:
        raise WeChatError(200002, f"{TIME_ERRMSG}, startTime must be 10 minutes later than now")
    if start > _add_months(now, 6):
        raise WeChatError(200002, f"{TIME_ERRMSG}, startTime must be within 6 months")
    if not 1800 <= end - start <= 24 * 3600:
        raise WeChatError(200002, f"{TIME_ERRMSG}, endTime must be 30 minutes to 24 hours later")
    return start, end


def create_room(sb: Sandbox, body: Any) -> dict[str, Any]:
    """Validate the documented create-room body in the doc's order and open a room in 102."""
    body = body_object(body)
    spend_quota(sb, "room/create", "live_create_room_per_day")
    name = body.get("name")
    if not isinstance(name, str):
        raise WeChatError(200002, "invalid args, name must be a string")
    if _ILLEGAL_NAME_CHARS.search(name):
        raise WeChatError(300040, "name contains illegal characters")
    if not 6 <= width(name) <= 34:
        raise WeChatError(300002, "invalid name length, 3-17 chinese characters (1 = 2 letters)")
    for key, errcode in IMAGE_FIELDS:
        if not media.usable(sb, body.get(key)):
            raise WeChatError(errcode, f"invalid {key}, media_id not found or expired")
    start, end = _check_times(sb, body)
    anchor_name = body.get("anchorName")
    if not isinstance(anchor_name, str) or not 4 <= width(anchor_name) <= 30:
        raise WeChatError(300034, "invalid anchorName length, 2-15 chinese characters")
    anchor = _check_wechat_id(body.get("anchorWechat"), 300030, "anchorWechat")
    if not is_verified(sb, anchor):
        raise WeChatErrorWithData(
            300036, "anchorWechat is not real-name verified", qrcode_url=QRCODE_URL
        )
    sub = body.get("subAnchorWechat") or None
    if sub is not None:
        _check_wechat_id(sub, 300039, "subAnchorWechat")
        if not is_verified(sb, sub):
            raise WeChatError(300039, "subAnchorWechat is not real-name verified")
    creater = body.get("createrWechat") or None
    if creater is not None:
        _check_wechat_id(creater, 300041, "createrWechat")
    flags = {key: body.get(key, default) for key, default in FLAG_DEFAULTS.items()}
    for key, value in flags.items():
        if not is_int(value) or value not in (0, 1):
            raise WeChatError(200002, f"invalid args, {key} must be 0 or 1")

    wxa = sb.state.wxa
    now = sb.wechat_now()
    roomid = sb.state.ids.take("roomid")
    room = wxa.rooms[roomid] = _new_room(roomid, body, start, end, flags, now)
    return {"errcode": 0, "errmsg": "ok", "roomId": room.roomid}


def _new_room(roomid: int, body: dict, start: int, end: int, flags: dict, now: float) -> Room:
    return Room(
        roomid=roomid,
        name=body["name"],
        cover_img=body["coverImg"],
        share_img=body["shareImg"],
        feeds_img=body["feedsImg"],
        start_time=start,
        end_time=end,
        anchor_name=body["anchorName"],
        anchor_wechat=body["anchorWechat"],
        sub_anchor_wechat=body.get("subAnchorWechat") or None,
        creater_wechat=body.get("createrWechat") or None,
        flags=flags,
        created_at=now,
        status_since=now,
    )


def _move(room: Room, status: int, at: float) -> None:
    room.live_status = status
    room.status_since = at
    if status == LIVE and room.started_at is None:
        room.started_at = at
    if status == ENDED:
        room.ended_at = at


def settle(sb: Sandbox, room: Room) -> None:
    """Apply what the clock decides: 102 past its end -> 107; 101/105 past the end -> 103;
    106 left alone for the grace period (15 min) or past the end -> 103."""
    now = sb.wechat_now()
    if room.live_status == NOT_STARTED and now >= room.end_time:
        _move(room, EXPIRED, room.end_time)
    elif room.live_status in (LIVE, PAUSED) and now >= room.end_time:
        _move(room, ENDED, room.end_time)
    elif room.live_status == ABNORMAL:
        grace = float(sb.settings["live_abnormal_grace_seconds"])
        deadline = min(room.status_since + grace, room.end_time)
        if now >= deadline:
            _move(room, ENDED, deadline)


def find_room(sb: Sandbox, roomid: Any) -> Room:
    """The settled room, or 300022 as the platform answers for an unknown room id."""
    room = sb.state.wxa.rooms.get(roomid) if is_int(roomid) else None
    if room is None:
        raise WeChatError(300022, "room not exist")
    settle(sb, room)
    return room


def change_status(sb: Sandbox, roomid: int, status: Any) -> None:
    """The host starts / pauses / ends on the phone, or the platform bans: control only."""
    room = sb.state.wxa.rooms.get(roomid)
    if room is None:
        raise ControlError(f"unknown room {roomid}", status=404)
    settle(sb, room)
    allowed = TRANSITIONS.get(room.live_status, ())
    if status not in allowed:
        raise ControlError(
            f"room {roomid} is {room.live_status}: live_status {status!r} is not possible "
            f"(allowed: {list(allowed)})"
        )
    _move(room, status, sb.wechat_now())


def room_info(sb: Sandbox, room: Room, base_url: str) -> dict[str, Any]:
    """One `room_info[]` entry of getliveinfo."""
    flags = room.flags
    return {
        "name": room.name,
        "roomid": room.roomid,
        "cover_img": media.media_url(base_url, room.cover_img),
        "share_img": media.media_url(base_url, room.share_img),
        "feeds_img": media.media_url(base_url, room.feeds_img),
        "live_status": room.live_status,
        "start_time": room.start_time,
        "end_time": room.end_time,
        "anchor_name": room.anchor_name,
        "goods": [goods_info(sb.state.wxa.goods[g], base_url) for g in room.goods],
        "live_type": flags["type"],
        "close_like": flags["closeLike"],
        "close_goods": flags["closeGoods"],
        "close_comment": flags["closeComment"],
        "close_kf": flags["closeKf"],
        "close_replay": flags["closeReplay"],
        "is_feeds_public": flags["isFeedsPublic"],
        "creater_openid": "",
    }


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _replays(room: Room, base_url: str) -> list[dict[str, Any]]:
    # a replay exists once a room that really went live has ended with replay switched on
    if room.live_status != ENDED or room.started_at is None or room.flags["closeReplay"]:
        return []
    ended = room.ended_at or room.status_since
    return [
        {
            "create_time": _iso(ended),
            "expire_time": _iso(ended + REPLAY_TTL_SECONDS),
            "media_url": f"{base_url}/sandbox/live/rooms/{room.roomid}/replay.mp4",
        }
    ]


def get_live_info(sb: Sandbox, body: Any, base_url: str) -> dict[str, Any]:
    """Rooms by start_time desc, paged by start/limit; `action: get_replay` lists replays."""
    body = body_object(body)
    spend_quota(sb, "getliveinfo", "live_getliveinfo_per_day")
    start, limit = required_int(body, "start"), required_int(body, "limit")
    if start < 0 or limit < 1:
        raise WeChatError(200002, "invalid args, start must be >= 0 and limit >= 1")
    limit = min(limit, 100)  # the doc asks for <= 100; more is served as 100
    action = body.get("action")
    if action is not None:
        if action != "get_replay":
            raise WeChatError(200002, "invalid args, action must be get_replay")
        if not is_int(body.get("room_id")):
            raise WeChatError(200002, "invalid args, room_id is required with action")
        replays = _replays(find_room(sb, body["room_id"]), base_url)
        return {
            "errcode": 0,
            "errmsg": "ok",
            "total": len(replays),
            "live_replay": replays[start : start + limit],
        }
    rooms = list(sb.state.wxa.rooms.values())
    for room in rooms:
        settle(sb, room)
    rooms.sort(key=lambda r: (r.start_time, r.roomid), reverse=True)
    return {
        "errcode": 0,
        "errmsg": "ok",
        "total": len(rooms),
        "room_info": [room_info(sb, r, base_url) for r in rooms[start : start + limit]],
    }


def control_view(sb: Sandbox, room: Room) -> dict[str, Any]:
    """What `GET /sandbox/live/rooms` shows: everything a test may want to assert on."""
    goods = sb.state.wxa.goods
    return {
        "roomId": room.roomid,
        "name": room.name,
        "live_status": room.live_status,
        "status_since": room.status_since,
        "start_time": room.start_time,
        "end_time": room.end_time,
        "anchor_name": room.anchor_name,
        "anchor_wechat": room.anchor_wechat,
        "sub_anchor_wechat": room.sub_anchor_wechat,
        "creater_wechat": room.creater_wechat,
        "flags": dict(room.flags),
        "images": {
            "coverImg": room.cover_img,
            "shareImg": room.share_img,
            "feedsImg": room.feeds_img,
        },
        "created_at": room.created_at,
        "started_at": room.started_at,
        "ended_at": room.ended_at,
        "goods": [
            {"goodsId": g, "name": goods[g].name, "on_sale": g not in room.off_sale}
            for g in room.goods
        ],
    }
