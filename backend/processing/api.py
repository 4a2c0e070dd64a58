"""/api/processing: the processing line's signed API (open batch, steps, sorting, inspection,
packing). Every call carries a report_id; a repeat is answered the same and applied once.
Farms' systems post growth updates of their own adoption units here too, signed the same way
with a key of their farm; their external_id makes a repeat apply once."""

from __future__ import annotations

import base64
import binascii

from apiflask import APIBlueprint
from apiflask.fields import AwareDateTime, Boolean, Dict, Integer, List, Nested, Raw, String
from apiflask.validators import Length, Range, Regexp
from flask import g, request

from backend.adoption import growth
from backend.adoption import harvest_orders as adoption_harvest
from backend.batches import packing
from backend.batches import service as batches
from backend.batches.schemas import render_batch
from backend.errors import BadRequest, Forbidden
from backend.extensions import db
from backend.processing import signing
from backend.schemas import In
from backend.timeutil import to_naive_utc

bp = APIBlueprint("processing", __name__, tag="Processing line")

CODE = Regexp(r"^[A-Za-z0-9_\-.]{1,40}$", error="只能包含字母、数字、-_.")
REPORT_ID = String(required=True, validate=Regexp(r"^[A-Za-z0-9_\-.:]{1,64}$"))


class HarvestIn(In):
    sea_area = String(required=True, validate=Length(1, 30))
    harvested_at = AwareDateTime(required=True)
    weight_g = Integer(required=True, strict=True, validate=Range(1, 10**9))


class OpenBatchIn(In):
    report_id = REPORT_ID
    batch_code = String(required=True, validate=CODE)
    product_line = String(required=True, validate=Length(1, 30))
    harvest = Nested(HarvestIn, required=True)


class StepIn(In):
    report_id = REPORT_ID
    step = String(required=True, validate=Length(1, 30))
    performed_at = AwareDateTime(required=True)
    measurements = Dict(keys=String(), values=Raw(), load_default=dict)


class GradeCountIn(In):
    grade = String(required=True, validate=Length(1, 20))
    count = Integer(required=True, strict=True, validate=Range(0, 10**9))
    weight_g = Integer(required=True, strict=True, validate=Range(0, 10**10))


class SortingIn(In):
    report_id = REPORT_ID
    performed_at = AwareDateTime(required=True)
    grades = List(Nested(GradeCountIn), required=True, validate=Length(1, 50))


class InspectionIn(In):
    report_id = REPORT_ID
    performed_at = AwareDateTime(required=True)
    passed = Boolean(required=True)
    report_no = String(required=True, validate=Length(1, 60))
    lab = String(required=True, validate=Length(1, 60))


class PackIn(In):
    sku = String(required=True, validate=Length(1, 40))
    count = Integer(required=True, strict=True, validate=Range(1, 10**6))


class PackingIn(In):
    report_id = REPORT_ID
    packed_at = AwareDateTime(required=True)
    packs = List(Nested(PackIn), required=True, validate=Length(1, 50))


# What a farm's own key may call; a processing company's key calls the rest.
FARM_ENDPOINTS = {"processing.post_growth_update"}


@bp.before_request
def authenticate():
    g.plant = signing.verify(
        db.session,
        method=request.method,
        path=request.path,
        headers=request.headers,
        body=request.get_data(cache=True),
    )
    farm_call = request.endpoint in FARM_ENDPOINTS
    if farm_call and g.plant.farm_id is None:
        raise Forbidden("该密钥属于加工厂，不能发布养殖户的生长动态", code="NOT_A_FARM_KEY")
    if not farm_call and g.plant.farm_id is not None:
        raise Forbidden(
            "养殖户系统的密钥只能发布生长动态，不能上报加工批次", code="NOT_A_PLANT_KEY"
        )


def _utc(value):
    return to_naive_utc(value)


def _report(body: dict, apply):
    status, response = batches.apply_report(
        db.session,
        plant_id=g.plant.id,
        report_id=body["report_id"],
        request_hash=batches.request_hash(body),
        apply=apply,
    )
    return response, status


@bp.post("/batches")
@bp.input(OpenBatchIn, arg_name="body")
@bp.doc(summary="开批次（采收入厂）")
def open_batch(body):
    harvest = body["harvest"]
    return _report(
        body,
        lambda: (
            201,
            batches.open_batch(
                db.session,
                g.plant,
                code=body["batch_code"],
                product_line=body["product_line"],
                sea_area=harvest["sea_area"],
                harvested_at=_utc(harvest["harvested_at"]),
                weight_g=harvest["weight_g"],
            ),
        ),
    )


@bp.get("/batches/<batch_code>")
@bp.doc(summary="批次当前状态")
def get_batch(batch_code: str):
    return render_batch(batches.get_batch(db.session, plant_id=g.plant.id, code=batch_code))


@bp.post("/batches/<batch_code>/steps")
@bp.input(StepIn, arg_name="body")
@bp.doc(summary="报告一道工序及其测量值")
def report_step(batch_code: str, body):
    return _report(
        body,
        lambda: (
            200,
            batches.report_step(
                db.session,
                g.plant,
                batch_code=batch_code,
                step=body["step"],
                performed_at=_utc(body["performed_at"]),
                measurements=body["measurements"],
            ),
        ),
    )


@bp.post("/batches/<batch_code>/sorting")
@bp.input(SortingIn, arg_name="body")
@bp.doc(summary="报告分级结果（各等级数量与重量）")
def report_sorting(batch_code: str, body):
    return _report(
        body,
        lambda: (
            200,
            batches.report_sorting(
                db.session,
                g.plant,
                batch_code=batch_code,
                performed_at=_utc(body["performed_at"]),
                grades=body["grades"],
            ),
        ),
    )


@bp.post("/batches/<batch_code>/inspection")
@bp.input(InspectionIn, arg_name="body")
@bp.doc(summary="报告检验结果")
def report_inspection(batch_code: str, body):
    return _report(
        body,
        lambda: (
            200,
            batches.report_inspection(
                db.session,
                g.plant,
                batch_code=batch_code,
                performed_at=_utc(body["performed_at"]),
                passed=body["passed"],
                report_no=body["report_no"],
                lab=body["lab"],
            ),
        ),
    )


@bp.post("/batches/<batch_code>/packing")
@bp.input(PackingIn, arg_name="body")
@bp.doc(summary="报告包装：每个 SKU 生成一个带保质期的批次库存")
def report_packing(batch_code: str, body):
    def apply():
        packed = packing.report_packing(
            db.session,
            g.plant,
            batch_code=batch_code,
            packed_at=_utc(body["packed_at"]),
            packs=body["packs"],
        )
        # an adopted unit's harvest: its lots become the adopter's order in this transaction,
        # before any other order could take them
        adoption_harvest.on_batch_packed(db.session, plant_id=g.plant.id, batch_code=batch_code)
        return 201, packed

    return _report(body, apply)


class GrowthUpdateIn(In):
    external_id = String(required=True, validate=Regexp(r"^[A-Za-z0-9_\-.:]{1,50}$"))
    measured_at = AwareDateTime(required=True)
    measurements = Dict(keys=String(), values=Raw(), load_default=dict)
    note = String(load_default="", validate=Length(0, 300))
    photos = List(String(), load_default=list, validate=Length(0, growth.MAX_PHOTOS))
    also_units = List(String(validate=CODE), load_default=list, validate=Length(0, 99))


def _picture(encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("照片须为 base64 编码的图片", code="PHOTO_ENCODING") from None


@bp.post("/adoption-units/<unit_code>/growth-updates")
@bp.input(GrowthUpdateIn, arg_name="body")
@bp.doc(summary="养殖系统发布认养单元的生长动态（照片、测量值）；external_id 重复时不重复发布")
def post_growth_update(unit_code: str, body):
    units = growth.units_by_codes(db.session, [unit_code[:40], *body["also_units"]])
    rows, created = growth.post_update(
        db.session,
        farm_id=g.plant.farm_id,  # every unit posted for must be the key's farm's
        unit_ids=[unit.id for unit in units],
        new_photos=[_picture(photo) for photo in body["photos"]],
        measurements=body["measurements"],
        note=body["note"],
        measured_at=_utc(body["measured_at"]),
        source=growth.API,
        external_id=body["external_id"],
        posted_by=f"系统 {g.plant.key_id}",
    )
    answer = {"created": created, "updates": [growth.view(row) for row in rows]}
    return answer, 201 if created else 200
