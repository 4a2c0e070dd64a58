"""How an after-sale case is shown to consumers and staff."""

from backend.aftersales.models import AfterSale
from backend.timeutil import to_shanghai_iso


def render_after_sale(case: AfterSale) -> dict:
    return {
        "id": case.id,
        "order_id": case.order_id,
        "type": case.type,
        "reason": case.reason,
        "photos": case.photos,
        "dead_count": case.dead_count,
        "refund_amount": case.refund_amount,
        "status": case.status,
        "staff_note": case.staff_note,
        "created_at": to_shanghai_iso(case.created_at),
    }
