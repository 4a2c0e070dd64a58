"""/console/: the home page — today's sales, the work waiting, shows of the day and the alerts
in plain Chinese, each linking to where it is fixed. Registers on the console blueprint."""

from __future__ import annotations

from datetime import timedelta

from flask import render_template, url_for

from backend.console.access import can, login_required
from backend.console.pages import FLAG_DAYS, SOON_HOURS, bp
from backend.extensions import db
from backend.inventory import queries as stock_queries
from backend.reports import service as reports
from backend.staff import permissions as perms
from backend.staff import service as staff_service
from backend.timeutil import utcnow
from backend.trace import queries as trace_queries

# Each alert kind: what staff call it, and the page where it is dealt with.
ALERTS = {
    "PLATFORM_SKU_UNMAPPED": ("平台商品未对应联盟规格", "console.platform_orders"),
    "PLATFORM_ORDER_SHORT": ("平台订单缺货", "console.platform_orders"),
    "PLATFORM_ORDER_LOT_EXPIRED": ("平台订单的批次到期", "console.platform_orders"),
    "PAID_ORDER_LOT_EXPIRED": ("已付款订单的批次到期", "console.fulfilment_desk"),
    "WAYBILL_FAILED": ("面单申请失败", "console.fulfilment_desk"),
    "PARCEL_STOPPED_AFTER_LABEL": ("已出面单的包裹须拦下", "console.fulfilment_desk"),
    "DELIVERY_TROUBLE": ("配送异常", "console.fulfilment_desk"),
    "WECHAT_SHIPPING_REFUSED": ("微信拒收发货信息", "console.fulfilment_desk"),
    "WECHAT_REMIND_SHIPPING": ("微信催促发货", "console.fulfilment_desk"),
    "LOTS_EXPIRING": ("库存批次即将到期", "console.lots"),
    "FLASH_SALE_LOT_EXPIRED": ("秒杀所用批次到期", "console.live_rooms"),
    "FLASH_SALE_UNBALANCED": ("秒杀库存对账不平", "console.live_rooms"),
    "LIVE_SUMMARY": ("直播总结", "console.live_rooms"),
    "WHOLESALE_PRICE_MISSING": ("供货价未设置", "console.wholesale_prices"),
}
# Who may open each of those pages.
PAGE_PERMISSIONS = {
    "console.platform_orders": perms.PLATFORMS,
    "console.fulfilment_desk": perms.ORDERS_FULFIL,
    "console.lots": perms.STOCK_VIEW,
    "console.live_rooms": perms.LIVE_HOST,
    "console.wholesale_prices": perms.SETTLEMENT,
}
DETAILS = {
    "codes": "平台商品编码",
    "sku_codes": "规格编码",
    "order_no": "平台订单号",
    "units": "份数",
}


def _alert(alert, staff) -> dict:
    label, endpoint = ALERTS.get(alert.kind, ("提醒", None))
    details = alert.details or {}
    shown = [
        f"{name}：{'、'.join(map(str, value)) if isinstance(value, list) else value}"
        for key, name in DETAILS.items()
        if (value := details.get(key)) not in (None, "", [])
    ]
    link = None
    if alert.kind == "LIVE_SUMMARY" and details.get("room_id"):
        link = url_for("console.live_room", room_id=details["room_id"])
    elif endpoint:
        link = url_for(endpoint)
    return {
        "at": alert.created_at,
        "label": label,
        "title": alert.title,
        "details": "；".join(shown),
        "link": link
        if link and can(staff, PAGE_PERMISSIONS.get(endpoint, perms.CONSOLE))
        else None,
    }


@bp.get("/")
@login_required(perms.CONSOLE)
def dashboard(staff):
    figures = reports.home(db.session)
    trend = figures["trend"] if can(staff, perms.REPORTS_VIEW) else None
    return render_template(
        "console/dashboard.html",
        home=figures,
        trend=trend,
        sales_days=reports.SALES_DAYS,
        alerts=[
            _alert(alert, staff) for alert in staff_service.recent_alerts(db.session, limit=20)
        ],
        expiring=stock_queries.expiring_within(db.session, hours=SOON_HOURS),
        sku_codes=stock_queries.sku_codes(db.session),
        soon_hours=SOON_HOURS,
        recent_flags=trace_queries.flags_since(db.session, utcnow() - timedelta(days=FLAG_DAYS)),
        flag_days=FLAG_DAYS,
    )
