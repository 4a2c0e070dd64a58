"""/console/settlement: wholesale prices per SKU and tier, and every seller's monthly statement
(download its CSV, mark it settled)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from backend.console.access import login_required
from backend.console.forms import load_form
from backend.console.pages import bp
from backend.csv_export import csv_download
from backend.errors import DomainError
from backend.extensions import db
from backend.settlement import prices
from backend.settlement import service as settlement
from backend.settlement.schemas import CompensationIn, PriceIn, SellerTierIn, TierIn
from backend.staff import permissions as perms


def _done(message: str, back: str):
    flash(message, "success")
    return redirect(back)


def _refused(failure: DomainError, back: str):
    db.session.rollback()
    flash(failure.message, "error")
    return redirect(back)


@bp.get("/settlement/prices")
@login_required(perms.SETTLEMENT)
def wholesale_prices(staff):
    table = prices.price_table(db.session)
    db.session.commit()  # the default tier, created at first need
    return render_template("console/wholesale_prices.html", table=table)


@bp.post("/settlement/prices")
@login_required(perms.SETTLEMENT)
def set_wholesale_price(staff):
    back = url_for(".wholesale_prices")
    try:
        values = load_form(PriceIn(), request.form.to_dict())
        prices.set_wholesale_price(db.session, **values, staff_id=staff.id)
    except DomainError as failure:
        return _refused(failure, back)
    return _done(f"已设置供货价 {values['price'] / 100:.2f} 元", back)


@bp.post("/settlement/tiers")
@login_required(perms.SETTLEMENT)
def create_tier(staff):
    back = url_for(".wholesale_prices")
    try:
        tier = prices.create_tier(db.session, **load_form(TierIn(), request.form.to_dict()))
    except DomainError as failure:
        return _refused(failure, back)
    return _done(f"已新增卖家等级 {tier.name}", back)


@bp.post("/settlement/seller-tier")
@login_required(perms.SETTLEMENT)
def set_seller_tier(staff):
    back = url_for(".wholesale_prices")
    try:
        seller_id = int(request.form.get("seller_id", "0") or 0)
        tier_id = load_form(SellerTierIn(), request.form.to_dict())["tier_id"]
        tier = prices.set_seller_tier(
            db.session, seller_id=seller_id, tier_id=tier_id, staff_id=staff.id
        )
    except ValueError:
        flash("卖家编号应为正整数", "error")
        return redirect(back)
    except DomainError as failure:
        return _refused(failure, back)
    return _done(f"卖家 #{seller_id} 已设为 {tier.name}", back)


@bp.get("/settlement/statements")
@login_required(perms.SETTLEMENT)
def statements(staff):
    month = request.args.get("month", "").strip() or settlement.current_month()
    try:
        items = settlement.all_statements(db.session, month=month)
    except DomainError as failure:
        flash(failure.message, "error")
        month, items = settlement.current_month(), []
        items = settlement.all_statements(db.session, month=month)
    return render_template("console/statements.html", month=month, items=items)


@bp.get("/settlement/statements/<int:seller_id>/<month>.csv")
@login_required(perms.SETTLEMENT)
def statement_csv(seller_id: int, month: str, staff):
    try:
        body = settlement.statement_csv(db.session, seller_id=seller_id, month=month)
    except DomainError as failure:
        return render_template("console/error.html", message=failure.message), failure.status
    return csv_download(body, f"statement-{seller_id}-{month}.csv")


@bp.post("/settlement/statements/<int:seller_id>/<month>/settle")
@login_required(perms.SETTLEMENT)
def settle_statement(seller_id: int, month: str, staff):
    back = url_for(".statements", month=month)
    try:
        done = settlement.settle_statement(
            db.session, seller_id=seller_id, month=month, staff_id=staff.id
        )
    except DomainError as failure:
        return _refused(failure, back)
    return _done(
        f"卖家 #{seller_id} {month} 结算单已标记结算：{done['amount_due'] / 100:.2f} 元", back
    )


@bp.post("/settlement/compensation")
@login_required(perms.SETTLEMENT)
def compensate(staff):
    back = url_for(".statements")
    try:
        order_id = int(request.form.get("platform_order_id", "0") or 0)
        values = load_form(CompensationIn(), request.form.to_dict())
        settlement.record_dead_on_arrival(
            db.session, platform_order_id=order_id, staff_id=staff.id, **values
        )
    except ValueError:
        flash("平台订单编号应为正整数", "error")
        return redirect(back)
    except DomainError as failure:
        return _refused(failure, back)
    return _done(f"已为平台订单 #{order_id} 记录死货补偿", back)
