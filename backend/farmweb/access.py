"""Who is on a farm page: a signed cookie of its own (`heli_farm`, path /farm) naming a session
kept in Redis (backend/adoption/members.py), as the sellers' pages do. A login under way keeps
its OAuth state, the page to return to and — once WeChat answered for a WeChat not yet bound —
the openid waiting for its bind code, in another signed, short-lived cookie of this browser."""

from __future__ import annotations

from functools import wraps

from flask import current_app, g, redirect, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from backend.adoption import members
from backend.extensions import db

SESSION_COOKIE = "heli_farm"
LOGIN_COOKIE = "heli_farm_login"
LOGIN_COOKIE_SECONDS = 900


def _signer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _read(name: str, max_age: int) -> dict | None:
    raw = request.cookies.get(name)
    if not raw:
        return None
    try:
        value = _signer(name).loads(raw, max_age=max_age)
    except BadSignature:
        return None
    return value if isinstance(value, dict) else None


def _secure() -> bool:
    return request.is_secure or current_app.config["SESSION_COOKIE_SECURE"]


def set_cookie(response, name: str, value: dict | None, max_age: int) -> None:
    if value is None:
        response.delete_cookie(name, path="/farm", secure=_secure(), httponly=True)
        return
    response.set_cookie(
        name,
        _signer(name).dumps(value),
        max_age=max_age,
        path="/farm",
        secure=_secure(),
        httponly=True,
        samesite="Lax",
    )


def current_sid() -> str | None:
    ticket = _read(SESSION_COOKIE, members.SESSION_HOURS * 3600)
    sid = ticket.get("sid") if ticket else None
    return sid if isinstance(sid, str) else None


def current_member():
    sid = current_sid()
    return members.session_member(db.session, sid) if sid else None


def pending_login() -> dict:
    return _read(LOGIN_COOKIE, LOGIN_COOKIE_SECONDS) or {}


def safe_next(target: str | None) -> str:
    """Only our own farm pages, so a login link cannot send a member elsewhere."""
    if target and target.startswith("/farm/") and not target.startswith("/farm/login"):
        if "//" not in target and "\\" not in target and "\n" not in target:
            return target
    return url_for("farmweb.units")


def sign_in_response(member_id: int, target: str | None):
    sid = members.open_session(member_id)
    response = redirect(safe_next(target))
    set_cookie(response, SESSION_COOKIE, {"sid": sid}, members.SESSION_HOURS * 3600)
    set_cookie(response, LOGIN_COOKIE, None, 0)
    return response


def member_required(view):
    """A page for a logged-in household member (the view gets `member`); others log in first."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        member = current_member()
        if member is None:
            target = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("farmweb.login", next=target))
        g.member = member
        return view(*args, member=member, **kwargs)

    return wrapper
