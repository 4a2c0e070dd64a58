"""/console/broadcasts: compose an alliance broadcast, and watch its delivery report fill."""

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

TARGET_FIELDS = {"towns": "镇", "cooperatives": "合作社", "platforms": "平台", "tags": "标签"}


def _list(name: str) -> list[str]:
    return [
        part.strip()
        for part in request.form.get(name, "").replace("，", ",").split(",")
        if part.strip()
    ]


@bp.get("/broadcasts")
@login_required(perms.BROADCASTS)
def broadcast_list(staff):
    return _list_page({}, 200)


def _list_page(form: dict, status: int):
    reports = [broadcasts.report(db.session, b.id) for b in broadcasts.list_broadcasts(db.session)]
    html = render_template(
        "console/broadcasts.html",
        reports=reports,
        categories=broadcasts.CATEGORIES,
        target_fields=TARGET_FIELDS,
        form=form,
    )
    return html, status


@bp.post("/broadcasts")
@login_required(perms.BROADCASTS)
def compose_broadcast(staff):
    form = request.form.to_dict()
    try:
        send_at = None
        if form.get("send_at"):
            send_at = datetime.fromisoformat(form["send_at"]).replace(tzinfo=SHANGHAI).isoformat()
        values = BroadcastIn().load(
            {
                "title": form.get("title", ""),
                "body": form.get("body", ""),
                "category": form.get("category", ""),
                "link": form.get("link", ""),
                "target": {key: _list(key) for key in TARGET_FIELDS if _list(key)},
                "send_at": send_at,
            }
        )
        broadcast = broadcast_flow.create(db.session, **values, staff_id=staff.id)
    except ValidationError as invalid:
        flash(f"未能发布：{'；'.join(messages(invalid))}", "error")
        return _list_page(form, 400)
    except ValueError:
        flash("发送时间格式不正确", "error")
        return _list_page(form, 400)
    except DomainError as failure:
        db.session.rollback()
        flash(f"未能发布：{failure.message}", "error")
        return _list_page(form, failure.status)
    flash(f"已发布，共 {broadcast.recipients} 位卖家", "success")
    return redirect(url_for(".broadcast_detail", broadcast_id=broadcast.id))


@bp.get("/broadcasts/<int:broadcast_id>")
@login_required(perms.BROADCASTS)
def broadcast_detail(broadcast_id: int, staff):
    try:
        report = broadcasts.report(db.session, broadcast_id)
    except DomainError:
        return render_template("console/error.html", message="广播不存在"), 404
    return render_template("console/broadcast_detail.html", report=report)


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
@login_required(perms.BROADCASTS)
def cancel_broadcast(broadcast_id: int, staff):
    try:
        broadcasts.cancel(db.session, broadcast_id)
        flash("已取消，未发送的通知不再发送（仍保留在卖家收件箱）", "success")
    except DomainError as failure:
        db.session.rollback()
        flash(failure.message, "error")
    return redirect(url_for(".broadcast_detail", broadcast_id=broadcast_id))
