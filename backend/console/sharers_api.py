"""/console/api/live/rooms/{id}/sharers: the show's paid orders, units and GMV by the sharer who
brought each buyer (and natural traffic), as JSON or as CSV for Excel. Routes of the live API
blueprint."""

from __future__ import annotations

from backend.console.access import staff_required
from backend.console.live_api import bp
from backend.csv_export import csv_download
from backend.extensions import db
from backend.live import hosts, sharers
from backend.staff import permissions as perms


@bp.get("/live/rooms/<int:room_id>/sharers")
@staff_required(perms.LIVE_HOST)
def sharer_report(room_id: int, staff):
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    return sharers.report(db.session, room_id)


@bp.get("/live/rooms/<int:room_id>/sharers.csv")
@staff_required(perms.LIVE_HOST)
def sharer_report_csv(room_id: int, staff):
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    return csv_download(sharers.report_csv(db.session, room_id), f"live-room-{room_id}-sharers.csv")
