"""/apply: the public pages where a would-be seller applies to join the alliance (on a phone,
in Chinese, with a CSRF token, a few applications per network) and follows the application
with the link they got. Every answer here is a page, never JSON."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError

from backend import ratelimit
from backend.errors import DomainError, TooManyRequests
from backend.extensions import db
from backend.onboarding import service as onboarding
from backend.onboarding.models import APPROVED, PENDING, REJECTED
from backend.onboarding.schemas import ApplicationIn
from backend.platforms.service import PLATFORM_NAMES
from backend.schemas import messages
from backend.sellers import queries as seller_queries

bp = Blueprint("apply", __name__, template_folder="templates")

STATUS_LABELS = {PENDING: "审核中", APPROVED: "已通过", REJECTED: "未通过"}
FIELDS = ("name", "phone", "town", "cooperative", "shop_name")


def _form_page(values: dict, problems: list[str], status: int):
    html = render_template(
        "apply/form.html",
        values=values,
        problems=problems,
        platforms=PLATFORM_NAMES,
        products=seller_queries.scope_products(db.session),
    )
    return html, status


@bp.errorhandler(TooManyRequests)
def too_many(error: TooManyRequests):
    db.session.rollback()
    html = render_template("apply/message.html", title="提交太频繁", message=error.message)
    return html, 429, error.headers


@bp.errorhandler(CSRFError)
def stale_form(_error):
    html = render_template(
        "apply/message.html", title="页面已过期", message="页面已过期，请返回刷新后重新填写提交"
    )
    return html, 400


@bp.get("/")
def form():
    return _form_page({"wants_licence": True}, [], 200)


@bp.post("/")
def submit():
    ratelimit.count(("apply-ip", request.remote_addr or "unknown"))
    values = {key: request.form.get(key, "").strip() for key in FIELDS}
    values["platforms"] = request.form.getlist("platforms")
    values["product_ids"] = request.form.getlist("product_ids")
    values["wants_licence"] = request.form.get("wants_licence") == "1"
    typed = {k: v for k, v in values.items() if v not in ("", [])}
    typed["product_ids"] = [
        int(v) if v.isascii() and v.isdigit() and len(v) < 10 else v for v in values["product_ids"]
    ]
    try:
        loaded = ApplicationIn().load(typed)
        application = onboarding.apply(db.session, **loaded)
    except ValidationError as invalid:
        return _form_page(values, messages(invalid), 400)
    except DomainError as refused:
        db.session.rollback()
        return _form_page(values, [refused.message], refused.status)
    return redirect(url_for(".status", token=application.token), code=303)


@bp.get("/status/<token>")
def status(token: str):
    try:
        application = onboarding.application_by_token(db.session, token)
    except DomainError as missing:
        html = render_template("apply/message.html", title="找不到申请", message=missing.message)
        return html, 404
    return render_template(
        "apply/status.html",
        application=application,
        label=STATUS_LABELS[application.status],
        bind_code=onboarding.visible_bind_code(application),
        platforms=PLATFORM_NAMES,
        status_url=url_for(".status", token=token, _external=True),
    )
