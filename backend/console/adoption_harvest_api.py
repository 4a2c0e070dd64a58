"""/console/api/adoption-harvests: the harvest calendar of adopted units (which parcels to lift
on which day, by household) and recording a lift, which opens the batch the processing line
then reports. The views register on the console API blueprint of `api.py`."""

from __future__ import annotations

from datetime import date

from apiflask.fields import Date, Integer
from apiflask.validators import Range

from backend.adoption import harvest, harvest_views
from backend.adoption import units as unit_rules
from backend.console.access import staff_required
from backend.console.api import bp
from backend.errors import BadRequest
from backend.extensions import db
from backend.schemas import In, WholeNumber
from backend.staff import permissions as perms

ID = Range(1, 2**31 - 1)


class CalendarQuery(In):
    start = Date(
        data_key="from",
        validate=Range(
            date(2000, 1, 1), date(2100, 12, 31), error="起始日期应在 2000 年至 2100 年之间"
        ),
        metadata={"description": "起始日期，默认今天"},
    )
    days = Integer(load_default=14, validate=Range(1, harvest_views.MAX_CALENDAR_DAYS))
    farm_id = Integer(validate=ID)


class HarvestIn(In):
    delivery_id = WholeNumber(validate=ID)
    unit_id = WholeNumber(validate=ID)
    date = Date(metadata={"description": "与 unit_id 一起：该单元这天的包裹"})
    harvested_g = WholeNumber(required=True, validate=Range(1, 10**7))
    plant_id = WholeNumber(validate=ID)


@bp.get("/adoption-harvests")
@staff_required(perms.ADOPTION_HARVEST)
@bp.input(CalendarQuery, location="query", arg_name="query")
@bp.doc(summary="认养收获日历：每天各养殖户要采收的包裹")
def harvest_calendar(query, staff):
    days = harvest_views.harvest_calendar(
        db.session,
        start=query.get("start") or unit_rules.today(),
        days=query["days"],
        farm_id=query.get("farm_id"),
    )
    return {"items": days, "total": len(days)}


@bp.post("/adoption-harvests")
@staff_required(perms.ADOPTION_HARVEST)
@bp.input(HarvestIn, arg_name="body")
@bp.doc(summary="记录一个认养包裹的采收重量：开出加工批次，由加工线继续报告")
def record_harvest(body, staff):
    if body.get("delivery_id") is None and (body.get("unit_id") is None or not body.get("date")):
        raise BadRequest("请指定认养包裹，或单元与日期", code="DELIVERY_REQUIRED")
    delivery = harvest.record_harvest(
        db.session,
        delivery_id=body.get("delivery_id"),
        unit_id=body.get("unit_id"),
        on=body.get("date"),
        harvested_g=body["harvested_g"],
        plant_id=body.get("plant_id"),
        staff_id=staff.id,
    )
    return {**harvest_views.delivery_view(delivery), "batch_id": delivery.batch_id}, 201
