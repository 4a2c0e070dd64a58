"""/console/api/broadcasts: staff compose notices to the sellers, cancel them, and read their
delivery reports."""

from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.fields import AwareDateTime, List, Nested, String
from apiflask.validators import Length, OneOf
from marshmallow import RAISE

from backend.console.api import staff_required
from backend.extensions import db
from backend.notices import broadcasts
from backend.schemas import In
from backend.timeutil import to_naive_utc

bp = APIBlueprint("notices_api", __name__, tag="Console: broadcasts")


class TargetIn(In):
    class Meta:
        unknown = RAISE  # a misspelt criterion must not turn into "every seller"

    towns = List(String(validate=Length(1, 30)), load_default=list)
    cooperatives = List(String(validate=Length(1, 60)), load_default=list)
    platforms = List(String(validate=Length(1, 10)), load_default=list)
    licence_statuses = List(String(validate=Length(1, 12)), load_default=list)
    tags = List(String(validate=Length(1, 30)), load_default=list)


class BroadcastIn(In):
    title = String(required=True, validate=Length(0, 40))
    body = String(required=True, validate=Length(0, 5000))
    category = String(required=True, validate=OneOf(list(broadcasts.CATEGORIES)))
    link = String(load_default="", validate=Length(0, 300))
    target = Nested(TargetIn, load_default=dict)
    send_at = AwareDateTime(load_default=None, allow_none=True)


@bp.post("/broadcasts")
@staff_required
@bp.input(BroadcastIn, arg_name="body")
@bp.doc(summary="发布联盟广播（全部卖家或按条件），立即或定时发送")
def create_broadcast(body, staff):
    send_at = body["send_at"]
    broadcast = broadcasts.create(
        db.session,
        title=body["title"],
        body=body["body"],
        category=body["category"],
        link=body["link"],
        target=body["target"],
        send_at=to_naive_utc(send_at) if send_at else None,
        staff_id=staff.id,
    )
    return broadcasts.report(db.session, broadcast.id), 201


@bp.get("/broadcasts")
@staff_required
def list_broadcasts(staff):
    return {
        "items": [
            broadcasts.report(db.session, b.id) for b in broadcasts.list_broadcasts(db.session)
        ]
    }


@bp.get("/broadcasts/<int:broadcast_id>")
@staff_required
@bp.doc(summary="广播送达报告：已发送、已送达、失败原因、待发送、已读")
def broadcast_report(broadcast_id: int, staff):
    return broadcasts.report(db.session, broadcast_id)


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
@staff_required
def cancel_broadcast(broadcast_id: int, staff):
    broadcasts.cancel(db.session, broadcast_id)
    return broadcasts.report(db.session, broadcast_id)
