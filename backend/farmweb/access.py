"""Who is on a farm page: a signed cookie of its own (`heli_farm`, path /farm) naming a session
kept in Redis (backend/adoption/members.py), as the sellers' pages do. A login under way keeps
its OAuth state, the page to return to and — once WeChat answered for a WeChat not yet bound —
the openid waiting for its bind code, in another signed, short-lived cookie of this browser."""

from __future__ import annotations

from backend.adoption import members
from backend.extensions import db
from backend.phone_pages import PhoneArea

SESSION_COOKIE = "heli_farm"
LOGIN_COOKIE = "heli_farm_login"
LOGIN_COOKIE_SECONDS = 900
AREA = PhoneArea(
    "/farm", SESSION_COOKIE, LOGIN_COOKIE, LOGIN_COOKIE_SECONDS, "farmweb.login", "farmweb.units"
)
set_cookie, pending_login, safe_next = AREA.set_cookie, AREA.pending_login, AREA.safe_next


def current_sid() -> str | None:
    return AREA.current_sid(members.SESSION_HOURS)


def current_member():
    sid = current_sid()
    return members.session_member(db.session, sid) if sid else None


def sign_in_response(member_id: int, target: str | None):
    return AREA.sign_in_response(
        members.open_session(db.session, member_id), target, members.SESSION_HOURS
    )


member_required = AREA.required("member", current_member)
