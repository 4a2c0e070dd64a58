"""A lot's chain from farm to package, as a scan shows it (in Chinese), cached per process by lot.

Everything a chain shows is a processing record written up to packing (steps, inspection,
packing; farm, sea area, product and grade), and a step can follow packing only as another
packing of new lots: so once a lot exists its chain stays as it is. Still, a cached chain is
keyed by the version of the processing records too (batches.RECORDS_VERSION_KEY, new after any of
them commits), which a scan reads in its one Redis round trip: a chain is never older than the
records. What does change — a code's scans, first region and flags, the lot's expiry (the
use-by warning) — is worked out at each scan from Redis and the clock, never cached here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from backend.batches.models import Batch, BatchStep, Harvest, Inspection, SeaArea
from backend.batches.service import RECORDS_VERSION_KEY
from backend.catalogue.models import Sku
from backend.inventory.models import Lot
from backend.queue import redis_client
from backend.timeutil import to_shanghai_iso

_MAX_CACHED = 4096

FORM_NAMES = {"live": "鲜活", "frozen": "冷冻", "ready_to_eat": "即食"}


@dataclass(frozen=True)
class LotChain:
    chain: dict
    use_by: datetime  # UTC


_lots: dict[tuple[str, int], LotChain] = {}
# Further blocks a chain may carry, each from a lookup of a domain above this one (the adopted
# unit a harvest lot came from): name -> lookup(session, lot), answering the block or None. A
# block must be the same for every scanner and fixed once the lot exists, as the chain is cached.
_extras: dict[str, Callable[[Session, Lot], dict | None]] = {}


def add_block(name: str, lookup: Callable[[Session, Lot], dict | None]) -> None:
    """Let chains carry `name` where `lookup` finds one (registered once, by the app)."""
    _extras[name] = lookup


def records_version() -> str:
    """The processing records' version now (a scan gets it from its own round trip instead)."""
    version = redis_client().get(RECORDS_VERSION_KEY)
    return version.decode() if version else ""


def lot_chain(session: Session, lot_id: int, records: str | None = None) -> LotChain:
    """A lot's rendered chain and use-by, as of the processing records' version `records`
    (read from Redis when not given)."""
    key = (records_version() if records is None else records, lot_id)
    found = _lots.get(key)
    if found is None:
        if len(_lots) >= _MAX_CACHED:
            _lots.clear()
        found = _lots[key] = _render(session, lot_id)
    return found


def chain_for_lot(session: Session, lot_id: int) -> dict:
    return lot_chain(session, lot_id).chain


def _measurements(step: BatchStep) -> list[dict]:
    specs = {spec["key"]: spec for spec in step.step.measurements}
    return [
        {"name": specs[key]["name"], "value": value, "unit": specs[key].get("unit", "")}
        for key, value in step.measurements.items()
        if key in specs
    ]


def _render(session: Session, lot_id: int) -> LotChain:
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
    chain = {
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
    for name, lookup in _extras.items():
        block = lookup(session, lot)
        if block is not None:
            chain[name] = block
    return LotChain(chain, lot.use_by)
