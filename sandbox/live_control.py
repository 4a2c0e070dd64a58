"""Control endpoints for the live, media and msgSecCheck stand-ins (not part of WeChat): what the
host does on the phone, what the reviewers decide, and what tests need to look at."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from . import live_goods, live_rooms
from .context import current_sandbox
from .control import control_body
from .errors import ControlError
from .live_common import is_int

bp = Blueprint("live_control", __name__, url_prefix="/sandbox")


def _required_str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ControlError(f"{key} is required")
    return value


@bp.post("/live/rooms/<int:roomid>/status")
def room_status(roomid: int):
    """`{live_status}`: 101 start/resume, 105 pause, 106 abnormal, 103 end, 104 ban."""
    status = control_body().get("live_status")
    if not is_int(status):
        raise ControlError("live_status must be a number")
    sb = current_sandbox()
    with sb.state.lock:
        live_rooms.change_status(sb, roomid, status)
        return jsonify(live_rooms.control_view(sb, sb.state.wxa.rooms[roomid]))


@bp.get("/live/rooms")
def list_rooms():
    sb = current_sandbox()
    with sb.state.lock:
        rooms = list(sb.state.wxa.rooms.values())
        for room in rooms:
            live_rooms.settle(sb, room)
        return jsonify({"rooms": [live_rooms.control_view(sb, r) for r in rooms]})


@bp.post("/live/goods/<int:goods_id>/audit")
def goods_audit(goods_id: int):
    """`{status: 2|3}`: the reviewers approve or reject a goods under audit."""
    status = control_body().get("status")
    sb = current_sandbox()
    with sb.state.lock:
        goods = live_goods.set_audit(sb, goods_id, status)
        return jsonify(live_goods.control_view(goods))


@bp.get("/live/goods")
def list_goods():
    sb = current_sandbox()
    with sb.state.lock:
        goods = list(sb.state.wxa.goods.values())
        for item in goods:
            live_goods.settle_audit(sb, item)
        return jsonify({"goods": [live_goods.control_view(g) for g in goods]})


@bp.get("/live/pushes")
def list_pushes():
    """Product cards pushed to viewers, oldest first; `?roomId=` filters."""
    roomid = request.args.get("roomId", type=int)
    sb = current_sandbox()
    with sb.state.lock:
        pushes = [dict(p) for p in sb.state.wxa.pushes if roomid in (None, p["roomId"])]
    return jsonify({"pushes": pushes})


@bp.post("/live/anchors")
def verify_anchor():
    """`{wechat}`: the anchor scanned the qrcode_url and passed real-name verification."""
    wechat = _required_str(control_body(), "wechat")
    if not live_rooms.WECHAT_ID.match(wechat):
        raise ControlError("wechat must look like a WeChat id (6-20 letters, digits, _ or -)")
    sb = current_sandbox()
    with sb.state.lock:
        sb.state.wxa.verified_wechats.add(wechat)
        verified = sorted(set(sb.settings["live_verified_wechats"]) | sb.state.wxa.verified_wechats)
    return jsonify({"verified": verified})


@bp.post("/wx/visit")
def visit():
    """`{openid}`: the user opened the mini-program now (msgSecCheck wants a visit in 2 hours)."""
    openid = _required_str(control_body(), "openid")
    sb = current_sandbox()
    with sb.state.lock:
        now = sb.wechat_now()
        sb.state.wxa.visits[openid] = now
        sb.state.wechat.known_openids.add(openid)  # a visitor has an openid under this appid
    return jsonify({"openid": openid, "visited_at": now})


@bp.get("/wx/sec-checks")
def list_sec_checks():
    """Every msg_sec_check call that got a verdict, oldest first; `?openid=` filters."""
    openid = request.args.get("openid")
    sb = current_sandbox()
    with sb.state.lock:
        checks = [dict(c) for c in sb.state.wxa.sec_checks if openid in (None, c["openid"])]
    return jsonify({"sec_checks": checks})


@bp.get("/media/<media_id>")
def media_file(media_id: str):
    """The picture behind a media id: where cover_img / cover_img_url links point."""
    sb = current_sandbox()
    with sb.state.lock:
        stored = sb.state.wxa.media.get(media_id)
    if stored is None:
        raise ControlError(f"unknown media {media_id}", status=404)
    return Response(stored.data, mimetype=stored.content_type)
