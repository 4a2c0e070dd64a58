"""Who is on a seller page. A seller's login is a signed cookie of its own (`heli_seller`, not
the console's session): it names a session kept in Redis (backend/workspace/login.py), so
logging out ends it everywhere a copied cookie went, and it expires SELLER_SESSION_HOURS after
login. A login under way keeps its OAuth state and the page to return to in another signed,
short-lived cookie of this browser, so a state from another browser never matches."""

from __future__ import annotations

from flask import current_app

from backend.extensions import db
from backend.phone_pages import PhoneArea
from backend.workspace import login

SESSION_COOKIE = "heli_seller"
LOGIN_COOKIE = "heli_seller_login"
LOGIN_COOKIE_SECONDS = 600
AREA = PhoneArea(
    "/seller",
    SESSION_COOKIE,
    LOGIN_COOKIE,
    LOGIN_COOKIE_SECONDS,
    "sellerweb.login",
    "sellerweb.today",
)
set_cookie, pending_login, safe_next = AREA.set_cookie, AREA.pending_login, AREA.safe_next


def session_hours() -> int:
    return current_app.config["SELLER_SESSION_HOURS"]


def current_sid() -> str | None:
    return AREA.current_sid(session_hours())


def current_seller():
    sid = current_sid()
    return login.session_seller(db.session, sid) if sid else None


def sign_in_response(seller_id: int, target: str | None):
    """Log the seller in (a fresh session) and go to the page they were after."""
    return AREA.sign_in_response(login.open_session(seller_id), target, session_hours())


seller_required = AREA.required("seller", current_seller)
