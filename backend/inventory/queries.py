"""Read-only views of stock for the staff console: SKU codes, the ledger, lots due or expiring.

The lot list shows each lot's batch, so it lives in `backend.batches.queries`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from backend.catalogue.models import Product, Sku
from backend.inventory.models import KEPT, SELLABLE, Lot, StockMovement
from backend.inventory.service import _sellable
from backend.pagination import page_of
from backend.staff.models import Staff
from backend.timeutil import utcnow


@dataclass(frozen=True)
class LedgerRow:
    movement: StockMovement
    lot_code: str
    sku_code: str
    staff_name: str | None


def _count(session: Session, query: Select) -> int:
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def sku_codes(session: Session) -> dict[int, str]:
    """Every SKU's code by id, in catalogue order."""
    rows = session.execute(
        select(Sku.id, Sku.code)
        .join(Product, Product.id == Sku.product_id)
        .order_by(Product.sort_order, Product.id, Sku.sort_order, Sku.id)
    )
    return {sku_id: code for sku_id, code in rows}


def ledger(
    session: Session,
    *,
    sku_code: str | None = None,
    lot_code: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[LedgerRow], int]:
    """Stock movements matching the filters (times in UTC, until exclusive), newest first."""
    query = (
        select(StockMovement, Lot.code, Sku.code, Staff.display_name)
        .join(Lot, Lot.id == StockMovement.lot_id)
        .join(Sku, Sku.id == StockMovement.sku_id)
        .outerjoin(Staff, Staff.id == StockMovement.staff_id)
    )
    if sku_code:
        query = query.where(Sku.code == sku_code)
    if lot_code:
        query = query.where(Lot.code == lot_code)
    if kind:
        query = query.where(StockMovement.kind == kind)
    if since is not None:
        query = query.where(StockMovement.created_at >= since)
    if until is not None:
        query = query.where(StockMovement.created_at < until)
    total = _count(session, query)
    rows = session.execute(
        page_of(
            query.order_by(StockMovement.created_at.desc(), StockMovement.id.desc()),
            page,
            page_size,
        )
    ).tuples()
    items = [
        LedgerRow(movement=movement, lot_code=lot, sku_code=sku, staff_name=staff)
        for movement, lot, sku, staff in rows
    ]
    return items, total


def due_lot_ids(session: Session, *, limit: int = 500) -> list[int]:
    """Sellable (or kept) lots whose use-by has passed (their scheduled expiry may have been
    lost)."""
    return list(
        session.scalars(
            select(Lot.id)
            .where(Lot.status.in_((SELLABLE, KEPT)), Lot.use_by <= utcnow())
            .order_by(Lot.use_by)
            .limit(limit)
        )
    )


def expiring_within(session: Session, *, hours: int) -> list[Lot]:
    """Sellable lots with units left whose use-by falls within the next hours."""
    now = utcnow()
    return list(
        session.scalars(
            select(Lot)
            .where(_sellable(now), Lot.use_by <= now + timedelta(hours=hours), Lot.on_hand > 0)
            .order_by(Lot.use_by)
        )
    )


def ledger_mismatches(session: Session) -> list[dict]:
    """Lots whose on_hand or reserved differ from their ledger sums (should always be none)."""
    sums = (
        select(
            StockMovement.lot_id,
            func.sum(StockMovement.on_hand_delta).label("on_hand"),
            func.sum(StockMovement.reserved_delta).label("reserved"),
        )
        .group_by(StockMovement.lot_id)
        .subquery()
    )
    rows = session.execute(
        select(Lot.id, Lot.on_hand, Lot.reserved, sums.c.on_hand, sums.c.reserved).outerjoin(
            sums, sums.c.lot_id == Lot.id
        )
    ).all()
    return [
        {
            "lot_id": lot_id,
            "on_hand": on_hand,
            "reserved": reserved,
            "ledger_on_hand": int(l_on or 0),
            "ledger_reserved": int(l_res or 0),
        }
        for lot_id, on_hand, reserved, l_on, l_res in rows
        if on_hand != int(l_on or 0) or reserved != int(l_res or 0)
    ]
