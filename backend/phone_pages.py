"""Who is on a phone page area (the sellers' /seller, the households' /farm): a signed cookie of
the area naming a session kept in Redis, and — while a WeChat login is under way — another
signed, short-lived cookie with its OAuth state and the page to return to. Each area says its
path, cookie names, where to log in and where home is; the session itself is its domain's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import current_app, g, redirect, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer


def in_wechat() -> bool:
    return "MicroMessenger" in request.headers.get("User-Agent", "")


@dataclass(frozen=True)
class PhoneArea:
    path: str  # "/seller"
    session_cookie: str
    login_cookie: str
    login_seconds: int
    login_endpoint: str  # where a visitor without a session goes
    home_endpoint: str  # where a login goes when it names no page

    def _signer(self, salt: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)

    def read(self, name: str, max_age: int) -> dict | None:
        raw = request.cookies.get(name)
        if not raw:
            return None
        try:
            value = self._signer(name).loads(raw, max_age=max_age)
        except BadSignature:
            return None
        return value if isinstance(value, dict) else None

    def set_cookie(self, response, name: str, value: dict | None, max_age: int) -> None:
        secure = request.is_secure or current_app.config["SESSION_COOKIE_SECURE"]
        if value is None:
            response.delete_cookie(name, path=self.path, secure=secure, httponly=True)
            return
        response.set_cookie(
            name,
            self._signer(name).dumps(value),
            max_age=max_age,
            path=self.path,
            secure=secure,
            httponly=True,
            samesite="Lax",
        )

    def current_sid(self, hours: int) -> str | None:
        ticket = self.read(self.session_cookie, hours * 3600)
        sid = ticket.get("sid") if ticket else None
        return sid if isinstance(sid, str) else None

    def pending_login(self) -> dict:
        """The login this browser started ({} for none)."""
        return self.read(self.login_cookie, self.login_seconds) or {}

    def safe_next(self, target: str | None) -> str:
        """Only the area's own pages, so a login link cannot send anyone elsewhere."""
        own, login = f"{self.path}/", f"{self.path}/login"
        if target and target.startswith(own) and not target.startswith(login):
            if "//" not in target and "\\" not in target and "\n" not in target:
                return target
        return url_for(self.home_endpoint)

    def to_wechat(self, state: str, authorize_url: str):
        """Off to WeChat's authorisation; this browser keeps the state and the page to return to
        (?next) for the callback."""
        response = redirect(authorize_url)
        pending = {"state": state, "next": self.safe_next(request.args.get("next"))}
        self.set_cookie(response, self.login_cookie, pending, self.login_seconds)
        return response

    def sign_out_response(self, sid: str | None, close: Callable[[str], None]):
        """Close the session `sid` (if any) and forget it in this browser."""
        if sid:
            close(sid)
        response = redirect(url_for(self.login_endpoint))
        self.set_cookie(response, self.session_cookie, None, 0)
        return response

    def sign_in_response(self, sid: str, target: str | None, hours: int):
        """Log in with the fresh session `sid` and go to the page they were after."""
        response = redirect(self.safe_next(target))
        self.set_cookie(response, self.session_cookie, {"sid": sid}, hours * 3600)
        self.set_cookie(response, self.login_cookie, None, 0)
        return response

    def required(self, who: str, current: Callable[[], object | None]):
        """A page for a logged-in visitor (the view gets it as `who`); others log in first and
        come back here (a GET page; a form posted without a login goes home afterwards)."""

        def decorate(view):
            @wraps(view)
            def wrapper(*args, **kwargs):
                visitor = current()
                if visitor is None:
                    target = request.full_path.rstrip("?") if request.method == "GET" else None
                    return redirect(url_for(self.login_endpoint, next=target))
                setattr(g, who, visitor)
                return view(*args, **{who: visitor}, **kwargs)

            return wrapper

        return decorate
