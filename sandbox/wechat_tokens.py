"""Access tokens: `cgi-bin/token`, `cgi-bin/stable_token`, and the check every other API makes.

The two kinds are isolated, as on the real platform: fetching one never touches the other.
Callers hold the sandbox lock.
"""

from __future__ import annotations

import secrets
from typing import Any

from .context import Sandbox
from .errors import WeChatError
from .state import Token

INVALID_TOKEN = "invalid credential, access_token is invalid or not latest"
DAY = 24 * 3600


def _check_app(sb: Sandbox, grant_type: Any, appid: Any, secret: Any) -> str:
    fault = sb.state.faults.take_token_error()
    if fault:
        raise WeChatError(*fault)
    if grant_type != "client_credential":
        raise WeChatError(40002, "invalid grant_type")
    if appid not in sb.apps:
        raise WeChatError(40013, "invalid appid")
    if secret != sb.apps[appid]:
        raise WeChatError(40001, "invalid credential, appsecret is wrong")
    return appid


def _new_token(sb: Sandbox, appid: str, kind: str, now: float) -> Token:
    token = Token(
        value=secrets.token_urlsafe(96),  # real tokens are long; storage must allow 512 chars
        appid=appid,
        kind=kind,
        expires_at=now + int(sb.settings["token_expires_in"]),
    )
    sb.state.wechat.tokens[token.value] = token
    return token


def _answer(token: Token, now: float) -> dict[str, Any]:
    return {"access_token": token.value, "expires_in": max(0, int(token.expires_at - now))}


def _is_live(token: Token | None, now: float) -> bool:
    if token is None or now >= token.expires_at:
        return False
    return token.cut_at is None or now < token.cut_at


def issue_token(sb: Sandbox, args: dict[str, Any]) -> dict[str, Any]:
    """getAccessToken: always a new token; the previous one survives a short grace period."""
    wx = sb.state.wechat
    wx.token_calls["token"] += 1
    appid = _check_app(sb, args.get("grant_type"), args.get("appid"), args.get("secret"))
    now = sb.wechat_now()
    previous = wx.tokens.get(wx.latest_token.get(appid, ""))
    if previous is not None:
        grace_end = now + float(sb.settings["token_grace_seconds"])
        previous.cut_at = min(previous.cut_at or grace_end, grace_end)
    token = _new_token(sb, appid, "token", now)
    wx.latest_token[appid] = token.value
    return _answer(token, now)


def issue_stable_token(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """getStableAccessToken: the same token while valid; `force_refresh` rotates at a price."""
    wx = sb.state.wechat
    wx.token_calls["stable_token"] += 1
    appid = _check_app(sb, body.get("grant_type"), body.get("appid"), body.get("secret"))
    force_refresh = body.get("force_refresh", False)
    if not isinstance(force_refresh, bool):
        raise WeChatError(47001, "data format error, force_refresh must be a boolean")
    now = sb.wechat_now()
    current = wx.tokens.get(wx.stable_token.get(appid, ""))

    if force_refresh:
        history = [t for t in wx.force_refreshes.get(appid, []) if now - t < DAY]
        min_interval = float(sb.settings["stable_force_refresh_min_interval"])
        if history and now - history[-1] < min_interval:
            raise WeChatError(45009, f"force_refresh allowed once per {min_interval:g} seconds")
        if len(history) >= int(sb.settings["stable_force_refresh_per_day"]):
            raise WeChatError(45009, "reach max api daily quota limit")
        history.append(now)
        wx.force_refreshes[appid] = history
        if current is not None:
            current.cut_at = now  # the old stable token dies at once
    elif current is not None and _is_live(current, now):
        window = float(sb.settings["stable_token_prerefresh_seconds"])
        lifetime = float(sb.settings["token_expires_in"])
        # the platform pre-refreshes in the last minutes; the old token lives on until it expires
        if not (window < lifetime and current.expires_at - now <= window):
            return _answer(current, now)

    token = _new_token(sb, appid, "stable", now)
    wx.stable_token[appid] = token.value
    return _answer(token, now)


def check_access_token(sb: Sandbox, value: str | None) -> Token:
    """The `?access_token=` check of every API: 41001 missing, 40001 invalid, 42001 expired."""
    if not value:
        raise WeChatError(41001, "access_token missing")
    now = sb.wechat_now()
    token = sb.state.wechat.tokens.get(value)
    if token is None or (token.cut_at is not None and now >= token.cut_at):
        raise WeChatError(40001, INVALID_TOKEN)
    if now >= token.expires_at:
        raise WeChatError(42001, "access_token expired")
    return token
