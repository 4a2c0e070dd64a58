"""Batches: what the processing line reports — a harvest opened as a batch, its steps with their
measurements, sorting into grades, inspection, and packing into lots of sellable stock.

The step catalogue, grades and shelf life are data of the product line. Steps go in catalogue
order; every required step before a step must be done first. One report is one transaction, and
a repeated report id is answered with the first answer and applied once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.batches.models import (
    INSPECTION,
    PACKING,
    SORTING,
    Batch,
    BatchStep,
    Farm,
    Harvest,
    Inspection,
    Plant,
    ProcessingReport,
    ProcessStep,
    SeaArea,
    SortingResult,
)
from backend.batches.schemas import render_batch
from backend.catalogue.models import ProductLine
from backend.errors import BadRequest, Conflict, NotFound, RuleBroken
from backend.queue import redis_client
from backend.timeutil import utcnow
from backend.transactions import on_commit

CLOCK_TOLERANCE = timedelta(minutes=5)
# A new value after any processing record commits: caches of what the records show (a lot's
# trace chain) compare it and render again when it moved. Random, so a fresh Redis never
# matches a version cached under an old one.
RECORDS_VERSION_KEY = "heli:batches:version"


def issue_key(session: Session, *, name: str, farm_name: str | None = None) -> tuple[str, str]:
    """A new key of the processing API for a processing company, or for the farm `farm_name`'s
    own system; answers (key id, secret), the secret shown this once. Commits."""
    farm_id = None
    if farm_name is not None:
        farm_id = session.scalar(select(Farm.id).where(Farm.name == farm_name))
        if farm_id is None:
            raise NotFound(f"养殖户「{farm_name}」不存在", code="FARM_NOT_FOUND")
    prefix = "farm" if farm_id is not None else "plant"
    key_id, secret = f"{prefix}-{secrets.token_hex(8)}", secrets.token_hex(32)
    session.add(Plant(name=name, key_id=key_id, secret=secret, farm_id=farm_id))
    session.commit()
    return key_id, secret


def authenticate_plant(session: Session, key_id: str) -> Plant | None:
    """The active plant a processing-API key id belongs to."""
    plant = session.scalar(select(Plant).where(Plant.key_id == key_id))
    return plant if plant is not None and plant.active else None


def apply_report(
    session: Session,
    *,
    plant_id: int,
    report_id: str,
    request_hash: str,
    apply: Callable[[], tuple[int, dict]],
) -> tuple[int, dict]:
    """Run a report once: a repeat with the same body gets the stored answer, another body 409."""
    previous = _stored_report(session, plant_id, report_id)
    if previous is not None:
        return _replay(previous, request_hash)
    status, response = apply()
    session.add(
        ProcessingReport(
            plant_id=plant_id,
            report_id=report_id,
            request_hash=request_hash,
            status_code=status,
            response=response,
        )
    )
    try:
        session.commit()
    except IntegrityError:  # the same report arrived twice at once; the other one won
        session.rollback()
        return _replay(_stored_report(session, plant_id, report_id), request_hash)
    return status, response


def _stored_report(session: Session, plant_id: int, report_id: str) -> ProcessingReport | None:
    return session.scalar(
        select(ProcessingReport).where(
            ProcessingReport.plant_id == plant_id, ProcessingReport.report_id == report_id
        )
    )


def _replay(previous: ProcessingReport, request_hash: str) -> tuple[int, dict]:
    if previous.request_hash != request_hash:
        raise Conflict("该报告编号已用于另一份不同的报告", code="REPORT_ID_REUSED")
    return previous.status_code, previous.response


def _check_time(value: datetime, what: str) -> None:
    if value > utcnow() + CLOCK_TOLERANCE:
        raise RuleBroken(f"{what}不能晚于当前时间", code="TIME_IN_FUTURE")


def open_batch(
    session: Session,
    plant: Plant,
    *,
    code: str,
    product_line: str,
    sea_area: str,
    harvested_at: datetime,
    weight_g: int,
) -> dict:
    """Open a batch for a harvest from a sea area."""
    line = session.scalar(select(ProductLine).where(ProductLine.code == product_line))
    if line is None:
        raise NotFound("产品品类不存在", code="PRODUCT_LINE_NOT_FOUND")
    area = session.scalar(select(SeaArea).where(SeaArea.code == sea_area))
    if area is None:
        raise NotFound("养殖海区不存在", code="SEA_AREA_NOT_FOUND")
    _check_time(harvested_at, "采收时间")
    if session.scalar(select(Batch.id).where(Batch.plant_id == plant.id, Batch.code == code)):
        raise Conflict("批次号已存在", code="BATCH_EXISTS")
    harvest = Harvest(sea_area_id=area.id, harvested_at=harvested_at, weight_g=weight_g)
    batch = Batch(plant_id=plant.id, product_line_id=line.id, harvest=harvest, code=code)
    session.add(batch)
    session.flush()
    return render_batch(batch)


def get_batch(session: Session, *, plant_id: int, code: str) -> Batch:
    batch = session.scalar(
        select(Batch)
        .where(Batch.plant_id == plant_id, Batch.code == code)
        .options(selectinload(Batch.steps), selectinload(Batch.sorting))
    )
    if batch is None:
        raise NotFound("批次不存在", code="BATCH_NOT_FOUND")
    return batch


def _step(session: Session, batch: Batch, code: str) -> ProcessStep:
    step = session.scalar(
        select(ProcessStep).where(
            ProcessStep.product_line_id == batch.product_line_id, ProcessStep.code == code
        )
    )
    if step is None:
        raise NotFound("工序不存在", code="STEP_NOT_FOUND", details={"step": code})
    return step


def _check_order(session: Session, batch: Batch, step: ProcessStep) -> None:
    """A step may follow only the required steps before it, and nothing after it."""
    if batch.status == "REJECTED":
        raise RuleBroken("该批次检验未通过，不能继续加工", code="INSPECTION_FAILED")
    done = {s.step_id for s in batch.steps}
    catalogue = session.scalars(
        select(ProcessStep)
        .where(ProcessStep.product_line_id == batch.product_line_id)
        .order_by(ProcessStep.position)
    )
    for other in catalogue:
        if other.position < step.position and other.required and other.id not in done:
            raise RuleBroken(
                f"请先完成「{other.name}」工序",
                code="STEP_MISSING",
                details={"missing": other.code},
            )
        if other.position > step.position and other.id in done:
            raise RuleBroken(
                f"「{other.name}」已完成，不能再报告「{step.name}」",
                code="STEP_OUT_OF_ORDER",
                details={"after": other.code},
            )
    if step.id in done and step.kind != PACKING:
        raise Conflict(f"「{step.name}」已报告过", code="STEP_ALREADY_REPORTED")


def _check_measurements(step: ProcessStep, measurements: dict) -> dict:
    """Keep the step's declared measurements, each a number within its range."""
    clean = {}
    for spec in step.measurements:
        key, value = spec["key"], measurements.get(spec["key"])
        if value is None:
            if spec.get("required", True):
                raise BadRequest(
                    f"缺少测量值「{spec['name']}」",
                    code="MEASUREMENT_MISSING",
                    details={"measurement": key},
                )
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadRequest(
                f"「{spec['name']}」必须是数字",
                code="MEASUREMENT_INVALID",
                details={"measurement": key},
            )
        low, high = spec.get("min"), spec.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            raise BadRequest(
                f"「{spec['name']}」应在 {low} 到 {high} {spec.get('unit', '')} 之间",
                code="MEASUREMENT_OUT_OF_RANGE",
                details={"measurement": key},
            )
        clean[key] = value
    return clean


def _record_step(
    session: Session, batch: Batch, step: ProcessStep, performed_at: datetime, measurements: dict
) -> None:
    on_commit(
        session,
        lambda: redis_client().set(RECORDS_VERSION_KEY, uuid.uuid4().hex),
        key="batch-records",
    )
    if step.id not in {s.step_id for s in batch.steps}:
        session.add(
            BatchStep(
                batch_id=batch.id,
                step_id=step.id,
                performed_at=performed_at,
                measurements=measurements,
            )
        )
        session.flush()
        session.refresh(batch)


def report_step(
    session: Session,
    plant: Plant,
    *,
    batch_code: str,
    step: str,
    performed_at: datetime,
    measurements: dict,
) -> dict:
    """A generic step (washing, depuration, ...) with its measurements."""
    batch = get_batch(session, plant_id=plant.id, code=batch_code)
    process_step = _step(session, batch, step)
    if process_step.kind != "generic":
        raise BadRequest(
            "该工序需使用专门的报告接口",
            code="WRONG_REPORT_KIND",
            details={"kind": process_step.kind},
        )
    _check_time(performed_at, "作业时间")
    _check_order(session, batch, process_step)
    _record_step(
        session, batch, process_step, performed_at, _check_measurements(process_step, measurements)
    )
    return render_batch(batch)


def _kind_step(session: Session, batch: Batch, kind: str) -> ProcessStep:
    step = session.scalar(
        select(ProcessStep).where(
            ProcessStep.product_line_id == batch.product_line_id, ProcessStep.kind == kind
        )
    )
    if step is None:
        raise RuleBroken("该品类没有此工序", code="STEP_NOT_FOUND", details={"kind": kind})
    return step


def report_sorting(
    session: Session, plant: Plant, *, batch_code: str, performed_at: datetime, grades: list[dict]
) -> dict:
    """Machine sorting: count and weight per grade; never more weight than was harvested."""
    batch = get_batch(session, plant_id=plant.id, code=batch_code)
    step = _kind_step(session, batch, SORTING)
    _check_time(performed_at, "分级时间")
    _check_order(session, batch, step)
    line = session.get(ProductLine, batch.product_line_id)
    by_code = {grade.code: grade for grade in line.grades}
    codes = [entry["grade"] for entry in grades]
    if len(set(codes)) != len(codes):
        raise BadRequest("同一等级不能重复报告", code="DUPLICATE_GRADE")
    unknown = sorted(set(codes) - set(by_code))
    if unknown:
        raise NotFound("等级不存在", code="GRADE_NOT_FOUND", details={"grades": unknown})
    total = sum(entry["weight_g"] for entry in grades)
    limit = int(batch.harvest.weight_g * (1 + line.sorting_tolerance))
    if total > limit:
        raise RuleBroken(
            "分级总重量超过采收重量",
            code="SORTED_WEIGHT_EXCEEDS_HARVEST",
            details={"sorted_g": total, "harvest_g": batch.harvest.weight_g},
        )
    for entry in grades:
        session.add(
            SortingResult(
                batch_id=batch.id,
                grade_id=by_code[entry["grade"]].id,
                count=entry["count"],
                weight_g=entry["weight_g"],
            )
        )
    _record_step(
        session,
        batch,
        step,
        performed_at,
        {"total_count": sum(e["count"] for e in grades), "total_weight_g": total},
    )
    return render_batch(batch)


def report_inspection(
    session: Session,
    plant: Plant,
    *,
    batch_code: str,
    performed_at: datetime,
    passed: bool,
    report_no: str,
    lab: str,
) -> dict:
    """A lab's verdict; a failed batch can never be packed."""
    batch = get_batch(session, plant_id=plant.id, code=batch_code)
    step = _kind_step(session, batch, INSPECTION)
    _check_time(performed_at, "检验时间")
    _check_order(session, batch, step)
    session.add(
        Inspection(
            batch_id=batch.id,
            passed=passed,
            report_no=report_no,
            lab=lab,
            inspected_at=performed_at,
        )
    )
    _record_step(
        session, batch, step, performed_at, {"passed": passed, "report_no": report_no, "lab": lab}
    )
    if not passed:
        batch.status = "REJECTED"
    return render_batch(batch)


def provenance(session: Session, batch_ids: list[int]) -> dict[int, dict]:
    """Where each batch came from, as the catalogue and trace pages show it."""
    rows = session.execute(
        select(Batch.id, Batch.code, Harvest.harvested_at, SeaArea.name, SeaArea.code)
        .join(Harvest, Harvest.id == Batch.harvest_id)
        .join(SeaArea, SeaArea.id == Harvest.sea_area_id)
        .where(Batch.id.in_(batch_ids))
    )
    return {
        batch_id: {
            "batch": code,
            "harvested_at": harvested_at,
            "sea_area": area_name,
            "sea_area_code": area_code,
        }
        for batch_id, code, harvested_at, area_name, area_code in rows
    }


def request_hash(payload: dict) -> str:
    """A stable hash of a parsed report body, for telling repeats from reused ids."""
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False).encode()
    ).hexdigest()
