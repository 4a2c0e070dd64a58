"""/farm/...: a household member logs in from WeChat (binding their WeChat with a bind code the
first time), sees the household's units on their rafts with their adopters, posts a growth update
(units, photos from the camera, size, water temperature, salinity, a note) and their posts."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask import g, make_response, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge

from backend.adoption import growth, growth_queries, members
from backend.errors import DomainError
from backend.extensions import db
from backend.farmweb import bp
from backend.farmweb.access import (
    AREA,
    LOGIN_COOKIE,
    LOGIN_COOKIE_SECONDS,
    current_member,
    current_sid,
    member_required,
    pending_login,
    safe_next,
    set_cookie,
    sign_in_response,
)
from backend.phone_pages import in_wechat
from backend.schemas import number_in
from backend.timeutil import SHANGHAI, to_aware_utc, to_naive_utc, utcnow

# The form's fields of the measurements, in their order on the page.
FIELDS = ("size_mm", "water_temp_c", "salinity_permille", "weight_g")


@bp.context_processor
def helpers() -> dict:
    return {"member": g.get("member"), "measurements": growth.MEASUREMENTS}


@bp.app_template_filter("farm_time")
def farm_time(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):  # already China time, ISO 8601
        return value[:16].replace("T", " ")
    return to_aware_utc(value).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _message(text: str, status: int):
    return render_template("farmweb/message.html", message=text), status


@bp.errorhandler(CSRFError)
def csrf_error(_error):
    return _message("页面已失效，请返回刷新后重试", 400)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error):
    return _message("照片太大了：每张不超过 5MB，每次最多 6 张", 413)


@bp.errorhandler(404)
def missing(_error):
    return _message("页面或记录不存在", 404)


# -- login -------------------------------------------------------------------------------------
@bp.get("/login", endpoint="login")
def login_page():
    """Inside WeChat straight to WeChat's authorisation; elsewhere a page that says so."""
    target = safe_next(request.args.get("next"))
    if current_member() is not None:
        return redirect(target)
    if in_wechat():
        return redirect(url_for("farmweb.login_wechat", next=target))
    return render_template("farmweb/login.html", next=target)


@bp.get("/login/wechat")
def login_wechat():
    state = members.new_state()
    return AREA.to_wechat(state, members.wechat_authorize_url(state=state))


@bp.get("/login/wechat/done")
def login_wechat_done():
    """WeChat came back with ?code&state: a bound WeChat logs in, a new one binds first."""
    pending = pending_login()
    try:
        openid = members.openid_from_wechat(
            code=request.args.get("code", ""),
            state=request.args.get("state", ""),
            expected_state=pending.get("state", ""),
        )
    except DomainError as refused:
        return _message(refused.message, refused.status)
    member = members.member_of_openid(db.session, openid)
    if member is not None:
        return sign_in_response(member.id, pending.get("next"))
    response = make_response(render_template("farmweb/bind.html"))
    waiting = {"openid": openid, "next": pending.get("next")}
    set_cookie(response, LOGIN_COOKIE, waiting, LOGIN_COOKIE_SECONDS)
    return response


@bp.post("/bind")
def bind():
    """The bind code staff gave, entered once: this WeChat is the member's from now on."""
    pending = pending_login()
    openid = pending.get("openid")
    if not isinstance(openid, str):
        return _message("登录已失效，请重新从微信打开本页", 401)
    try:
        member = members.bind(db.session, openid=openid, code=request.form.get("code", ""))
    except DomainError as refused:
        db.session.rollback()
        return render_template("farmweb/bind.html", error=refused.message), refused.status
    return sign_in_response(member.id, pending.get("next"))


@bp.post("/logout")
def logout():
    return AREA.sign_out_response(current_sid(), members.close_session)


# -- pages -------------------------------------------------------------------------------------
@bp.get("/")
@bp.get("/units")
@member_required
def units(member):
    rafts = growth_queries.farm_rafts(db.session, farm_id=member.farm_id)
    return render_template("farmweb/units.html", rafts=rafts, tab="units")


def _now_local() -> str:
    return to_aware_utc(utcnow()).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def _post_page(member, form: dict, error: str | None = None, status: int = 200):
    rafts = growth_queries.farm_rafts(db.session, farm_id=member.farm_id)
    html = render_template(
        "farmweb/post.html",
        rafts=rafts,
        form=form,
        error=error,
        fields=FIELDS,
        max_photos=growth.MAX_PHOTOS,
        tab="post",
    )
    return html, status


@bp.get("/post")
@member_required
def post_form(member):
    chosen = {n for n in map(number_in, request.args.getlist("unit")) if n is not None}
    raft = request.args.get("raft", "")
    form = {
        "unit_ids": chosen,
        "raft": number_in(raft),
        "measured_at": _now_local(),
        "token": secrets.token_hex(12),
    }
    return _post_page(member, form)


def _number(name: str, label: str):
    raw = request.form.get(name, "").strip().replace("，", ".").replace(",", ".")
    if not raw:
        return None
    try:
        return float(raw) if "." in raw else int(raw)
    except ValueError:
        raise DomainError(f"{label}请填写数字", code="MEASUREMENT_INVALID", status=422) from None


def _measured_at(raw: str) -> datetime | None:
    if not raw:
        return None
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        raise DomainError("测量时间格式不正确", code="MEASURED_AT_INVALID", status=422) from None
    return to_naive_utc(local.replace(tzinfo=SHANGHAI))


@bp.post("/post")
@member_required
def post_update(member):
    form = {
        "unit_ids": {n for n in map(number_in, request.form.getlist("unit_ids")) if n is not None},
        "measured_at": request.form.get("measured_at", ""),
        "note": request.form.get("note", ""),
        "token": request.form.get("token", "")[:40] or secrets.token_hex(12),
        **{name: request.form.get(name, "") for name in FIELDS},
    }
    files = [f for f in request.files.getlist("photos") if f and f.filename]
    limit = growth.MAX_PHOTOS
    try:
        measurements = {name: _number(name, growth.MEASUREMENTS[name][0]) for name in FIELDS}
        rows, _created = growth.post_update(
            db.session,
            farm_id=member.farm_id,
            unit_ids=sorted(form["unit_ids"]),
            new_photos=[f.read() for f in files[: limit + 1]],
            measurements=measurements,
            note=form["note"],
            measured_at=_measured_at(form["measured_at"]),
            source=growth.PHONE,
            external_id=f"phone-{form['token']}",
            posted_by=member.name,
        )
    except DomainError as refused:
        db.session.rollback()
        return _post_page(member, form, refused.message, refused.status)
    return redirect(url_for("farmweb.my_updates", posted=len(rows)))


@bp.get("/updates")
@member_required
def my_updates(member):
    posted = request.args.get("posted", "")
    notice = f"已发布到 {posted} 个单元，认养人会收到微信通知" if number_in(posted) else None
    items = growth_queries.posts(db.session, farm_id=member.farm_id, limit=30)
    return render_template("farmweb/updates.html", items=items, notice=notice, tab="updates")
