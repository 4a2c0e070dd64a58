"""/console/api/broadcasts: staff compose notices to the sellers, cancel them, and read their
delivery reports."""

from __future__ import annotations

from apiflask import APIBlueprint

from backend.console.access import staff_required
from backend.extensions import db
from backend.flows import broadcasts as broadcast_flow
from backend.notices import broadcasts
from backend.notices.schemas import BroadcastIn, TargetIn
from backend.staff import permissions as perms

bp = APIBlueprint("notices_api", __name__, tag="Console: broadcasts")


@bp.post("/broadcasts")
@staff_required(perms.BROADCASTS)
@bp.input(BroadcastIn, arg_name="body")
@bp.doc(summary="发布联盟广播（全部卖家或按条件），立即或定时发送")
def create_broadcast(body, staff):
    broadcast = broadcast_flow.create(db.session, **body, staff=staff)
    return broadcasts.report(db.session, broadcast.id), 201


@bp.post("/broadcasts/preview")
@staff_required(perms.BROADCASTS)
@bp.input(TargetIn, arg_name="target")
@bp.doc(summary="预览发送对象：符合条件的卖家数、微信可达数（不发送）")
def preview_broadcast(target, staff):
    return broadcast_flow.preview_summary(db.session, target)


@bp.get("/broadcasts")
@staff_required(perms.BROADCASTS)
def list_broadcasts(staff):
    return {
        "items": [
            broadcasts.report(db.session, b.id) for b in broadcasts.list_broadcasts(db.session)
        ]
    }


@bp.get("/broadcasts/<int:broadcast_id>")
@staff_required(perms.BROADCASTS)
@bp.doc(summary="广播送达报告：已发送、已送达、失败原因、待发送、已读")
def broadcast_report(broadcast_id: int, staff):
    return broadcasts.report(db.session, broadcast_id)


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
@staff_required(perms.BROADCASTS)
def cancel_broadcast(broadcast_id: int, staff):
    broadcasts.cancel(db.session, broadcast_id, staff=staff)
    return broadcasts.report(db.session, broadcast_id)
