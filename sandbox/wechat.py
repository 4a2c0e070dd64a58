"""api.weixin.qq.com stand-in: the routes, on their real paths.

Errors are HTTP 200 with `{"errcode", "errmsg"}` as on the real platform. Injected faults hit every
API except the two token endpoints (so a client can always fetch a token, then fail again).
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from . import subscribe, wechat_login, wechat_tokens, wxacode
from .context import Sandbox, current_sandbox
from .errors import WeChatError
from .state import Token

bp = Blueprint("wechat", __name__)


@bp.errorhandler(WeChatError)
def _wechat_error(error: WeChatError):
    return jsonify(error.body())


@bp.before_request
def _latency() -> None:
    sb = current_sandbox()
    with sb.state.lock:
        latency_ms = sb.state.faults.latency_ms
    if latency_ms:
        time.sleep(latency_ms / 1000)


def _json_body() -> Any:
    # wechatpy posts UTF-8 JSON bytes without a Content-Type, so parse the raw body ourselves
    try:
        return json.loads(request.get_data() or b"null")
    except ValueError:
        raise WeChatError(47001, "data format error") from None


def _guard(sb: Sandbox, *, needs_token: bool = True) -> Token | None:
    """Injected fault first, then the access_token check. Caller holds the lock."""
    fault = sb.state.faults.take_wechat_error()
    if fault:
        raise WeChatError(*fault)
    if not needs_token:
        return None
    token = wechat_tokens.check_access_token(sb, request.args.get("access_token"))
    if token.appid != sb.appid:  # an official-account token cannot call mini-program APIs
        raise WeChatError(48001, "api unauthorized")
    return token


@bp.get("/cgi-bin/token")
def token():
    sb = current_sandbox()
    with sb.state.lock:
        return jsonify(wechat_tokens.issue_token(sb, request.args.to_dict()))


@bp.post("/cgi-bin/stable_token")
def stable_token():
    sb = current_sandbox()
    body = _json_body()
    if not isinstance(body, dict):
        raise WeChatError(47001, "data format error")
    with sb.state.lock:
        return jsonify(wechat_tokens.issue_stable_token(sb, body))


@bp.get("/sns/jscode2session")
def jscode2session():
    sb = current_sandbox()
    with sb.state.lock:
        _guard(sb, needs_token=False)  # authenticated by appid+secret, not by a token
        return jsonify(wechat_login.code_to_session(sb, request.args.to_dict()))


@bp.post("/cgi-bin/message/subscribe/send")
def subscribe_send():
    sb = current_sandbox()
    body = _json_body()
    with sb.state.lock:
        _guard(sb)
        return jsonify(subscribe.send(sb, body))


@bp.post("/wxa/getwxacodeunlimit")
def wxacode_unlimited():
    sb = current_sandbox()
    body = _json_body()
    with sb.state.lock:
        _guard(sb)
        png = wxacode.get_unlimited(sb, body)
    return Response(png, mimetype="image/png")
