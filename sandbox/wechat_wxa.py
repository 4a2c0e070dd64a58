"""api.weixin.qq.com stand-in, continued: temporary media, 小程序直播 (live rooms and goods) and
msgSecCheck, on their real paths.

Same contract as wechat.py, whose guard this reuses: injected faults first, then the
access_token check, then the API; errors are HTTP 200 `{"errcode", "errmsg"}`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify, request

from . import live_goods, live_room_goods, live_rooms, media, sec_check
from .context import Sandbox, current_sandbox
from .errors import WeChatError
from .wechat import _guard, _json_body, _latency, _wechat_error

bp = Blueprint("wechat_wxa", __name__)
bp.errorhandler(WeChatError)(_wechat_error)  # subclasses (300036 + qrcode_url) keep their body
bp.before_request(_latency)


def _base_url() -> str:
    """Picture and replay links point back at this sandbox."""
    return request.host_url.rstrip("/")


Handler = Callable[[Sandbox, Any], dict[str, Any]]

JSON_APIS: dict[str, Handler] = {
    "/wxaapi/broadcast/room/create": live_rooms.create_room,
    "/wxa/business/getliveinfo": lambda sb, b: live_rooms.get_live_info(sb, b, _base_url()),
    "/wxaapi/broadcast/goods/add": live_goods.add_goods,
    "/wxaapi/broadcast/goods/audit": live_goods.resubmit_audit,
    "/wxa/business/getgoodswarehouse": lambda sb, b: live_goods.warehouse(sb, b, _base_url()),
    "/wxaapi/broadcast/room/addgoods": live_room_goods.add_goods_to_room,
    "/wxaapi/broadcast/goods/onsale": live_room_goods.on_sale,
    "/wxaapi/broadcast/goods/push": live_room_goods.push,
    "/wxaapi/broadcast/goods/sort": live_room_goods.sort,
    "/wxaapi/broadcast/goods/deleteInRoom": live_room_goods.delete_in_room,
    "/wxa/msg_sec_check": sec_check.check,
}


def _json_view(handler: Handler) -> Callable[[], Any]:
    def view():
        sb = current_sandbox()
        body = _json_body()
        with sb.state.lock:
            _guard(sb)
            return jsonify(handler(sb, body))

    return view


for _path, _handler in JSON_APIS.items():
    bp.add_url_rule(_path, endpoint=_path, view_func=_json_view(_handler), methods=["POST"])


@bp.get("/wxa/msg_sec_check")
def msg_sec_check_get():
    raise WeChatError(43302, "require POST method")


@bp.post("/cgi-bin/media/upload")
def media_upload():
    """Multipart field `media`, `?type=image|voice|video|thumb` (what wechatpy's upload sends)."""
    sb = current_sandbox()
    upload = request.files.get("media")
    data = upload.read() if upload is not None else None
    filename = (upload.filename or "") if upload is not None else ""
    with sb.state.lock:
        _guard(sb)
        return jsonify(media.upload(sb, request.args.get("type"), filename, data))
