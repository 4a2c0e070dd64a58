"""/seller/...: the seller's pages. Each parses, calls one workspace service with the logged-in
seller, and renders; another seller's object is the same 404 page as a missing one."""

from __future__ import annotations

from functools import lru_cache

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from backend.clients.platforms.base import OUR_STATUSES
from backend.csv_export import csv_download
from backend.errors import DomainError, NotFound
from backend.extensions import db
from backend.platforms.carriers import CARRIERS
from backend.platforms.service import PLATFORM_NAMES
from backend.schemas import number_in
from backend.sellerweb import bp
from backend.sellerweb.access import seller_required
from backend.settlement import service as settlement
from backend.workspace import service as workspace

STATUS_TEXT = {
    "UNPAID": "待付款",
    "PAID": "待发货",
    "SHIPPED": "已发货",
    "COMPLETED": "已完成",
    "CANCELLED": "已取消",
    "REFUNDING": "退款中",
    "REFUNDED": "已退款",
    workspace.TO_SHIP: "需我发货",
}
SHOP_STATUS_TEXT = {"ACTIVE": "正常", "AUTH_BROKEN": "授权已失效", "DISABLED": "已停用"}
LICENCE_STATE_TEXT = {"ACTIVE": "有效", "EXPIRED": "已到期", "SUSPENDED": "已暂停"}


@lru_cache(maxsize=4096)
def _url(script_root: str, endpoint: str, values: tuple) -> str:
    return url_for(endpoint, **dict(values))


def page_url(endpoint: str, **values) -> str:
    """url_for, remembered: a phone page links the same few dozen paths on every view, and
    building each one anew was a fifth of a page's time."""
    return _url(request.script_root, endpoint, tuple(sorted(values.items())))


def order_status_text(order) -> str:
    """An order's state as the seller sees it: one they shipped is shipped while the tracking
    number is still on its way to the platform."""
    if order.status == "PAID" and order.tracking_no:
        return "已发货 · 回传平台中"
    return STATUS_TEXT.get(order.status, order.status)


@bp.context_processor
def helpers() -> dict:
    return {
        "url_for": page_url,
        "seller": g.get("seller"),
        "status_text": STATUS_TEXT,
        "order_status_text": order_status_text,
        "shop_status_text": SHOP_STATUS_TEXT,
        "licence_state_text": LICENCE_STATE_TEXT,
        "platform_names": PLATFORM_NAMES,
        "carriers": CARRIERS,
    }


@bp.app_template_filter("yuan")
def yuan(fen: int | None) -> str:
    return "—" if fen is None else f"¥{fen / 100:,.2f}"


@bp.errorhandler(NotFound)
def not_found(_error):
    db.session.rollback()
    return render_template("sellerweb/message.html", message="页面或记录不存在"), 404


@bp.errorhandler(404)
def missing(_error):
    return render_template("sellerweb/message.html", message="页面或记录不存在"), 404


@bp.errorhandler(CSRFError)
def csrf_error(_error):
    return render_template("sellerweb/message.html", message="页面已失效，请返回刷新后重试"), 400


def _page() -> int:
    page = request.args.get("page", "1")
    return number_in(page, maximum=10000) or 1


@bp.get("/")
@bp.get("/today")
@seller_required
def today(seller):
    summary = workspace.today(db.session, seller_id=seller.id)
    recent = workspace.recent_orders(db.session, seller_id=seller.id)
    return render_template("sellerweb/today.html", summary=summary, recent=recent, tab="today")


@bp.get("/orders")
@seller_required
def orders(seller):
    status = request.args.get("status") or None
    if status not in (None, workspace.TO_SHIP, *OUR_STATUSES):
        status = None
    shop_id = request.args.get("shop", "")
    shop_id = number_in(shop_id)
    page = _page()
    rows, total = workspace.orders(
        db.session, seller_id=seller.id, status=status, shop_id=shop_id, page=page
    )
    return render_template(
        "sellerweb/orders.html",
        rows=rows,
        total=total,
        page=page,
        status=status,
        shop_id=shop_id,
        shops=workspace.shops(db.session, seller_id=seller.id),
        filters=[None, workspace.TO_SHIP, "PAID", "SHIPPED", "REFUNDING", "COMPLETED"],
        tab="orders",
    )


@bp.get("/orders/<int:order_id>")
@seller_required
def order(seller, order_id: int):
    found = workspace.order(db.session, seller_id=seller.id, order_id=order_id)
    return render_template("sellerweb/order.html", **found, tab="orders")


@bp.post("/orders/<int:order_id>/ship")
@seller_required
def ship(seller, order_id: int):
    try:
        workspace.ship(
            db.session,
            seller_id=seller.id,
            order_id=order_id,
            carrier=request.form.get("carrier", ""),
            tracking_no=request.form.get("tracking_no", ""),
        )
    except NotFound:
        raise
    except DomainError as refused:
        db.session.rollback()
        found = workspace.order(db.session, seller_id=seller.id, order_id=order_id)
        page = render_template(
            "sellerweb/order.html",
            **found,
            error=refused.message,
            form=request.form,
            tab="orders",
        )
        return page, refused.status
    flash("已发货，运单号将回传平台")
    return redirect(url_for(".order", order_id=order_id))


@bp.get("/notices")
@seller_required
def notices(seller):
    unread = request.args.get("unread") == "1"
    page = _page()
    rows, total = workspace.inbox(db.session, seller_id=seller.id, unread_only=unread, page=page)
    return render_template(
        "sellerweb/notices.html", rows=rows, total=total, page=page, unread=unread, tab="notices"
    )


@bp.get("/notices/<int:notice_id>")
@seller_required
def notice(seller, notice_id: int):
    found = workspace.read_notice(db.session, seller_id=seller.id, notice_id=notice_id)
    return render_template("sellerweb/notice.html", notice=found, tab="notices")


@bp.get("/broadcasts/<int:broadcast_id>")
@seller_required
def broadcast(seller, broadcast_id: int):
    found = workspace.read_broadcast(db.session, seller_id=seller.id, broadcast_id=broadcast_id)
    return render_template("sellerweb/notice.html", notice=found, tab="notices")


@bp.get("/shops")
@seller_required
def shops(seller):
    rows = workspace.shops(db.session, seller_id=seller.id)
    return render_template("sellerweb/shops.html", shops=rows, tab="shops")


@bp.get("/shops/<int:shop_id>")
@seller_required
def shop(seller, shop_id: int):
    found = workspace.shop(db.session, seller_id=seller.id, shop_id=shop_id)
    return render_template("sellerweb/shop.html", shop=found, tab="shops")


@bp.get("/licence")
@seller_required
def licence(seller):
    found = workspace.licence(db.session, seller_id=seller.id)
    return render_template("sellerweb/licence.html", found=found, tab="me")


@bp.post("/licence/renewal")
@seller_required
def request_renewal(seller):
    workspace.request_renewal(db.session, seller_id=seller.id)
    flash("续期申请已提交，联盟工作人员审核后会通知您")
    return redirect(url_for(".licence"))


@bp.get("/codes")
@seller_required
def codes(seller):
    runs = workspace.print_runs(db.session, seller_id=seller.id)
    return render_template(
        "sellerweb/codes.html", runs=runs, per_zip=workspace.LABELS_PER_ZIP, tab="me"
    )


@bp.get("/codes/<int:print_run_id>/labels.zip")
@seller_required
def labels(seller, print_run_id: int):
    offset = request.args.get("offset", "0")
    data = workspace.labels_zip(
        db.session,
        seller_id=seller.id,
        print_run_id=print_run_id,
        offset=number_in(offset) or 0,
    )
    name = f"print-run-{print_run_id}-labels.zip"
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


@bp.get("/statements")
@seller_required
def statements(seller):
    found = settlement.seller_statements(db.session, seller_id=seller.id)
    return render_template("sellerweb/statements.html", statements=found, tab="me")


@bp.get("/statements/<month>.csv")
@seller_required
def statement_csv(seller, month: str):
    body = settlement.statement_csv(db.session, seller_id=seller.id, month=month[:7])
    return csv_download(body, f"statement-{month[:7]}.csv")


@bp.get("/me")
@seller_required
def me(seller):
    return render_template("sellerweb/me.html", tab="me")
