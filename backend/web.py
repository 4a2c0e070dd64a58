"""What every request and answer of the app passes through: ids bounded in the URL, JSON bodies
bounded in depth, unexpected errors answered in the one error shape, and the security headers."""

from __future__ import annotations

import json
import logging
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.routing import IntegerConverter

from backend.errors import BadRequest
from backend.extensions import db
from backend.schemas import MAX_ID

log = logging.getLogger(__name__)

MAX_JSON_DEPTH = 32
INTERNAL_ERROR = {"code": "INTERNAL_ERROR", "message": "服务器开小差了，请稍后再试"}
# Pages: our scripts carry the request's nonce; styles stay inline (attributes and <style>).
PAGE_CSP = (
    "default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# JSON, CSV, images, archives: nothing in them may run, and nothing may frame them.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
DATA_HEADERS = [*SECURITY_HEADERS.items(), ("Content-Security-Policy", DATA_CSP)]


# Picture uploads may be larger than the app's 1 MB body limit (phones take 2–5 MB pictures).
UPLOAD_ENDPOINTS = frozenset({"api_v1.upload_photo", "console.upload_product_picture"})
MULTIPART_OVERHEAD = 64 * 1024


# Growth updates carry up to 6 photos (a form's files, or base64 in the farm system's JSON).
MULTI_PHOTO_ENDPOINTS = frozenset({"farmweb.post_update", "processing.post_growth_update"})
MULTI_PHOTOS = 6


def upload_sized_bodies() -> None:
    """Registered before CSRF protection, which reads the form (and so the body) first."""
    if request.endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = current_app.config["PHOTO_MAX_BYTES"] + MULTIPART_OVERHEAD
    elif request.endpoint in MULTI_PHOTO_ENDPOINTS:
        most = current_app.config["PHOTO_MAX_BYTES"] * MULTI_PHOTOS * 4 // 3  # base64
        request.max_content_length = most + MULTIPART_OVERHEAD


def up_to(highest: int) -> str:
    """A regex of the decimal numbers 1..highest, written without leading zeros."""
    digits = str(highest)
    options = [rf"[1-9]\d{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        low = "1" if i == 0 else "0"
        if int(digit) > int(low):
            top = str(int(digit) - 1)
            options.append(rf"{digits[:i]}[{low}-{top}]\d{{{len(digits) - i - 1}}}")
    options.append(digits)
    return "(?:" + "|".join(options) + ")"


class IdConverter(IntegerConverter):
    """`<int:...>` in our routes is the id of a row: 1..2^31-1 (INTEGER columns). Any other
    number matches no route, so it is a 404 and never reaches the database. The bound is in the
    regex, not only in to_python: a number refused there would make werkzeug answer 405 where
    the same path takes another method."""

    regex = up_to(MAX_ID)

    def __init__(self, map, *args, **kwargs):  # noqa: A002  (werkzeug's name)
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions (the console's), without building a signer for, or
    looking at, the many requests that carry no session cookie and store nothing (the APIs')."""

    def open_session(self, app: Flask, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response: Response) -> None:
        if session or session.modified or session.accessed:
            super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    """Install the converter (before any route is added), the sessions, the hooks and the
    handler."""
    app.url_map.converters["int"] = IdConverter
    app.session_interface = CookieSessions()
    app.before_request(limit_json_depth)
    app.register_error_handler(Exception, unexpected_error)
    app.after_request(security_headers)
    app.context_processor(lambda: {"csp_nonce": csp_nonce})


def json_depth(value, limit: int) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (0 for a scalar), counted
    up to limit + 1 at most."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if not isinstance(item, list):
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            break
        stack.extend((child, level + 1) for child in item)
    return deepest


def limit_json_depth() -> None:
    """A JSON body nested deeper than MAX_JSON_DEPTH is a 400 (its size is bounded by
    MAX_CONTENT_LENGTH): Python's parser would otherwise fail with a RecursionError."""
    # Nesting deeper than MAX_JSON_DEPTH takes more than twice as many brackets: a short body
    # (a flash-sale claim's) is not parsed twice.
    if not request.is_json or (request.content_length or 0) <= 2 * MAX_JSON_DEPTH:
        return
    data = request.get_data(cache=True)
    try:
        parsed = json.loads(data)
    except RecursionError:
        parsed = None
    except ValueError:
        return  # malformed: the route's parser answers it with its own 400
    else:
        if json_depth(parsed, MAX_JSON_DEPTH) <= MAX_JSON_DEPTH:
            return
    raise BadRequest(
        "请求内容嵌套层级过深",
        code="JSON_TOO_DEEP",
        details={"max_depth": MAX_JSON_DEPTH},
    )


def unexpected_error(error: Exception):
    """Any error nobody meant: logged once with its traceback, answered in the one shape."""
    log.exception("unexpected error on %s %s", request.method, request.path, exc_info=error)
    try:
        db.session.rollback()
    except Exception:  # the session itself may be what broke
        log.exception("rollback after an unexpected error failed")
    return dict(INTERNAL_ERROR), 500


def csp_nonce() -> str:
    """This request's script nonce (templates: `<script nonce="{{ csp_nonce() }}">`)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def security_headers(response: Response) -> Response:
    headers = response.headers
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if response.mimetype == "text/html":
        policy = _docs_csp() if request.path == _docs_path() else PAGE_CSP
        headers.setdefault("Content-Security-Policy", policy.format(nonce=csp_nonce()))
    else:
        headers.setdefault("Content-Security-Policy", DATA_CSP)
    return response


def _docs_path() -> str | None:
    return getattr(current_app, "docs_path", None)


def _docs_csp() -> str:
    """apiflask's docs page loads its UI from the configured CDN and starts it inline."""
    origins = set()
    for key, value in current_app.config.items():
        if key.endswith(("_JS", "_CSS", "_FAVICON")) and isinstance(value, str):
            parts = urlsplit(value)
            if parts.scheme == "https" and parts.netloc:
                origins.add(f"https://{parts.netloc}")
    cdn = " ".join(sorted(origins))
    return (
        f"default-src 'self'; script-src 'unsafe-inline' {cdn}; "
        f"style-src 'self' 'unsafe-inline' {cdn}; img-src 'self' data: {cdn}; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
