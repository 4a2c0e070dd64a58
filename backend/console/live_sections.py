"""Two sections of a room's control room (/console/live/rooms/{id}): the host's scheduled
messages (自动发言, console/_live_announcements.html) and the show's sales by sharer
(console/_live_sharers.html). Here are the forms' routes — add, pause, resume, delete, each
back to the room with a message — and `section_context`, the variables both partials expect.

The views register on the console blueprint of `pages.py`, like live_pages.py's."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from backend.console.access import login_required
from backend.console.forms import load_form, wall_clock
from backend.console.pages import bp
from backend.errors import DomainError, NotFound
from backend.extensions import db
from backend.live import announcements, hosts, sharers
from backend.live.schemas import AnnouncementIn
from backend.staff import permissions as perms

# The intervals a host picks from (seconds); the JSON API takes any from 60 s to an hour.
INTERVAL_CHOICES = {
    60: "每 1 分钟",
    120: "每 2 分钟",
    180: "每 3 分钟",
    300: "每 5 分钟",
    600: "每 10 分钟",
    900: "每 15 分钟",
    1800: "每 30 分钟",
    3600: "每 1 小时",
}


def section_context(room_id: int) -> dict:
    """What the two partial templates read: `announcements` (rendered, oldest first),
    `announcement_intervals` (the form's choices) and `sharer_report` (rows and totals)."""
    found = announcements.list_announcements(db.session, room_id=room_id)
    return {
        "announcements": [announcements.render(a) for a in found],
        "announcement_intervals": INTERVAL_CHOICES,
        "sharer_report": sharers.report(db.session, room_id),
    }


def _own_room(room_id: int, staff) -> str:
    """The room's page to go back to; 404 for a room that does not exist."""
    try:
        hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    except NotFound:
        abort(404)
    return url_for(".live_room", room_id=room_id) + "#announcements"


@bp.post("/live/rooms/<int:room_id>/announcements")
@login_required(perms.LIVE_HOST)
def add_announcement(room_id: int, staff):
    back = _own_room(room_id, staff)
    values = {key: request.form.get(key, "") for key in ("text", "interval_seconds")}
    for key in ("starts_at", "ends_at"):
        values[key] = wall_clock(request.form.get(key, ""))
    try:
        body = load_form(AnnouncementIn(), values)
        added = announcements.create(db.session, room_id=room_id, staff_id=staff.id, **body)
    except DomainError as failure:
        db.session.rollback()
        flash(f"未能添加自动发言：{failure.message}", "error")
        return redirect(back)
    flash(
        f"已添加自动发言（{announcements.interval_text(added.interval_seconds)}，"
        f"{announcements.window_text(added)}）",
        "success",
    )
    return redirect(back)


def _switch(room_id: int, announcement_id: int, staff, *, enabled: bool):
    back = _own_room(room_id, staff)
    try:
        announcements.change(
            db.session, room_id=room_id, announcement_id=announcement_id, enabled=enabled
        )
    except DomainError as failure:
        db.session.rollback()
        flash(f"操作未成功：{failure.message}", "error")
        return redirect(back)
    flash("自动发言已恢复发送" if enabled else "自动发言已暂停", "success")
    return redirect(back)


@bp.post("/live/rooms/<int:room_id>/announcements/<int:announcement_id>/pause")
@login_required(perms.LIVE_HOST)
def pause_announcement(room_id: int, announcement_id: int, staff):
    return _switch(room_id, announcement_id, staff, enabled=False)


@bp.post("/live/rooms/<int:room_id>/announcements/<int:announcement_id>/resume")
@login_required(perms.LIVE_HOST)
def resume_announcement(room_id: int, announcement_id: int, staff):
    return _switch(room_id, announcement_id, staff, enabled=True)


@bp.post("/live/rooms/<int:room_id>/announcements/<int:announcement_id>/delete")
@login_required(perms.LIVE_HOST)
def delete_announcement(room_id: int, announcement_id: int, staff):
    back = _own_room(room_id, staff)
    try:
        announcements.delete(db.session, room_id=room_id, announcement_id=announcement_id)
    except DomainError as failure:
        db.session.rollback()
        flash(f"删除未成功：{failure.message}", "error")
        return redirect(back)
    flash("自动发言已删除", "success")
    return redirect(back)
