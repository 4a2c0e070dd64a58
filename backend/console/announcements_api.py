"""/console/api/live/rooms/{id}/announcements: the host's scheduled messages (自动发言) for a
room — list, add, edit, pause or resume (`enabled`), delete. Routes of the live API blueprint."""

from __future__ import annotations

from backend.console.access import staff_required
from backend.console.live_api import bp
from backend.extensions import db
from backend.live import announcements, hosts
from backend.live.schemas import AnnouncementIn, AnnouncementPatch
from backend.staff import permissions as perms


@bp.get("/live/rooms/<int:room_id>/announcements")
@staff_required(perms.LIVE_HOST)
def list_announcements(room_id: int, staff):
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    found = announcements.list_announcements(db.session, room_id=room_id)
    return {"items": [announcements.render(a) for a in found], "total": len(found)}


@bp.post("/live/rooms/<int:room_id>/announcements")
@staff_required(perms.LIVE_HOST)
@bp.input(AnnouncementIn, arg_name="body")
def add_announcement(room_id: int, body, staff):
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    added = announcements.create(db.session, room_id=room_id, staff_id=staff.id, **body)
    return announcements.render(added), 201


@bp.patch("/live/rooms/<int:room_id>/announcements/<int:announcement_id>")
@staff_required(perms.LIVE_HOST)
@bp.input(AnnouncementPatch, arg_name="body")
def change_announcement(room_id: int, announcement_id: int, body, staff):
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    changed = announcements.change(
        db.session, room_id=room_id, announcement_id=announcement_id, **body
    )
    return announcements.render(changed)


@bp.delete("/live/rooms/<int:room_id>/announcements/<int:announcement_id>")
@staff_required(perms.LIVE_HOST)
def delete_announcement(room_id: int, announcement_id: int, staff):
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    announcements.delete(db.session, room_id=room_id, announcement_id=announcement_id)
    return "", 204
