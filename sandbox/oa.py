"""api.weixin.qq.com stand-in for the Official Account (公众号): user/info, 客服消息, 模板消息.

Same contract as wechat.py: global injected faults first, then the access_token check — which
here accepts only the OA app's token (a mini-program token gets 48001, as OA tokens do on the
mini-program APIs) — then the OA's own scripted faults (`/sandbox/oa/faults`), then the API.
Errors are HTTP 200 `{"errcode", "errmsg"}`.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from . import oa_messages, oa_push, wechat_tokens
from .context import Sandbox, current_sandbox
from .errors import WeChatError
from .wechat import _json_body, _latency, _wechat_error

bp = Blueprint("oa", __name__)
bp.errorhandler(WeChatError)(_wechat_error)
bp.before_request(_latency)


def _oa_guard(sb: Sandbox, api: str) -> None:
    """Caller holds the lock."""
    fault = sb.state.faults.take_wechat_error()
    if fault:
        raise WeChatError(*fault)
    token = wechat_tokens.check_access_token(sb, request.args.get("access_token"))
    if token.appid != sb.settings.get("WECHAT_OA_APPID"):
        raise WeChatError(48001, "api unauthorized")
    oa_messages.take_fault(sb, api)


def _counted(sb: Sandbox, api: str, error: WeChatError) -> WeChatError:
    sb.state.oa.stats[f"{api}_refused:{error.errcode}"] += 1
    return error


@bp.get("/cgi-bin/user/info")
def user_info():
    sb = current_sandbox()
    with sb.state.lock:
        _oa_guard(sb, "user_info")
        return jsonify(oa_messages.user_info(sb, request.args.get("openid")))


@bp.post("/cgi-bin/message/custom/send")
def custom_send():
    sb = current_sandbox()
    with sb.state.lock:
        try:
            body = _json_body()
            _oa_guard(sb, "custom")
            answer = oa_messages.send_custom(sb, body)
        except WeChatError as error:
            raise _counted(sb, "custom", error) from None
        sb.state.oa.stats["custom_accepted"] += 1
    return jsonify(answer)


@bp.post("/cgi-bin/message/template/send")
def template_send():
    sb = current_sandbox()
    with sb.state.lock:
        try:
            body = _json_body()
            _oa_guard(sb, "template")
            answer, finish = oa_messages.send_template(sb, body)
        except WeChatError as error:
            raise _counted(sb, "template", error) from None
        if finish is not None:
            sb.state.oa.stats["template_accepted"] += 1
    if finish is not None:
        oa_push.schedule_finish(sb, *finish)
    return jsonify(answer)
