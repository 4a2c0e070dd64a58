"""Moving the scan log (Redis streams) into the database in batches. Part of the trace service.

A batch stored but not yet trimmed from the log (a crash in between) is stored once: scans are
unique by their stream id and flags by their key, and code counters are recounted from the rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from backend.timeutil import naive_utc_from_timestamp
from backend.trace import scan_log
from backend.trace.models import TraceCode, TraceFlag, TraceScan


def _utc(timestamp: float) -> datetime:
    return naive_utc_from_timestamp(timestamp)


def _insert_ignoring_repeats(session: Session, model, rows: list[dict], key: str) -> None:
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(model)
    session.execute(statement.on_conflict_do_nothing(index_elements=[key]), rows)


def _place(entry: dict) -> dict:
    return {
        "latitude": float(entry["lat"]) if entry["lat"] else None,
        "longitude": float(entry["lon"]) if entry["lon"] else None,
        "region": entry["region"] or None,
    }


def persist_scans(session: Session, *, batch: int = 5000) -> int:
    """Move logged scans and the flags they raised into the database; safe to repeat (a batch
    stored but not yet trimmed from the log is stored once)."""
    scans = scan_log.read(scan_log.STREAM, batch)
    flags = scan_log.read(scan_log.FLAG_STREAM, batch)
    if scans:
        _insert_ignoring_repeats(
            session,
            TraceScan,
            [
                {
                    "stream_id": stream_id,
                    "code_id": int(e["code_id"]) if e["code_id"] else None,
                    "raw_code": e["raw_code"],
                    "scanned_at": _utc(float(e["at"])),
                    "ip_hash": e["ip_hash"],
                    **_place(e),
                }
                for stream_id, e in scans
            ],
            "stream_id",
        )
    if flags:
        code_ids = {int(e["code_id"]) for _, e in flags if e["code_id"]}
        sellers_of = dict(
            session.execute(
                select(TraceCode.id, TraceCode.seller_id).where(TraceCode.id.in_(code_ids))
            ).all()
        )
        _insert_ignoring_repeats(
            session,
            TraceFlag,
            [
                {
                    "key": f"{e['code_id'] or e['raw_code']}:{e['reason']}",
                    "code_id": int(e["code_id"]) if e["code_id"] else None,
                    "seller_id": sellers_of.get(int(e["code_id"])) if e["code_id"] else None,
                    "raw_code": e["raw_code"],
                    "reason": e["reason"],
                    "message": e["message"],
                    "created_at": _utc(float(e["at"])),
                    **_place(e),
                }
                for _, e in flags
            ],
            "key",
        )
    _refresh_codes(session, {int(e["code_id"]) for _, e in scans + flags if e["code_id"]})
    session.commit()
    if scans:
        scan_log.trim(scan_log.STREAM, scans[-1][0])
    if flags:
        scan_log.trim(scan_log.FLAG_STREAM, flags[-1][0])
    return len(scans)


def _refresh_codes(session: Session, code_ids: set[int]) -> None:
    """Set each code's counters from its stored scans (so repeating a batch changes nothing)."""
    if not code_ids:
        return
    mine = TraceScan.code_id == TraceCode.id

    def latest(column, *extra):
        return (
            select(column)
            .where(mine, *extra)
            .order_by(TraceScan.scanned_at.desc())
            .limit(1)
            .scalar_subquery()
        )

    session.execute(
        update(TraceCode)
        .where(TraceCode.id.in_(code_ids))
        .values(
            scan_count=select(func.count()).where(mine).scalar_subquery(),
            first_scanned_at=select(func.min(TraceScan.scanned_at)).where(mine).scalar_subquery(),
            # the first scan's own region (as the scan log keeps it), never a later scan's
            first_region=(
                select(TraceScan.region)
                .where(mine)
                .order_by(TraceScan.scanned_at, TraceScan.id)
                .limit(1)
                .scalar_subquery()
            ),
            last_scanned_at=select(func.max(TraceScan.scanned_at)).where(mine).scalar_subquery(),
            last_latitude=latest(TraceScan.latitude, TraceScan.latitude.is_not(None)),
            last_longitude=latest(TraceScan.longitude, TraceScan.longitude.is_not(None)),
            flagged=select(func.count()).where(TraceFlag.code_id == TraceCode.id).scalar_subquery()
            > 0,
        )
        .execution_options(synchronize_session=False)
    )
