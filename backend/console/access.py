"""Who reaches a console route. Every page and JSON-API route declares the permission it needs
(backend/staff/permissions.py): `staff_required(permission)` on the API, `login_required(
permission)` on pages, `public_api` / `public_page` on the sign-in and sign-out doors; a test
walks the URL map so that no /console route goes without.

Each of them also refuses cross-site requests that change anything: SameSite=Lax cookies still
travel from another port of the same host (the same "site"), so a state-changing request must
come from the console's own origin (`Sec-Fetch-Site`, `Origin`), and the JSON API's must be
JSON (a page elsewhere cannot send that without a CORS preflight, which we never grant)."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, g, redirect, render_template, request, url_for
from flask import session as web_session

from backend.errors import DomainError, Forbidden, Unauthorized
from backend.extensions import db
from backend.staff import auth, permissions
from backend.staff import service as staff_service
from backend.staff.models import Staff

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC = "public"  # the permission of the sign-in and sign-out doors
SESSION_KEY = "console"


class CrossSiteRefused(Forbidden):
    code, message = "CROSS_SITE_REFUSED", "拒绝来自其他网站的请求，请在合蛎后台页面内操作"


class NotJson(DomainError):
    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"
    message = "请以 JSON 格式提交（Content-Type: application/json）"


def _own_origins() -> set[str]:
    public = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    return {request.host_url.rstrip("/"), f"{public.scheme}://{public.netloc}"}


def same_origin_only() -> None:
    """A state-changing request sent by a page of another origin (another site, or another port
    of this host) is refused. Clients that are not browsers send neither header."""
    if request.method not in UNSAFE_METHODS:
        return
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise CrossSiteRefused(details={"sec_fetch_site": fetch_site[:20]})
    origin = request.headers.get("Origin")
    if origin is not None and origin not in _own_origins():
        raise CrossSiteRefused(details={"origin": origin[:100]})


def json_only() -> None:
    """The JSON API changes things only for a JSON body (415 for a form or text/plain)."""
    if request.method in UNSAFE_METHODS and request.mimetype != "application/json":
        raise NotJson()


def current_staff() -> Staff | None:
    """The account whose console session this request carries, while that session lasts."""
    ticket = web_session.get(SESSION_KEY)
    return auth.session_staff(db.session, ticket) if isinstance(ticket, dict) else None


def sign_in(staff: Staff) -> None:
    web_session.clear()
    web_session.permanent = True  # the cookie expires with PERMANENT_SESSION_LIFETIME
    web_session[SESSION_KEY] = auth.open_session(staff)


def sign_out() -> None:
    """Ends every session of the signed-in account (a copied cookie too) and clears this one."""
    staff = current_staff()
    if staff is not None:
        staff_service.sign_out(db.session, staff_id=staff.id)
    web_session.clear()


def can(staff: Staff | None, permission: str) -> bool:
    return staff is not None and permissions.allowed(staff.role, permission)


def _declares(view, permission: str, *, answers_json: bool):
    if permission != PUBLIC and permission not in permissions.PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r} on {view.__name__}")

    def mark(wrapper):
        wrapper.permission = permission
        wrapper.answers_json = answers_json
        return wrapper

    return mark


def staff_required(permission: str):
    """A JSON-API route for signed-in staff holding `permission` (401, 403 otherwise); the view
    gets the account as `staff`."""

    def decorate(view):
        @_declares(view, permission, answers_json=True)
        @wraps(view)
        def wrapper(*args, **kwargs):
            same_origin_only()
            json_only()
            staff = current_staff()
            if staff is None:
                raise Unauthorized("请先登录后台", code="STAFF_LOGIN_REQUIRED")
            permissions.require(staff.role, permission)
            g.staff = staff
            return view(*args, staff=staff, **kwargs)

        return wrapper

    return decorate


def _refused_page(message: str):
    return render_template("console/error.html", message=message), 403


def login_required(permission: str):
    """A page for signed-in staff holding `permission`: others go to the sign-in page, or see
    a 403 page; the view gets the account as `staff`."""

    def decorate(view):
        @_declares(view, permission, answers_json=False)
        @wraps(view)
        def wrapper(*args, **kwargs):
            try:
                same_origin_only()
            except CrossSiteRefused as refused:
                return _refused_page(refused.message)
            staff = current_staff()
            if staff is None:
                target = request.full_path if request.method == "GET" else None
                return redirect(url_for("console.login", next=target))
            g.staff = staff
            try:
                permissions.require(staff.role, permission)
            except Forbidden as refused:
                return _refused_page(refused.message)
            return view(*args, staff=staff, **kwargs)

        return wrapper

    return decorate


def public_api(view):
    """A JSON-API door open to anyone (sign-in, sign-out); still JSON and same-origin only."""

    @_declares(view, PUBLIC, answers_json=True)
    @wraps(view)
    def wrapper(*args, **kwargs):
        same_origin_only()
        json_only()
        return view(*args, **kwargs)

    return wrapper


def public_page(view):
    """A page open to anyone (sign-in, sign-out); its forms still come from our own origin."""

    @_declares(view, PUBLIC, answers_json=False)
    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            same_origin_only()
        except CrossSiteRefused as refused:
            return _refused_page(refused.message)
        return view(*args, **kwargs)

    return wrapper
