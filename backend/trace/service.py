"""Traceability: print runs of codes for licensed sellers' lots, and scans that show a package's
chain and say plainly when a code looks copied."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from backend.catalogue.models import Sku
from backend.errors import BadRequest, NotFound, RuleBroken
from backend.inventory.models import SELLABLE, Lot
from backend.sellers import service as sellers
from backend.sellers.models import BrandLicence, Seller
from backend.timeutil import to_shanghai_iso, utcnow
from backend.trace import codes
from backend.trace.chain import chain_for_lot
from backend.trace.models import PrintRun, TraceCode, TraceFlag, TraceScan

INSERT_CHUNK = 5000
MAX_PRINT_RUN = 100_000

TOO_MANY_SCANS = "TOO_MANY_SCANS"
IMPOSSIBLE_TRAVEL = "IMPOSSIBLE_TRAVEL"
AFTER_USE_BY = "AFTER_USE_BY"
NOT_OURS = "NOT_OURS"


def create_print_run(
    session: Session, *, seller_id: int, lot_id: int, quantity: int, staff_id: int | None
) -> PrintRun:
    """Issue `quantity` codes for packages of a sellable lot to a seller licensed for it."""
    if not 1 <= quantity <= MAX_PRINT_RUN:
        raise BadRequest(f"每次印制数量需在 1 到 {MAX_PRINT_RUN} 之间", code="INVALID_QUANTITY")
    lot = session.get(Lot, lot_id)
    if lot is None:
        raise NotFound("批次库存不存在", code="LOT_NOT_FOUND")
    if lot.status != SELLABLE or lot.use_by <= utcnow():
        raise RuleBroken("该批次已过期，不能印制防伪码", code="LOT_EXPIRED")
    sellers.get_seller(session, seller_id)
    product_id = session.scalar(select(Sku.product_id).where(Sku.id == lot.sku_id))
    licence = sellers.licence_for_codes(session, seller_id=seller_id, product_id=product_id)
    issued = session.scalar(
        select(func.coalesce(func.sum(PrintRun.quantity), 0)).where(PrintRun.lot_id == lot_id)
    )
    if issued + quantity > lot.received:
        raise RuleBroken(
            "防伪码数量不能超过该批次的包装数量",
            code="PRINT_RUN_EXCEEDS_LOT",
            details={"lot_packs": lot.received, "already_issued": issued},
        )
    run = PrintRun(
        lot_id=lot_id,
        seller_id=seller_id,
        licence_id=licence.id,
        quantity=quantity,
        created_by=staff_id,
    )
    session.add(run)
    session.flush()
    for start in range(0, quantity, INSERT_CHUNK):
        rows = [
            {
                "code": codes.new_code(),
                "print_run_id": run.id,
                "lot_id": lot_id,
                "seller_id": seller_id,
                "serial": serial,
                "scan_count": 0,
                "flagged": False,
            }
            for serial in range(start + 1, min(start + INSERT_CHUNK, quantity) + 1)
        ]
        session.execute(insert(TraceCode), rows)
    session.commit()
    return run


def print_run_codes(
    session: Session, *, print_run_id: int, offset: int = 0, limit: int | None = None
) -> list[TraceCode]:
    """A print run's codes in serial order (for CSV and label exports)."""
    if session.get(PrintRun, print_run_id) is None:
        raise NotFound("印制批次不存在", code="PRINT_RUN_NOT_FOUND")
    query = (
        select(TraceCode)
        .where(TraceCode.print_run_id == print_run_id)
        .order_by(TraceCode.serial)
        .offset(offset)
    )
    return list(session.scalars(query.limit(limit) if limit else query))


@dataclass
class Place:
    latitude: float | None = None
    longitude: float | None = None
    region: str | None = None


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371 * math.asin(math.sqrt(h))


def _signals(code: TraceCode, lot: Lot, place: Place, now: datetime) -> dict[str, str]:
    """Reasons this scan makes the code look copied, each with a note for staff."""
    config = current_app.config
    found = {}
    if code.scan_count + 1 > config["TRACE_MAX_SCANS"]:
        found[TOO_MANY_SCANS] = f"查询次数超过 {config['TRACE_MAX_SCANS']} 次"
    if (
        place.latitude is not None
        and code.last_latitude is not None
        and code.last_scanned_at is not None
    ):
        km = _distance_km(
            (code.last_latitude, code.last_longitude), (place.latitude, place.longitude)
        )
        hours = max((now - code.last_scanned_at).total_seconds() / 3600, 1 / 60)
        if km > config["TRACE_MIN_TRAVEL_KM"] and km / hours > config["TRACE_MAX_SPEED_KMH"]:
            found[IMPOSSIBLE_TRAVEL] = (
                f"{round(hours * 60)} 分钟内在相距 {round(km)} 公里的两地被查询"
            )
    if now > lot.use_by + timedelta(days=config["TRACE_USE_BY_GRACE_DAYS"]):
        found[AFTER_USE_BY] = "保质期过后很久仍被查询"
    return found


def _flag(
    session: Session,
    *,
    key: str,
    code: TraceCode | None,
    raw_code: str,
    reason: str,
    message: str,
    place: Place,
) -> None:
    if session.scalar(select(TraceFlag.id).where(TraceFlag.key == key)) is None:
        session.add(
            TraceFlag(
                key=key,
                code_id=code.id if code else None,
                raw_code=raw_code,
                seller_id=code.seller_id if code else None,
                reason=reason,
                message=message,
                region=place.region,
                latitude=place.latitude,
                longitude=place.longitude,
            )
        )


def _ip_hash(ip: str) -> str:
    return hashlib.sha256(f"{current_app.config['SECRET_KEY']}:{ip}".encode()).hexdigest()


def scan(session: Session, raw_code: str, *, ip: str, place: Place) -> dict:
    """Record a scan and answer what the code proves, with plain warnings when it looks copied.

    NotFound for codes that are not ours (those scans are stored and flagged too)."""
    now = utcnow()
    value = codes.normalize(raw_code)
    code = session.scalar(select(TraceCode).where(TraceCode.code == value)) if value else None
    if code is None:
        session.add(
            TraceScan(
                raw_code=raw_code[:64],
                ip_hash=_ip_hash(ip),
                scanned_at=now,
                latitude=place.latitude,
                longitude=place.longitude,
                region=place.region,
            )
        )
        if value:  # well formed but never issued: a made-up code
            _flag(
                session,
                key=f"{value}:{NOT_OURS}",
                code=None,
                raw_code=value,
                reason=NOT_OURS,
                message="非联盟发放的防伪码",
                place=place,
            )
        session.commit()
        raise NotFound(
            "未查询到该防伪码，可能不是乳山牡蛎正品，请谨慎购买并联系卖家",
            code="TRACE_CODE_NOT_FOUND",
        )

    lot = session.get(Lot, code.lot_id)
    for reason, note in _signals(code, lot, place, now).items():
        _flag(
            session,
            key=f"{code.id}:{reason}",
            code=code,
            raw_code=code.code,
            reason=reason,
            message=note,
            place=place,
        )
    session.add(
        TraceScan(
            code_id=code.id,
            raw_code=code.code,
            ip_hash=_ip_hash(ip),
            scanned_at=now,
            latitude=place.latitude,
            longitude=place.longitude,
            region=place.region,
        )
    )
    values = {"scan_count": TraceCode.scan_count + 1, "last_scanned_at": now}
    if code.first_scanned_at is None:
        values.update(first_scanned_at=now, first_region=place.region)
    if place.latitude is not None:
        values.update(last_latitude=place.latitude, last_longitude=place.longitude)
    session.execute(
        update(TraceCode)
        .where(TraceCode.id == code.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    reasons = set(session.scalars(select(TraceFlag.reason).where(TraceFlag.code_id == code.id)))
    if reasons and not code.flagged:
        session.execute(update(TraceCode).where(TraceCode.id == code.id).values(flagged=True))
    session.commit()
    session.refresh(code)
    return _answer(session, code, lot, reasons)


def _warnings(code: TraceCode, lot: Lot, reasons: set[str]) -> list[dict]:
    first = to_shanghai_iso(code.first_scanned_at)[:16].replace("T", " ")
    where = f"（{code.first_region}）" if code.first_region else ""
    texts = {
        TOO_MANY_SCANS: f"此码已被查询 {code.scan_count} 次，首次查询于 {first}{where}，谨防假冒",
        IMPOSSIBLE_TRAVEL: "此码曾在短时间内于相距很远的两地被查询，疑似被复制，谨防假冒",
        AFTER_USE_BY: (
            f"此码对应的商品已于 {to_shanghai_iso(lot.use_by)[:10]} 过期，请勿购买，谨防假冒"
        ),
    }
    order = (TOO_MANY_SCANS, IMPOSSIBLE_TRAVEL, AFTER_USE_BY)
    return [{"code": reason, "message": texts[reason]} for reason in order if reason in reasons]


def _answer(session: Session, code: TraceCode, lot: Lot, reasons: set[str]) -> dict:
    seller_name, licence_number = session.execute(
        select(Seller.name, BrandLicence.number)
        .join(PrintRun, PrintRun.seller_id == Seller.id)
        .join(BrandLicence, BrandLicence.id == PrintRun.licence_id)
        .where(PrintRun.id == code.print_run_id)
    ).one()
    warnings = _warnings(code, lot, reasons)
    return {
        "code": code.code,
        "verdict": "SUSPICIOUS" if warnings else "GENUINE",
        "message": warnings[0]["message"] if warnings else "乳山牡蛎正品，可放心食用",
        "warnings": warnings,
        "seller": {"name": seller_name, "licence": licence_number},
        "scans": {
            "count": code.scan_count,
            "first_scanned_at": to_shanghai_iso(code.first_scanned_at),
            "first_region": code.first_region,
        },
        **chain_for_lot(session, lot.id),
    }
