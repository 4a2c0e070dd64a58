"""Official Account web authorisation (网页授权, api-facts §7.3): `open.weixin.qq.com/connect/
oauth2/authorize` as the phone's WeChat answers it, and `api.weixin.qq.com/sns/*`.

The "current WeChat user" of the simulated phone is the openid in the `sandbox_wx_openid` cookie
(set by `POST /sandbox/wx/oauth/user`, which answers with that cookie) or, without the cookie, the
one that endpoint last set for everybody. Codes are single use and live
`oauth_code_ttl_seconds`; a used code answers 40163, an unknown or expired one 40029. Page errors
(bad authorize parameters) are WeChat's error page with the errcode, HTTP 200 as in WeChat."""

from __future__ import annotations

import re
import secrets
from collections import deque
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, jsonify, redirect, request

from .context import Sandbox, current_sandbox
from .errors import WeChatError
from .wechat import _latency, _wechat_error

bp = Blueprint("oa_oauth", __name__)
bp.errorhandler(WeChatError)(_wechat_error)
bp.before_request(_latency)

COOKIE = "sandbox_wx_openid"
SCOPES = ("snsapi_base", "snsapi_userinfo")
STATE_RE = re.compile(r"^[a-zA-Z0-9]{1,128}$")
PAGE_ERRORS = {
    10003: "redirect_uri域名与后台配置不一致",
    10004: "此公众号被封禁",
    10005: "此公众号并没有这些scope的权限",
    10006: "必须关注此测试号",
    10009: "操作太频繁了，请稍后重试",
    10010: "scope不能为空",
    10011: "redirect_uri不能为空",
    10012: "appid不能为空",
    10013: "state不能为空",
    40013: "invalid appid",
}


@dataclass
class OAuthCode:
    openid: str
    appid: str
    scope: str
    expires_at: float
    used: bool = False


@dataclass
class OAuthGrant:
    openid: str
    appid: str
    scope: str
    expires_at: float


@dataclass
class OAuthData:
    current_openid: str | None = None
    # per-user choices: {"consent": "allow"|"deny", "nickname": ...}
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, OAuthCode] = field(default_factory=dict)
    tokens: dict[str, OAuthGrant] = field(default_factory=dict)
    refresh_tokens: dict[str, OAuthGrant] = field(default_factory=dict)
    authorize_calls: dict[str, deque] = field(default_factory=dict)
    banned_appids: set[str] = field(default_factory=set)
    domains: list[str] | None = None  # 网页授权域名; None = the `oauth_domains` setting
    log: list[dict[str, Any]] = field(default_factory=list)  # every authorize answered


def _state(sb: Sandbox) -> OAuthData:
    if not hasattr(sb.state, "oauth") or sb.state.oauth is None:
        sb.state.oauth = OAuthData()
    return sb.state.oauth


def _page_error(errcode: int):
    text = PAGE_ERRORS[errcode]
    body = (
        "<!doctype html><html lang='zh-CN'><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>微信</title><h2>Oops! Something went wrong:(</h2>"
        f"<p class='errcode'>{errcode}</p><p>{escape(text)}</p></html>"
    )
    return body, 200, {"Content-Type": "text/html; charset=utf-8", "X-WeChat-Errcode": str(errcode)}


def _domain_ok(sb: Sandbox, oauth: OAuthData, redirect_uri: str) -> bool:
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    domains = oauth.domains if oauth.domains is not None else sb.settings["oauth_domains"]
    if domains is None:
        return True
    host = parts.netloc.lower()
    return any(host == d.lower() or parts.hostname == d.lower() for d in domains)


@bp.get("/connect/oauth2/authorize")
def authorize():
    sb = current_sandbox()
    args = request.args
    appid, redirect_uri = args.get("appid", ""), args.get("redirect_uri", "")
    scope, state = args.get("scope", ""), args.get("state", "")
    with sb.state.lock:
        oauth = _state(sb)
        if not appid:
            return _page_error(10012)
        if appid not in sb.apps:
            return _page_error(40013)
        if appid in oauth.banned_appids:
            return _page_error(10004)
        if not redirect_uri:
            return _page_error(10011)
        if not scope:
            return _page_error(10010)
        if scope not in SCOPES or args.get("response_type") != "code":
            return _page_error(10005)
        if not state or not STATE_RE.match(state):
            return _page_error(10013)
        if not _domain_ok(sb, oauth, redirect_uri):
            return _page_error(10003)
        openid = request.cookies.get(COOKIE) or oauth.current_openid
        if not openid:
            return (
                "<!doctype html><meta charset='utf-8'><p>请在微信客户端打开链接</p>",
                200,
                {"Content-Type": "text/html; charset=utf-8"},
            )
        now = sb.wechat_now()
        calls = oauth.authorize_calls.setdefault(openid, deque())
        while calls and now - calls[0] >= 60:
            calls.popleft()
        if len(calls) >= int(sb.settings["oauth_authorize_per_minute"]):
            return _page_error(10009)
        calls.append(now)
        user = oauth.users.get(openid, {})
        joiner = "&" if "?" in redirect_uri else "?"
        if scope == "snsapi_userinfo" and user.get("consent") == "deny":
            oauth.log.append({"openid": openid, "scope": scope, "refused": True, "at": now})
            return redirect(redirect_uri + joiner + urlencode({"state": state}))
        code = secrets.token_hex(16)
        oauth.codes[code] = OAuthCode(
            openid=openid,
            appid=appid,
            scope=scope,
            expires_at=now + float(sb.settings["oauth_code_ttl_seconds"]),
        )
        oauth.log.append({"openid": openid, "scope": scope, "code": code, "at": now})
    return redirect(redirect_uri + joiner + urlencode({"code": code, "state": state}))


def _grant(sb: Sandbox, oauth: OAuthData, openid: str, appid: str, scope: str) -> dict:
    now = sb.wechat_now()
    access, refresh = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    ttl = int(sb.settings["oauth_token_expires_in"])
    oauth.tokens[access] = OAuthGrant(openid, appid, scope, now + ttl)
    refresh_ttl = float(sb.settings["oauth_refresh_days"]) * 86400
    oauth.refresh_tokens[refresh] = OAuthGrant(openid, appid, scope, now + refresh_ttl)
    return {
        "access_token": access,
        "expires_in": ttl,
        "refresh_token": refresh,
        "openid": openid,
        "scope": scope,
        "is_snapshotuser": 0,
    }


@bp.get("/sns/oauth2/access_token")
def access_token():
    sb = current_sandbox()
    args = request.args
    with sb.state.lock:
        fault = sb.state.faults.take_wechat_error()
        if fault:
            raise WeChatError(*fault)
        oauth = _state(sb)
        appid = args.get("appid", "")
        if appid not in sb.apps:
            raise WeChatError(40013, "invalid appid")
        if args.get("secret") != sb.apps[appid]:
            raise WeChatError(40125, "invalid appsecret")
        if args.get("grant_type") != "authorization_code":
            raise WeChatError(40002, "invalid grant_type")
        code = oauth.codes.get(args.get("code") or "")
        if code is None or code.appid != appid or sb.wechat_now() >= code.expires_at:
            raise WeChatError(40029, "invalid code")
        if code.used:
            raise WeChatError(40163, "code been used")
        code.used = True
        return jsonify(_grant(sb, oauth, code.openid, appid, code.scope))


@bp.get("/sns/oauth2/refresh_token")
def refresh_token():
    sb = current_sandbox()
    args = request.args
    with sb.state.lock:
        oauth = _state(sb)
        appid = args.get("appid", "")
        if appid not in sb.apps:
            raise WeChatError(40013, "invalid appid")
        if args.get("grant_type") != "refresh_token":
            raise WeChatError(40002, "invalid grant_type")
        grant = oauth.refresh_tokens.get(args.get("refresh_token") or "")
        if grant is None or grant.appid != appid or sb.wechat_now() >= grant.expires_at:
            raise WeChatError(40030, "invalid refresh_token")
        answer = _grant(sb, oauth, grant.openid, appid, grant.scope)
        del oauth.refresh_tokens[answer["refresh_token"]]
        answer["refresh_token"] = args["refresh_token"]  # the refresh token stays the same
        return jsonify(answer)


def _token(sb: Sandbox, oauth: OAuthData) -> OAuthGrant:
    grant = oauth.tokens.get(request.args.get("access_token") or "")
    if grant is None:
        raise WeChatError(40001, "invalid credential, access_token is invalid or not latest")
    if sb.wechat_now() >= grant.expires_at:
        raise WeChatError(42001, "access_token expired")
    if request.args.get("openid") != grant.openid:
        raise WeChatError(40003, "invalid openid")
    return grant


@bp.get("/sns/userinfo")
def userinfo():
    sb = current_sandbox()
    with sb.state.lock:
        oauth = _state(sb)
        grant = _token(sb, oauth)
        if grant.scope != "snsapi_userinfo":
            raise WeChatError(48001, "api unauthorized")
        user = oauth.users.get(grant.openid, {})
        answer = {
            "openid": grant.openid,
            "nickname": user.get("nickname", "微信用户"),
            "sex": 0,
            "province": "",
            "city": "",
            "country": "",
            "headimgurl": "",
            "privilege": [],
        }
        if user.get("unionid"):
            answer["unionid"] = user["unionid"]
        return jsonify(answer)


@bp.get("/sns/auth")
def auth():
    sb = current_sandbox()
    with sb.state.lock:
        _token(sb, _state(sb))
    return jsonify({"errcode": 0, "errmsg": "ok"})
