"""/console/platform-orders: orders from outside platforms that wait for staff — a seller's
SKU code to map to ours, or too little stock — with the shops' pull state."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from backend.catalogue.models import Sku
from backend.console.access import login_required
from backend.console.pages import bp
from backend.errors import DomainError
from backend.extensions import db
from backend.platforms import service as platforms
from backend.platforms.models import STOCK_SHORT, STOCK_UNMAPPED, PlatformOrder, Shop
from backend.sellers import queries as seller_queries
from backend.staff import permissions as perms

ROWS_SHOWN = 200


@bp.get("/platform-orders")
@login_required(perms.PLATFORMS)
def platform_orders(staff):
    waiting = list(
        db.session.scalars(
            select(PlatformOrder)
            .where(PlatformOrder.stock_state.in_((STOCK_UNMAPPED, STOCK_SHORT)))
            .order_by(PlatformOrder.id)
            .limit(ROWS_SHOWN)
        )
    )
    shops = db.session.execute(
        select(Shop.platform, Shop.status, func.count(), func.min(Shop.synced_through))
        .group_by(Shop.platform, Shop.status)
        .order_by(Shop.platform, Shop.status)
    ).all()
    skus = db.session.execute(select(Sku.id, Sku.code).order_by(Sku.code)).all()
    return render_template(
        "console/platform_orders.html",
        waiting=waiting,
        shops=shops,
        skus=skus,
        names=platforms.PLATFORM_NAMES,
        seller_names=seller_queries.seller_names(db.session, {row.seller_id for row in waiting}),
    )


@bp.post("/platform-orders/mappings")
@login_required(perms.PLATFORMS)
def map_platform_sku(staff):
    try:
        result = platforms.map_sku(
            db.session,
            platform=request.form.get("platform", ""),
            code=request.form.get("code", "").strip()[:64],
            sku_id=int(request.form.get("sku_id") or 0),
            staff_id=staff.id,
        )
    except (DomainError, ValueError) as failure:
        db.session.rollback()
        flash(f"未能映射：{getattr(failure, 'message', '请选择联盟商品')}", "error")
        return redirect(url_for(".platform_orders"))
    flash(f"已映射，{result['orders_settled']} 笔订单已出库", "success")
    return redirect(url_for(".platform_orders"))


@bp.post("/platform-orders/<int:order_id>/retry-stock")
@login_required(perms.PLATFORMS)
def retry_platform_stock(order_id: int, staff):
    try:
        row = platforms.retry_stock(db.session, platform_order_id=order_id)
    except DomainError as failure:
        db.session.rollback()
        flash(f"未能重试：{failure.message}", "error")
        return redirect(url_for(".platform_orders"))
    state = "已出库" if row.stock_state == "SOLD" else "库存仍不足"
    flash(f"订单 {row.order_no}：{state}", "success" if row.stock_state == "SOLD" else "error")
    return redirect(url_for(".platform_orders"))
