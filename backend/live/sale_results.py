"""How a flash sale went, for the host: while it runs and, once it ended, kept on the control room
(read from the claims and orders, so it stays true as late buyers pay or let their claim lapse)."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from backend.live import flash_sales
from backend.live.models import ENDED, FlashClaim, FlashSale
from backend.orders.models import Order
from backend.timeutil import to_shanghai_iso


def sale_result(session: Session, *, sale_id: int) -> dict:
    """The sale's figures: units sold (paid, or won and still to pay), won claims, units paid
    and their amount, units of claims left unpaid that were released, units back in stock."""
    view = flash_sales.sale_view(session, sale_id=sale_id)
    sale = session.get(FlashSale, sale_id)
    mine = FlashClaim.flash_sale_id == sale_id
    claims = session.scalar(
        select(func.count()).select_from(FlashClaim).where(mine, FlashClaim.order_id.is_not(None))
    )
    unpaid, to_stock = session.execute(
        select(
            func.coalesce(func.sum(FlashClaim.quantity), 0),
            func.coalesce(
                func.sum(case((FlashClaim.returned_to == "stock", FlashClaim.quantity), else_=0)),
                0,
            ),
        ).where(mine, FlashClaim.returned_to.is_not(None))
    ).one()
    paid_orders, paid_amount = session.execute(
        select(func.count(), func.coalesce(func.sum(Order.total), 0))
        .join(FlashClaim, FlashClaim.order_id == Order.id)
        .where(mine, Order.paid_at.is_not(None))
    ).one()
    return {
        **view,
        "sold": view["paid"] + view["held"],
        "claims": claims,
        "paid_orders": paid_orders,
        "paid_amount": int(paid_amount),  # fen
        "unpaid_released": int(unpaid),
        "returned_to_stock": sale.released_units + int(to_stock) if sale.status == ENDED else 0,
        "ended_at": to_shanghai_iso(sale.ended_at),
    }


def last_result(session: Session, *, room_id: int) -> dict | None:
    """The result of the room's most recently ended sale, if any."""
    sale_id = session.scalar(
        select(FlashSale.id)
        .where(FlashSale.room_id == room_id, FlashSale.status == ENDED)
        .order_by(FlashSale.ended_at.desc(), FlashSale.id.desc())
        .limit(1)
    )
    return None if sale_id is None else sale_result(session, sale_id=sale_id)
