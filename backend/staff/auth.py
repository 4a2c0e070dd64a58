"""Console sign-in and sessions: credentials checked in the same time whether or not the
username exists, behind the login throttle; a session names the account's session generation
and its sign-in time, so the server can end it (sign-out, disabling, a new password) and it
expires CONSOLE_SESSION_HOURS after sign-in whatever its cookie says."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from functools import cache

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from backend.errors import Unauthorized
from backend.staff import throttle
from backend.staff.models import Staff


@cache
def _stand_in_hash() -> str:
    """A hash made like every real one, checked when the username is unknown."""
    return generate_password_hash(secrets.token_urlsafe(16))


def authenticate(session: Session, *, username: str, password: str, ip: str) -> Staff:
    """The active account with these credentials; Unauthorized for any wrong (one answer, one
    duration), LoginLocked (429) while the username or the IP is locked out."""
    throttle.attempt(username, ip)
    staff = session.scalar(select(Staff).where(Staff.username == username))
    # Unknown usernames cost one hash too, so the answer's timing does not tell them apart.
    matches = check_password_hash(staff.password_hash if staff else _stand_in_hash(), password)
    if staff is None or not staff.active or not matches:
        raise Unauthorized("用户名或密码错误", code="BAD_CREDENTIALS")
    throttle.succeeded(username, ip)
    return staff


def open_session(staff: Staff) -> dict:
    """What a new console session holds (the caller puts it in the signed cookie)."""
    return {
        "staff_id": staff.id,
        "generation": staff.session_generation,
        "signed_in_at": int(time.time()),
    }


def session_staff(session: Session, ticket: Mapping) -> Staff | None:
    """The active account whose session this is, or None once the session has ended."""
    try:
        staff_id = int(ticket["staff_id"])
        generation = int(ticket["generation"])
        signed_in_at = int(ticket["signed_in_at"])
    except (KeyError, TypeError, ValueError):
        return None
    age = time.time() - signed_in_at
    if not -60 <= age <= current_app.config["CONSOLE_SESSION_HOURS"] * 3600:
        return None  # expired, or from a clock far ahead
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.active or staff.session_generation != generation:
        return None
    return staff


def end_sessions(session: Session, *, staff_id: int) -> None:
    """Every console session of the account ends, on every device (commits)."""
    session.execute(
        update(Staff)
        .where(Staff.id == staff_id)
        .values(session_generation=Staff.session_generation + 1)
    )
    session.commit()
