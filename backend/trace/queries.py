"""Read-only views of codes and flags for staff."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.sellers.models import Seller
from backend.timeutil import to_shanghai_iso
from backend.trace.models import TraceCode, TraceFlag


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
        select(TraceFlag, Seller.name)
        .outerjoin(Seller, Seller.id == TraceFlag.seller_id)
        .where(*where)
        .order_by(TraceFlag.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
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


def codes_of_lot(session: Session, lot_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(TraceCode).where(TraceCode.lot_id == lot_id)
    )
