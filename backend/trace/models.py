from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.timeutil import utcnow


class PrintRun(db.Model):
    """A batch of anti-counterfeit codes printed for one lot and one licensed seller."""

    __tablename__ = "print_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    licence_id: Mapped[int] = mapped_column(ForeignKey("brand_licences.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TraceCode(db.Model):
    """One package's code, and what its scans have shown so far."""

    __tablename__ = "trace_codes"
    __table_args__ = (UniqueConstraint("print_run_id", "serial"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    print_run_id: Mapped[int] = mapped_column(ForeignKey("print_runs.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    serial: Mapped[int] = mapped_column(Integer)
    scan_count: Mapped[int] = mapped_column(Integer, default=0)
    first_scanned_at: Mapped[datetime | None]
    first_region: Mapped[str | None] = mapped_column(String(40))
    last_scanned_at: Mapped[datetime | None]
    last_latitude: Mapped[float | None] = mapped_column(Float)
    last_longitude: Mapped[float | None] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(default=False, index=True)
    sold_at: Mapped[datetime | None]  # bound to a parcel that left the warehouse


class TraceScan(db.Model):
    """Every scan, of our codes and of codes that are not ours."""

    __tablename__ = "trace_scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_id: Mapped[str] = mapped_column(String(40), unique=True)  # its entry in the scan log
    code_id: Mapped[int | None] = mapped_column(ForeignKey("trace_codes.id"), index=True)
    raw_code: Mapped[str] = mapped_column(String(64))
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    ip_hash: Mapped[str] = mapped_column(String(64), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    region: Mapped[str | None] = mapped_column(String(40))


class TraceFlag(db.Model):
    """Why a code looks copied: too many scans, impossible travel, long past use-by, not ours."""

    __tablename__ = "trace_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)  # one flag per code and reason
    code_id: Mapped[int | None] = mapped_column(ForeignKey("trace_codes.id"), index=True)
    raw_code: Mapped[str] = mapped_column(String(64))
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("sellers.id"), index=True)
    reason: Mapped[str] = mapped_column(String(30), index=True)
    message: Mapped[str] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(40), index=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class TraceReport(db.Model):
    """A buyer's report of a fake to the alliance: the code, where it was bought, a note."""

    __tablename__ = "trace_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_id: Mapped[int | None] = mapped_column(ForeignKey("trace_codes.id"), index=True)
    raw_code: Mapped[str] = mapped_column(String(64))
    place: Mapped[str] = mapped_column(String(60))
    note: Mapped[str] = mapped_column(String(300), default="")
    ip_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
