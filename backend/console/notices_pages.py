"""/console/broadcasts: compose an alliance broadcast — a category staff must choose, an audience
picked from value lists, its reach previewed before it can be sent — and watch its delivery
report fill (its parts add up to the sellers it matched)."""

from __future__ import annotations

from datetime import datetime

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from backend.console.access import login_required
from backend.console.pages import bp
from backend.errors import DomainError
from backend.extensions import db
from backend.flows import broadcasts as broadcast_flow
from backend.notices import broadcasts
from backend.notices.schemas import BroadcastIn
from backend.schemas import messages
from backend.staff import permissions as perms
from backend.timeutil import SHANGHAI


def _target() -> dict[str, list[str]]:
    """The ticked values of each criterion."""
    return {
        key: [value for value in request.form.getlist(key) if value]
        for key in broadcast_flow.TARGET_KEYS
        if request.form.getlist(key)
    }


def _form() -> dict:
    form = {key: request.form.get(key, "") for key in ("title", "body", "category", "link")}
    return {**form, "send_at": request.form.get("send_at", ""), "target": _target()}


@bp.get("/broadcasts")
@login_required(perms.BROADCASTS)
def broadcast_list(staff):
    return _list_page({"target": {}}, None, 200)


def _list_page(form: dict, preview: dict | None, status: int):
    reports = [broadcasts.report(db.session, b.id) for b in broadcasts.list_broadcasts(db.session)]
    html = render_template(
        "console/broadcasts.html",
        reports=reports,
        categories=broadcasts.CATEGORIES,
        options=broadcast_flow.target_options(db.session),
        target_names=broadcast_flow.TARGET_NAMES,
        form=form,
        preview=preview,
    )
    return html, status


def _preview(target: dict) -> dict:
    """The reach of a target as the page shows it; a bad target answers its error."""
    try:
        return broadcast_flow.preview_summary(db.session, target)
    except DomainError as refused:
        return {"refused": refused.message}


@bp.post("/broadcasts/preview")
@login_required(perms.BROADCASTS)
def preview_broadcast(staff):
    """How many sellers the ticked audience matches and WeChat reaches; sends nothing."""
    form = _form()
    return _list_page(form, _preview(form["target"]), 200)


def _seen() -> tuple[int, int, str] | None:
    """The counts and audience of the preview staff confirmed, or None without one."""
    try:
        return (
            int(request.form["seen_matched"]),
            int(request.form["seen_reachable"]),
            request.form["seen_audience"],
        )
    except (KeyError, ValueError):
        return None


@bp.post("/broadcasts")
@login_required(perms.BROADCASTS)
def compose_broadcast(staff):
    form = _form()
    seen = _seen()
    if seen is None:  # nothing goes out before staff saw whom it reaches
        flash("请先核对发送人数，再点「确认发布」", "warning")
        return _list_page(form, _preview(form["target"]), 200)
    try:
        send_at = None
        if form["send_at"]:
            send_at = datetime.fromisoformat(form["send_at"]).replace(tzinfo=SHANGHAI).isoformat()
        values = BroadcastIn().load(
            {
                "title": form["title"],
                "body": form["body"],
                "category": form["category"],
                "link": form["link"],
                "target": form["target"],
                "send_at": send_at,
            }
        )
        broadcast = broadcast_flow.create(db.session, **values, staff=staff, expected=seen)
    except ValidationError as invalid:
        flash(f"未能发布：{'；'.join(messages(invalid))}", "error")
        return _list_page(form, _preview(form["target"]), 400)
    except ValueError:
        flash("发送时间格式不正确", "error")
        return _list_page(form, _preview(form["target"]), 400)
    except DomainError as failure:
        db.session.rollback()
        flash(f"未能发布：{failure.message}", "error")
        return _list_page(form, _preview(form["target"]), failure.status)
    flash(f"已发布，共 {broadcast.recipients} 位卖家，微信可达 {seen[1]} 位", "success")
    return redirect(url_for(".broadcast_detail", broadcast_id=broadcast.id))


@bp.get("/broadcasts/<int:broadcast_id>")
@login_required(perms.BROADCASTS)
def broadcast_detail(broadcast_id: int, staff):
    try:
        report = broadcasts.report(db.session, broadcast_id)
    except DomainError:
        return render_template("console/error.html", message="广播不存在"), 404
    return render_template(
        "console/broadcast_detail.html",
        report=report,
        audience=broadcast_flow.describe(report["target"]),
    )


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
@login_required(perms.BROADCASTS)
def cancel_broadcast(broadcast_id: int, staff):
    try:
        broadcasts.cancel(db.session, broadcast_id, staff=staff)
        flash("已取消，未发送的通知不再发送（仍保留在卖家收件箱）", "success")
    except DomainError as failure:
        db.session.rollback()
        flash(failure.message, "error")
    return redirect(url_for(".broadcast_detail", broadcast_id=broadcast_id))
