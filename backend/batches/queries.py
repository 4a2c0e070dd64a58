"""Read-only views of batches for the staff console: the batch list, one batch's record, and the
lots packed from batches with their SKU and batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from backend.batches.models import (
    Batch,
    BatchStep,
    Harvest,
    Inspection,
    Plant,
    ProcessStep,
    SeaArea,
    SortingResult,
)
from backend.catalogue.models import Grade, Product, ProductLine, Sku
from backend.inventory.models import SELLABLE, Lot
from backend.pagination import page_of
from backend.timeutil import utcnow


@dataclass(frozen=True)
class BatchRow:
    batch: Batch
    plant_name: str
    sea_area_code: str
    sea_area_name: str
    harvested_at: datetime
    harvest_weight_g: int


@dataclass(frozen=True)
class LotRow:
    lot: Lot
    sku_code: str
    sku_spec: str
    product_name: str
    batch_code: str
    expiring_soon: bool

    @property
    def available(self) -> int:
        return self.lot.on_hand - self.lot.reserved


@dataclass(frozen=True)
class Measurement:
    key: str
    name: str
    unit: str
    value: float | int | None


@dataclass(frozen=True)
class StepEntry:
    step: ProcessStep
    performed_at: datetime | None
    measurements: list[Measurement]

    @property
    def done(self) -> bool:
        return self.performed_at is not None


@dataclass(frozen=True)
class GradeEntry:
    code: str
    name: str
    count: int
    weight_g: int


@dataclass(frozen=True)
class BatchDetail:
    batch: Batch
    product_line: ProductLine
    plant: Plant
    harvest: Harvest
    sea_area: SeaArea
    steps: list[StepEntry]
    grades: list[GradeEntry]
    inspection: Inspection | None


def list_batches(
    session: Session, *, status: str | None = None, page: int = 1, page_size: int = 20
) -> tuple[list[BatchRow], int]:
    """Batches with their plant and harvest, newest first."""
    query = (
        select(
            Batch, Plant.name, SeaArea.code, SeaArea.name, Harvest.harvested_at, Harvest.weight_g
        )
        .join(Plant, Plant.id == Batch.plant_id)
        .join(Harvest, Harvest.id == Batch.harvest_id)
        .join(SeaArea, SeaArea.id == Harvest.sea_area_id)
    )
    if status:
        query = query.where(Batch.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        page_of(
            query.order_by(Batch.opened_at.desc(), Batch.id.desc()),
            page,
            page_size,
        )
    ).tuples()
    return [BatchRow(*row) for row in rows], total


def batch_detail(session: Session, batch_id: int) -> BatchDetail | None:
    """One batch's harvest, steps in catalogue order with named measurements, grades, inspection."""
    batch = session.scalar(
        select(Batch)
        .where(Batch.id == batch_id)
        .options(
            selectinload(Batch.plant),
            selectinload(Batch.harvest).selectinload(Harvest.sea_area).selectinload(SeaArea.farm),
            selectinload(Batch.inspection),
        )
    )
    if batch is None:
        return None
    return BatchDetail(
        batch=batch,
        product_line=session.get(ProductLine, batch.product_line_id),
        plant=batch.plant,
        harvest=batch.harvest,
        sea_area=batch.harvest.sea_area,
        steps=_timeline(session, batch),
        grades=_grades(session, batch.id),
        inspection=batch.inspection,
    )


def _timeline(session: Session, batch: Batch) -> list[StepEntry]:
    performed = {
        row.step_id: row
        for row in session.scalars(select(BatchStep).where(BatchStep.batch_id == batch.id))
    }
    catalogue = session.scalars(
        select(ProcessStep)
        .where(ProcessStep.product_line_id == batch.product_line_id)
        .order_by(ProcessStep.position)
    )
    entries = []
    for step in catalogue:
        done = performed.get(step.id)
        values = done.measurements if done is not None else {}
        entries.append(
            StepEntry(
                step=step,
                performed_at=done.performed_at if done is not None else None,
                measurements=[
                    Measurement(
                        key=spec["key"],
                        name=spec.get("name", spec["key"]),
                        unit=spec.get("unit", ""),
                        value=values.get(spec["key"]),
                    )
                    for spec in step.measurements
                ],
            )
        )
    return entries


def _grades(session: Session, batch_id: int) -> list[GradeEntry]:
    rows = session.execute(
        select(Grade.code, Grade.name, SortingResult.count, SortingResult.weight_g)
        .join(Grade, Grade.id == SortingResult.grade_id)
        .where(SortingResult.batch_id == batch_id)
        .order_by(Grade.position, Grade.id)
    ).tuples()
    return [GradeEntry(*row) for row in rows]


def list_lots(
    session: Session,
    *,
    sku_code: str | None = None,
    status: str | None = None,
    batch_id: int | None = None,
    soon_hours: int = 24,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[LotRow], int]:
    """Lots matching the filters, first to expire first, flagged when sellable units expire soon."""
    query = (
        select(Lot, Sku.code, Sku.spec, Product.name, Batch.code)
        .join(Sku, Sku.id == Lot.sku_id)
        .join(Product, Product.id == Sku.product_id)
        .join(Batch, Batch.id == Lot.batch_id)
    )
    if sku_code:
        query = query.where(Sku.code == sku_code)
    if status:
        query = query.where(Lot.status == status)
    if batch_id is not None:
        query = query.where(Lot.batch_id == batch_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(page_of(query.order_by(Lot.use_by, Lot.id), page, page_size)).tuples()
    now = utcnow()
    soon = now + timedelta(hours=soon_hours)
    items = [
        LotRow(
            lot=lot,
            sku_code=code,
            sku_spec=spec,
            product_name=product,
            batch_code=batch,
            expiring_soon=lot.status == SELLABLE and lot.on_hand > 0 and now < lot.use_by <= soon,
        )
        for lot, code, spec, product, batch in rows
    ]
    return items, total
