"""Control endpoints of the web authorisation stand-in (not part of WeChat): who the phone's
WeChat is, and how the authorise page behaves."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .context import current_sandbox
from .control import control_body
from .errors import ControlError
from .oa_oauth import COOKIE, _state

bp = Blueprint("oa_oauth_control", __name__, url_prefix="/sandbox/wx/oauth")


@bp.post("/user")
def set_user():
    """`{openid, consent?: "allow"|"deny", nickname?, unionid?}`: the phone's WeChat is this user
    from now on (for everybody, and for this browser through the answer's cookie)."""
    body = control_body()
    openid = body.get("openid")
    if not isinstance(openid, str) or not openid or len(openid) > 64:
        raise ControlError("openid is required")
    consent = body.get("consent", "allow")
    if consent not in ("allow", "deny"):
        raise ControlError("consent must be allow or deny")
    sb = current_sandbox()
    with sb.state.lock:
        oauth = _state(sb)
        oauth.current_openid = openid
        user = {"consent": consent}
        for key in ("nickname", "unionid"):
            if isinstance(body.get(key), str):
                user[key] = body[key]
        oauth.users[openid] = user
    answer = jsonify({"openid": openid, **user})
    answer.set_cookie(COOKIE, openid, httponly=True, samesite="Lax")
    return answer


@bp.post("/config")
def config():
    """`{banned_appids?: [...], domains?: [...] | null}`: 10004 for banned apps; 10003 for a
    redirect_uri outside the domains (null: any)."""
    body = control_body()
    sb = current_sandbox()
    with sb.state.lock:
        oauth = _state(sb)
        if "banned_appids" in body:
            oauth.banned_appids = set(body["banned_appids"] or [])
        if "domains" in body:
            domains = body["domains"]
            if domains is not None and not isinstance(domains, list):
                raise ControlError("domains must be a list or null")
            oauth.domains = domains
        return jsonify({"banned_appids": sorted(oauth.banned_appids), "domains": oauth.domains})


@bp.get("/log")
def log():
    """Every authorise the stand-in answered: `{authorizations: [{openid, scope, code?, at}]}`."""
    sb = current_sandbox()
    with sb.state.lock:
        return jsonify({"authorizations": list(_state(sb).log)})
