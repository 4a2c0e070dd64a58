"""A lot's chain from farm to package, as a scan shows it (in Chinese). A packed lot's chain never
changes, so each process keeps the rendered chain of the lots it has shown."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from backend.batches.models import Batch, BatchStep, Harvest, Inspection, SeaArea
from backend.catalogue.models import Sku
from backend.inventory.models import Lot
from backend.timeutil import to_shanghai_iso

_MAX_CACHED = 4096
_rendered: dict[int, dict] = {}

FORM_NAMES = {"live": "鲜活", "frozen": "冷冻", "ready_to_eat": "即食"}


_use_by: dict[int, object] = {}


def lot_use_by(session: Session, lot_id: int):
    """A lot's use-by (UTC); it never changes once packed."""
    if lot_id not in _use_by:
        _use_by[lot_id] = session.scalar(select(Lot.use_by).where(Lot.id == lot_id))
    return _use_by[lot_id]


def chain_for_lot(session: Session, lot_id: int) -> dict:
    chain = _rendered.get(lot_id)
    if chain is None:
        if len(_rendered) >= _MAX_CACHED:
            _rendered.clear()
        chain = _rendered[lot_id] = _render(session, lot_id)
    return chain


def _measurements(step: BatchStep) -> list[dict]:
    specs = {spec["key"]: spec for spec in step.step.measurements}
    return [
        {"name": specs[key]["name"], "value": value, "unit": specs[key].get("unit", "")}
        for key, value in step.measurements.items()
        if key in specs
    ]


def _render(session: Session, lot_id: int) -> dict:
    lot = session.get(Lot, lot_id)
    sku = session.scalar(
        select(Sku)
        .where(Sku.id == lot.sku_id)
        .options(selectinload(Sku.product), selectinload(Sku.grade))
    )
    batch = session.scalar(
        select(Batch)
        .where(Batch.id == lot.batch_id)
        .options(
            selectinload(Batch.steps).selectinload(BatchStep.step),
            selectinload(Batch.plant),
            selectinload(Batch.harvest).selectinload(Harvest.sea_area).selectinload(SeaArea.farm),
        )
    )
    harvest, area = batch.harvest, batch.harvest.sea_area
    inspection = session.scalar(select(Inspection).where(Inspection.batch_id == batch.id))
    steps = [
        {
            "name": s.step.name,
            "performed_at": to_shanghai_iso(s.performed_at),
            "measurements": _measurements(s),
        }
        for s in sorted(batch.steps, key=lambda s: s.step.position)
        if s.step.kind in ("generic", "sorting")
    ]
    return {
        "product": {
            "name": sku.product.name,
            "grade": sku.grade.name,
            "spec": sku.spec,
            "form": FORM_NAMES.get(sku.form, sku.form),
        },
        "origin": {
            "farm": area.farm.name,
            "cooperative": area.farm.cooperative,
            "sea_area": area.name,
            "sea_area_code": area.code,
            "latitude": area.latitude,
            "longitude": area.longitude,
            "harvested_at": to_shanghai_iso(harvest.harvested_at),
        },
        "processing": {"plant": batch.plant.name, "batch": batch.code, "steps": steps},
        "inspection": None
        if inspection is None
        else {
            "passed": inspection.passed,
            "report_no": inspection.report_no,
            "lab": inspection.lab,
            "inspected_at": to_shanghai_iso(inspection.inspected_at),
        },
        "lot": {
            "code": lot.code,
            "packed_at": to_shanghai_iso(lot.packed_at),
            "use_by": to_shanghai_iso(lot.use_by),
        },
    }
