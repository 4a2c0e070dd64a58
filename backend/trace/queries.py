"""Read-only views of codes and flags for staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.catalogue.models import Product, Sku
from backend.inventory.models import KEPT, SELLABLE, Lot
from backend.pagination import page_of
from backend.sellers.models import BrandLicence, Seller
from backend.staff.models import Staff
from backend.timeutil import to_shanghai_iso, utcnow
from backend.trace.models import PrintRun, TraceCode, TraceFlag, TraceReport


def code_exists(session: Session, code: str) -> bool:
    return session.scalar(select(TraceCode.id).where(TraceCode.code == code)) is not None


def existing_codes(session: Session, candidates: list[str]) -> set[str]:
    """Which of these codes were issued (for checking guesses in bulk)."""
    return set(session.scalars(select(TraceCode.code).where(TraceCode.code.in_(candidates))))


def flags(
    session: Session,
    *,
    reason: str | None,
    seller_id: int | None,
    region: str | None,
    page: int,
    page_size: int,
) -> tuple[list[dict], int]:
    """Flagged codes, newest first, with the seller they were issued to."""
    where = []
    if reason:
        where.append(TraceFlag.reason == reason)
    if seller_id:
        where.append(TraceFlag.seller_id == seller_id)
    if region:
        where.append(TraceFlag.region == region)
    total = session.scalar(select(func.count()).select_from(TraceFlag).where(*where))
    rows = session.execute(
        page_of(
            select(TraceFlag, Seller.name)
            .outerjoin(Seller, Seller.id == TraceFlag.seller_id)
            .where(*where)
            .order_by(TraceFlag.id.desc()),
            page,
            page_size,
        )
    )
    items = [
        {
            "code": flag.raw_code,
            "reason": flag.reason,
            "message": flag.message,
            "seller_id": flag.seller_id,
            "seller": seller_name,
            "region": flag.region,
            "latitude": flag.latitude,
            "longitude": flag.longitude,
            "created_at": to_shanghai_iso(flag.created_at),
        }
        for flag, seller_name in rows
    ]
    return items, total


def flag_counts(session: Session, *, by: str) -> list[dict]:
    """How many flags per seller or per region, most first."""
    if by == "seller":
        rows = session.execute(
            select(TraceFlag.seller_id, Seller.name, func.count())
            .join(Seller, Seller.id == TraceFlag.seller_id)
            .group_by(TraceFlag.seller_id, Seller.name)
            .order_by(func.count().desc())
            .limit(50)
        )
        return [{"seller_id": sid, "seller": name, "flags": n} for sid, name, n in rows]
    rows = session.execute(
        select(TraceFlag.region, func.count())
        .group_by(TraceFlag.region)
        .order_by(func.count().desc())
        .limit(50)
    )
    return [{"region": region or "未知", "flags": n} for region, n in rows]


@dataclass(frozen=True)
class PrintRunRow:
    run: PrintRun
    seller_name: str
    lot_code: str
    sku_code: str
    staff_name: str | None


def list_print_runs(
    session: Session, *, page: int = 1, page_size: int = 20
) -> tuple[list[PrintRunRow], int]:
    """Print runs, newest first, with seller, lot, SKU and the staff who issued them."""
    total = session.scalar(select(func.count()).select_from(PrintRun)) or 0
    rows = session.execute(
        page_of(
            select(PrintRun, Seller.name, Lot.code, Sku.code, Staff.display_name)
            .join(Seller, Seller.id == PrintRun.seller_id)
            .join(Lot, Lot.id == PrintRun.lot_id)
            .join(Sku, Sku.id == Lot.sku_id)
            .outerjoin(Staff, Staff.id == PrintRun.created_by)
            .order_by(PrintRun.id.desc()),
            page,
            page_size,
        )
    ).tuples()
    return [PrintRunRow(*row) for row in rows], total


@dataclass(frozen=True)
class PrintableLot:
    lot: Lot
    sku_code: str
    issued: int

    @property
    def codes_left(self) -> int:
        return max(self.lot.received - self.issued, 0)


def printable_lots(session: Session, *, limit: int = 500) -> list[PrintableLot]:
    """Sellable (or kept for an adopter) lots not yet past use-by, first to expire first, with
    the codes already issued."""
    issued = (
        select(PrintRun.lot_id, func.sum(PrintRun.quantity).label("issued"))
        .group_by(PrintRun.lot_id)
        .subquery()
    )
    rows = session.execute(
        select(Lot, Sku.code, func.coalesce(issued.c.issued, 0))
        .join(Sku, Sku.id == Lot.sku_id)
        .outerjoin(issued, issued.c.lot_id == Lot.id)
        .where(Lot.status.in_((SELLABLE, KEPT)), Lot.use_by > utcnow())
        .order_by(Lot.use_by, Lot.id)
        .limit(limit)
    ).tuples()
    return [PrintableLot(lot=lot, sku_code=code, issued=n) for lot, code, n in rows]


@dataclass(frozen=True)
class PrintRunDetail:
    run: PrintRun
    seller_name: str
    licence_number: str
    lot: Lot
    sku_code: str
    sku_spec: str
    product_name: str
    staff_name: str | None
    scanned: int
    flagged: int


def print_run_detail(session: Session, print_run_id: int) -> PrintRunDetail | None:
    """One print run with what it was issued for and how many of its codes were scanned."""
    row = session.execute(
        select(PrintRun, Seller.name, BrandLicence.number, Lot, Sku.code, Sku.spec, Product.name)
        .join(Seller, Seller.id == PrintRun.seller_id)
        .join(BrandLicence, BrandLicence.id == PrintRun.licence_id)
        .join(Lot, Lot.id == PrintRun.lot_id)
        .join(Sku, Sku.id == Lot.sku_id)
        .join(Product, Product.id == Sku.product_id)
        .where(PrintRun.id == print_run_id)
    ).first()
    if row is None:
        return None
    run, seller_name, number, lot, sku_code, sku_spec, product_name = row
    staff_name = (
        session.scalar(select(Staff.display_name).where(Staff.id == run.created_by))
        if run.created_by
        else None
    )
    scanned, flagged = session.execute(
        select(
            func.count().filter(TraceCode.scan_count > 0),
            func.count().filter(TraceCode.flagged.is_(True)),
        ).where(TraceCode.print_run_id == print_run_id)
    ).one()
    return PrintRunDetail(
        run=run,
        seller_name=seller_name,
        licence_number=number,
        lot=lot,
        sku_code=sku_code,
        sku_spec=sku_spec,
        product_name=product_name,
        staff_name=staff_name,
        scanned=scanned,
        flagged=flagged,
    )


def flag_reasons_by_code(session: Session, code_ids: list[int]) -> dict[int, list[str]]:
    """The reasons each of these codes was flagged for."""
    found: dict[int, list[str]] = {}
    if not code_ids:
        return found
    rows = session.execute(
        select(TraceFlag.code_id, TraceFlag.reason)
        .where(TraceFlag.code_id.in_(code_ids))
        .order_by(TraceFlag.id)
    )
    for code_id, reason in rows:
        found.setdefault(code_id, []).append(reason)
    return found


def flag_points(
    session: Session,
    *,
    reason: str | None = None,
    seller_id: int | None = None,
    region: str | None = None,
    limit: int = 1000,
) -> list[dict]:
    """Flags that carry a location (same filters as `flags`), newest first, for a map."""
    where = [TraceFlag.latitude.is_not(None), TraceFlag.longitude.is_not(None)]
    if reason:
        where.append(TraceFlag.reason == reason)
    if seller_id:
        where.append(TraceFlag.seller_id == seller_id)
    if region:
        where.append(TraceFlag.region == region)
    rows = session.execute(
        select(
            TraceFlag.raw_code,
            TraceFlag.reason,
            TraceFlag.region,
            TraceFlag.latitude,
            TraceFlag.longitude,
        )
        .where(*where)
        .order_by(TraceFlag.id.desc())
        .limit(limit)
    )
    return [
        {"code": code, "reason": why, "region": place, "latitude": lat, "longitude": lon}
        for code, why, place, lat, lon in rows
    ]


def flags_since(session: Session, since: datetime) -> int:
    """How many flags were raised since a (UTC) time."""
    return (
        session.scalar(
            select(func.count()).select_from(TraceFlag).where(TraceFlag.created_at >= since)
        )
        or 0
    )


def recent_reports(session: Session, *, limit: int = 20) -> list[dict]:
    """Buyers' latest reports of fakes, newest first, with the seller a known code went to."""
    rows = session.execute(
        select(TraceReport, Seller.id, Seller.name)
        .outerjoin(TraceCode, TraceCode.id == TraceReport.code_id)
        .outerjoin(Seller, Seller.id == TraceCode.seller_id)
        .order_by(TraceReport.id.desc())
        .limit(limit)
    )
    return [
        {
            "code": report.raw_code,
            "issued": report.code_id is not None,
            "place": report.place,
            "note": report.note,
            "seller_id": seller_id,
            "seller": seller_name,
            "created_at": to_shanghai_iso(report.created_at),
        }
        for report, seller_id, seller_name in rows
    ]
