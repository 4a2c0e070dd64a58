"""Who is on a seller page. A seller's login is a signed cookie of its own (`heli_seller`, not
the console's session): it names a session kept in Redis (backend/workspace/login.py), so
logging out ends it everywhere a copied cookie went, and it expires SELLER_SESSION_HOURS after
login. A login under way keeps its OAuth state and the page to return to in another signed,
short-lived cookie of this browser, so a state from another browser never matches."""

from __future__ import annotations

from functools import wraps

from flask import current_app, g, redirect, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from backend.extensions import db
from backend.workspace import login

SESSION_COOKIE = "heli_seller"
LOGIN_COOKIE = "heli_seller_login"
LOGIN_COOKIE_SECONDS = 600


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
        response.delete_cookie(name, path="/seller", secure=_secure(), httponly=True)
        return
    response.set_cookie(
        name,
        _signer(name).dumps(value),
        max_age=max_age,
        path="/seller",
        secure=_secure(),
        httponly=True,
        samesite="Lax",
    )


def session_hours() -> int:
    return current_app.config["SELLER_SESSION_HOURS"]


def current_sid() -> str | None:
    ticket = _read(SESSION_COOKIE, session_hours() * 3600)
    sid = ticket.get("sid") if ticket else None
    return sid if isinstance(sid, str) else None


def current_seller():
    sid = current_sid()
    return login.session_seller(db.session, sid) if sid else None


def pending_login() -> dict:
    """The OAuth state and return page of the login this browser started ({} for none)."""
    return _read(LOGIN_COOKIE, LOGIN_COOKIE_SECONDS) or {}


def safe_next(target: str | None) -> str:
    """Only our own seller pages, so a login link cannot send a seller elsewhere."""
    if target and target.startswith("/seller/") and not target.startswith("/seller/login"):
        if "//" not in target and "\\" not in target and "\n" not in target:
            return target
    return url_for("sellerweb.today")


def sign_in_response(seller_id: int, target: str | None):
    """Log the seller in (a fresh session) and go to the page they were after."""
    sid = login.open_session(seller_id)
    response = redirect(safe_next(target))
    set_cookie(response, SESSION_COOKIE, {"sid": sid}, session_hours() * 3600)
    set_cookie(response, LOGIN_COOKIE, None, 0)
    return response


def seller_required(view):
    """A page for a logged-in seller (the view gets `seller`); others log in first and come
    back here (a GET page; a form posted without a login returns to today)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        seller = current_seller()
        if seller is None:
            target = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("sellerweb.login", next=target))
        g.seller = seller
        return view(*args, seller=seller, **kwargs)

    return wrapper
