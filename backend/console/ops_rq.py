"""rq-dashboard (queues, workers, jobs; retry and discard failed jobs) mounted at
/console/ops/rq behind the console's sign-in and the `ops.view` permission.

rq-dashboard brings no authentication of its own, so every one of its views (pages, JSON,
actions, static files) is wrapped here: no console session → the sign-in page (JSON: 401), a
role without the permission → 403. It talks to the app's own Redis connection, never one it
opens from a URL, and its actions (retry, delete, empty, compact) must come from the console's
own origin, by POST, and are written to the audit trail."""

from __future__ import annotations

from functools import wraps

import rq_dashboard
from flask import Flask, current_app, redirect, render_template, request, url_for
from werkzeug.routing import IntegerConverter

from backend.audit import service as audit
from backend.console import access
from backend.errors import DomainError, Forbidden, Unauthorized
from backend.extensions import csrf, db
from backend.staff import permissions as perms

PREFIX = "/console/ops/rq"
NAME = "rq_dashboard"  # its templates build URLs with this blueprint name
# rq-dashboard's actions and what the audit trail calls them
ACTIONS = {
    f"{NAME}.requeue_job_view": "ops.job_requeue",
    f"{NAME}.delete_job_view": "ops.job_delete",
    f"{NAME}.requeue_all": "ops.requeue_all",
    f"{NAME}.empty_queue": "ops.queue_empty",
    f"{NAME}.compact_queue": "ops.queue_compact",
}
# Its pages start jQuery and underscore templates (compiled with Function) inline, without
# our nonce: they get a policy of their own, still nothing from elsewhere.
RQ_PAGE_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class SmallNumber(IntegerConverter):
    """rq-dashboard's numbers in its URLs: the Redis server it shows (ours is the one, 0) and
    page sizes and numbers. (Our own `int` converter is a row id, 1 and up.)"""

    regex = r"\d{1,6}"


class WrongMethod(DomainError):
    status, code, message = 405, "METHOD_NOT_ALLOWED", "请用 POST 提交此操作"


def _own_origin_only() -> None:
    """An action is sent by the dashboard's own page: Chromium and every current browser say
    so in Sec-Fetch-Site or Origin; a request that says neither is refused too."""
    if request.method != "POST":
        raise WrongMethod()
    access.same_origin_only()
    if request.headers.get("Sec-Fetch-Site") is None and request.headers.get("Origin") is None:
        raise access.CrossSiteRefused(details={"origin": None})


def _answers_json(endpoint: str, rule: str) -> bool:
    return endpoint in ACTIONS or "/data/" in rule


def _guard(view, endpoint: str, answers_json: bool):
    @wraps(view)
    def guarded(*args, **kwargs):
        try:
            access.same_origin_only()
            staff = access.current_staff()
            if staff is None:
                if answers_json:
                    raise Unauthorized("请先登录后台", code="STAFF_LOGIN_REQUIRED")
                target = request.full_path if request.method == "GET" else None
                return redirect(url_for("console.login", next=target))
            perms.require(staff.role, perms.OPS_VIEW)
            if endpoint in ACTIONS:
                _own_origin_only()
        except DomainError as refused:
            if answers_json:
                raise
            if not isinstance(refused, Forbidden):
                raise
            return render_template("console/error.html", message=refused.message), 403
        response = current_app.make_response(view(*args, **kwargs))
        if endpoint in ACTIONS and (response.get_json(silent=True) or {}).get("status") == "OK":
            _audit(staff, endpoint, kwargs)
        if response.mimetype == "text/html":
            response.headers["Content-Security-Policy"] = RQ_PAGE_CSP
        return response

    guarded.permission = perms.OPS_VIEW
    guarded.answers_json = answers_json
    return guarded


def _audit(staff, endpoint: str, kwargs: dict) -> None:
    action = ACTIONS[endpoint]
    target_type, target = ("job", kwargs["job_id"]) if "job_id" in kwargs else ("queue", "")
    if "queue_name" in kwargs:
        target = kwargs["queue_name"]
        if "registry_name" in kwargs:
            target += f"/{kwargs['registry_name']}"
    label = audit.ACTIONS.get(action, action)
    audit.record(
        db.session,
        staff=staff,
        action=action,
        target_type=target_type,
        target_id=target[:64],
        summary=f"{label}：{target}",
    )
    db.session.commit()


def _use_app_redis() -> None:
    current_app.redis_conn = current_app.extensions["heli_redis"]


def mount(app: Flask) -> None:
    """Register rq-dashboard under PREFIX, each view guarded."""
    app.config.setdefault("RQ_DASHBOARD_POLL_INTERVAL", 2500)
    # What its instance picker shows (never a URL that may hold a password); it connects to
    # nothing by URL: _use_app_redis replaces its per-request connect.
    app.config["RQ_DASHBOARD_REDIS_URL"] = ("合蛎 Redis",)
    ids = app.url_map.converters["int"]
    app.url_map.converters["int"] = SmallNumber  # (rules compile as they are added)
    try:
        app.register_blueprint(rq_dashboard.blueprint, url_prefix=PREFIX)
    finally:
        app.url_map.converters["int"] = ids
    # Werkzeug would answer /0/view/queues with a redirect to "/" (whose default is 0) before
    # any guard runs; rq-dashboard's are the only rules with defaults, and need no redirect.
    app.url_map.redirect_defaults = False
    app.before_request_funcs[NAME] = [_use_app_redis]
    rq_dashboard.blueprint.enable_openapi = False  # (apiflask asks every blueprint)
    csrf.exempt(rq_dashboard.blueprint)  # its jQuery posts carry no token: origin-checked
    rules = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(f"{NAME}."):
            rules[rule.endpoint] = rule.rule
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.startswith(f"{NAME}."):
            answers_json = _answers_json(endpoint, rules.get(endpoint, ""))
            app.view_functions[endpoint] = _guard(view, endpoint, answers_json)
