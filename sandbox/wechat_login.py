"""`wx.login` codes and `sns/jscode2session`. Callers hold the sandbox lock."""

from __future__ import annotations

import base64
import secrets
from collections import deque
from typing import Any

from .context import Sandbox
from .errors import WeChatError
from .state import LoginCode


def mint_code(sb: Sandbox, openid: str, unionid: str | None, appid: str | None) -> str:
    """What `wx.login()` gives the phone: a single-use code bound to one user."""
    code = secrets.token_hex(16)  # real codes are 32 visible characters
    sb.state.wechat.codes[code] = LoginCode(
        openid=openid,
        unionid=unionid,
        appid=appid or sb.appid,
        expires_at=sb.wechat_now() + float(sb.settings["code_ttl_seconds"]),
    )
    return code


def code_to_session(sb: Sandbox, args: dict[str, Any]) -> dict[str, Any]:
    """Exchange a code for openid + session_key (+unionid); the extra access_token is ignored."""
    wx = sb.state.wechat
    appid = args.get("appid")
    if appid not in sb.apps:
        raise WeChatError(40013, "invalid appid")
    if args.get("secret") != sb.apps[appid]:
        raise WeChatError(40001, "invalid credential, appsecret is wrong")
    if args.get("grant_type") != "authorization_code":
        raise WeChatError(40002, "invalid grant_type")
    now = sb.wechat_now()
    code = wx.codes.get(args.get("js_code") or "")
    if code is None or code.appid != appid or now >= code.expires_at:
        raise WeChatError(40029, "invalid code")

    # 100 calls per minute per user; checked before the code is spent so a retry can succeed
    calls = wx.login_calls.setdefault(code.openid, deque())
    while calls and now - calls[0] >= 60:
        calls.popleft()
    if len(calls) >= int(sb.settings["code2session_per_minute"]):
        raise WeChatError(45011, "api minute-quota reach limit  mustslower  retry next minute")
    calls.append(now)

    del wx.codes[args["js_code"]]
    session_key = base64.b64encode(secrets.token_bytes(16)).decode("ascii")
    wx.session_keys[code.openid] = session_key
    wx.known_openids.add(code.openid)
    answer = {"openid": code.openid, "session_key": session_key}
    if code.unionid:
        answer["unionid"] = code.unionid
    return answer
