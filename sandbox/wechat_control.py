"""Control endpoints for the WeChat stand-in (not part of WeChat): what the phone would do, and what
tests need to look at."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from . import subscribe, wechat_login
from .context import current_sandbox
from .control import control_body
from .errors import ControlError

bp = Blueprint("wechat_control", __name__, url_prefix="/sandbox/wx")


def _required_str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ControlError(f"{key} is required")
    return value


@bp.post("/login-code")
def login_code():
    """The phone calls wx.login(): mint a single-use code for this user."""
    body = control_body()
    openid = _required_str(body, "openid")
    sb = current_sandbox()
    with sb.state.lock:
        code = wechat_login.mint_code(sb, openid, body.get("unionid"), body.get("appid"))
    return jsonify({"code": code})


@bp.post("/subscriptions")
def grant_subscription():
    """The user accepted wx.requestSubscribeMessage: `count` one-time credits for a template."""
    body = control_body()
    openid = _required_str(body, "openid")
    template_id = _required_str(body, "template_id")
    count = body.get("count", 1)
    if not isinstance(count, int) or count < 0:
        raise ControlError("count must be a non-negative integer")
    sb = current_sandbox()
    with sb.state.lock:
        wx = sb.state.wechat
        if template_id not in wx.templates:
            raise ControlError(f"unknown template_id {template_id}")
        wx.known_openids.add(openid)
        wx.credits[(openid, template_id)] += count
        credits = wx.credits[(openid, template_id)]
    return jsonify({"openid": openid, "template_id": template_id, "credits": credits})


@bp.get("/subscriptions")
def list_subscriptions():
    openid = request.args.get("openid")
    sb = current_sandbox()
    with sb.state.lock:
        rows = [
            {"openid": o, "template_id": t, "credits": n}
            for (o, t), n in sb.state.wechat.credits.items()
            if openid in (None, o)
        ]
    return jsonify({"subscriptions": rows})


@bp.get("/messages")
def list_messages():
    """Every subscribe message sent, oldest first; filter with ?touser= and ?template_id=."""
    touser = request.args.get("touser")
    template_id = request.args.get("template_id")
    sb = current_sandbox()
    with sb.state.lock:
        messages = [
            dict(m)
            for m in sb.state.wechat.messages
            if touser in (None, m["touser"]) and template_id in (None, m["template_id"])
        ]
    return jsonify({"messages": messages})


@bp.get("/token-calls")
def token_calls():
    """How many times clients asked for a token, so tests can assert retries were bounded."""
    sb = current_sandbox()
    with sb.state.lock:
        calls = sb.state.wechat.token_calls
        token, stable = calls["token"], calls["stable_token"]
    return jsonify({"token": token, "stable_token": stable, "total": token + stable})


@bp.route("/templates", methods=["GET", "POST"])
def templates():
    """GET lists templates; POST `{template_id, keys: ["thing1", ...]}` registers one."""
    sb = current_sandbox()
    if request.method == "POST":
        body = control_body()
        template_id = _required_str(body, "template_id")
        keys = body.get("keys")
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise ControlError("keys must be a non-empty list of strings")
        try:
            subscribe.check_template_keys(keys)
        except ValueError as error:
            raise ControlError(str(error)) from None
        with sb.state.lock:
            sb.state.wechat.templates[template_id] = list(keys)
        return jsonify({"template_id": template_id, "keys": keys})
    with sb.state.lock:
        return jsonify({"templates": {k: list(v) for k, v in sb.state.wechat.templates.items()}})


@bp.get("/wxacodes")
def list_wxacodes():
    sb = current_sandbox()
    with sb.state.lock:
        return jsonify({"wxacodes": [dict(c) for c in sb.state.wechat.wxacodes]})
