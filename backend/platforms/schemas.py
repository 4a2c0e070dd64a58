"""How a seller's platform shops and orders are shown (to the seller and to staff): times in
Asia/Shanghai, money in fen, tokens never."""

from backend.platforms.models import PlatformOrder, Shop
from backend.timeutil import to_shanghai_iso


def shop_view(shop: Shop) -> dict:
    return {
        "id": shop.id,
        "platform": shop.platform,
        "shop_key": shop.shop_key,
        "name": shop.name,
        "status": shop.status,
        "synced_through": to_shanghai_iso(shop.synced_through) if shop.synced_through else None,
        "last_error": shop.last_error,
    }


def order_view(row: PlatformOrder) -> dict:
    return {
        "id": row.id,
        "platform": row.platform,
        "order_no": row.order_no,
        "shop_id": row.shop_id,
        "status": row.status,
        "platform_status": row.platform_status,
        "placed_at": to_shanghai_iso(row.placed_at),
        "updated_at": to_shanghai_iso(row.platform_updated_at),
        "total": row.total,
        "shipping_fee": row.shipping_fee,
        "lines": row.lines,
        "receiver": row.receiver,
        "stock_state": row.stock_state,
        "carrier": row.carrier,
        "tracking_no": row.tracking_no,
        "written_back": row.shipped_back_at is not None,
    }
