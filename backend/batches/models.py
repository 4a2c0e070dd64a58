from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.timeutil import utcnow

# Step kinds with their own report and rules; every other step is GENERIC (measurements only).
GENERIC, SORTING, INSPECTION, PACKING = "generic", "sorting", "inspection", "packing"


class ProcessStep(db.Model):
    """One step of a product line's processing, in order, with the measurements it requires:
    [{"key": "hours", "name": "净化时长", "unit": "小时", "min": 0, "max": 96}, ...]."""

    __tablename__ = "process_steps"
    __table_args__ = (UniqueConstraint("product_line_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id"), index=True)
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(30))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12), default=GENERIC)
    required: Mapped[bool] = mapped_column(default=True)
    measurements: Mapped[list] = mapped_column(JSON, default=list)


class Farm(db.Model):
    """A farming household or cooperative (养殖户 / 合作社)."""

    __tablename__ = "farms"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    cooperative: Mapped[str] = mapped_column(String(60), default="")
    town: Mapped[str] = mapped_column(String(30), default="")


class SeaArea(db.Model):
    """A licensed sea area (养殖区) a farm grows in."""

    __tablename__ = "sea_areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    farm_id: Mapped[int] = mapped_column(ForeignKey("farms.id"), index=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)

    farm: Mapped[Farm] = relationship()


class Plant(db.Model):
    """A key of the signed processing API: a processing company whose line reports batches, or
    (farm_id set) a farm's own system, which posts growth updates of that farm's units only."""

    __tablename__ = "plants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    key_id: Mapped[str] = mapped_column(String(40), unique=True)
    secret: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(default=True)
    farm_id: Mapped[int | None] = mapped_column(ForeignKey("farms.id"), index=True)


class Harvest(db.Model):
    __tablename__ = "harvests"

    id: Mapped[int] = mapped_column(primary_key=True)
    sea_area_id: Mapped[int] = mapped_column(ForeignKey("sea_areas.id"), index=True)
    harvested_at: Mapped[datetime]
    weight_g: Mapped[int] = mapped_column(Integer)

    sea_area: Mapped[SeaArea] = relationship()


class Batch(db.Model):
    """One harvest going through one plant's line."""

    __tablename__ = "batches"
    __table_args__ = (UniqueConstraint("plant_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plant_id: Mapped[int] = mapped_column(ForeignKey("plants.id"), index=True)
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id"))
    harvest_id: Mapped[int] = mapped_column(ForeignKey("harvests.id"))
    code: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="OPEN")  # OPEN/REJECTED/PACKED
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)

    plant: Mapped[Plant] = relationship()
    harvest: Mapped[Harvest] = relationship()
    steps: Mapped[list[BatchStep]] = relationship(order_by="BatchStep.performed_at")
    sorting: Mapped[list[SortingResult]] = relationship()
    inspection: Mapped[Inspection | None] = relationship()


class BatchStep(db.Model):
    """A step the line performed on a batch, with its measurements."""

    __tablename__ = "batch_steps"
    __table_args__ = (UniqueConstraint("batch_id", "step_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("process_steps.id"))
    performed_at: Mapped[datetime]
    measurements: Mapped[dict] = mapped_column(JSON, default=dict)
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)

    step: Mapped[ProcessStep] = relationship()


class SortingResult(db.Model):
    __tablename__ = "sorting_results"
    __table_args__ = (UniqueConstraint("batch_id", "grade_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    grade_id: Mapped[int] = mapped_column(ForeignKey("grades.id"))
    count: Mapped[int] = mapped_column(Integer)
    weight_g: Mapped[int] = mapped_column(Integer)


class Inspection(db.Model):
    __tablename__ = "inspections"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), unique=True)
    passed: Mapped[bool]
    report_no: Mapped[str] = mapped_column(String(60))
    lab: Mapped[str] = mapped_column(String(60))
    inspected_at: Mapped[datetime]


class ProcessingReport(db.Model):
    """A report the line sent, kept with our answer so a repeat is answered the same."""

    __tablename__ = "processing_reports"
    __table_args__ = (UniqueConstraint("plant_id", "report_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plant_id: Mapped[int] = mapped_column(ForeignKey("plants.id"))
    report_id: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
