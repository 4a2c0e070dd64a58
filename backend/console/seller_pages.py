"""/console/sellers: the directory of the alliance's sellers (search by name, phone, town,
cooperative, licence, platform, WeChat) and a seller's page, where staff issue and revoke the
seller's API tokens and Official Account bind codes. The views register on the console blueprint
of `pages.py`."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup, escape

from backend.console.access import can, login_required
from backend.console.forms import load_form
from backend.console.pages import _page, _pages, bp
from backend.console.platforms_api import TokenIn
from backend.errors import DomainError, NotFound
from backend.extensions import db
from backend.flows import seller_directory as directory
from backend.platforms.service import PLATFORM_NAMES
from backend.sellers import service as sellers
from backend.staff import permissions as perms
from backend.timeutil import utcnow

SELLERS_PER_PAGE = 50
ORDER_STATUSES = {
    "UNPAID": "待付款",
    "PAID": "待发货",
    "SHIPPED": "已发货",
    "COMPLETED": "已完成",
    "CANCELLED": "已取消",
    "REFUNDING": "退款中",
    "REFUNDED": "已退款",
}
SHOP_STATUSES = {"ACTIVE": "正常", "AUTH_BROKEN": "授权失效", "DISABLED": "已停用"}
DELIVERY_STATES = {
    "PENDING": "待发送",
    "SENDING": "发送中",
    "SENT": "已发出",
    "DELIVERED": "已送达",
    "FAILED": "发送失败",
    "SKIPPED": "未发送",
}
APPLICATION_STATUSES = {"PENDING": "待审核", "APPROVED": "已通过", "REJECTED": "已拒绝"}


@bp.app_template_global("seller_link")
def seller_link(seller_id: int | None, name: str | None = None, *, number: bool = True) -> Markup:
    """A seller as every console page shows one: the name, linking to the seller's page (for
    staff who may open it), and the number staff type into forms."""
    if not seller_id:
        return Markup('<span class="muted">—</span>')
    shown = escape(name or f"卖家 #{seller_id}")
    if can(g.get("staff"), perms.SELLERS_VIEW):
        href = url_for("console.seller_detail", seller_id=seller_id)
        title = f"卖家编号 {seller_id}"
        shown = Markup(f'<a class="seller-link" href="{href}" title="{title}">{shown}</a>')
    if number and name:
        shown += Markup(f' <span class="muted">#{seller_id}</span>')
    return shown


def _directory_filter(choices: dict[str, list[str]]) -> tuple[directory.SellerFilter, list[str]]:
    """The search form's values; a value outside its list is ignored, and said so."""
    problems = []
    text = request.args.get("q", "").strip()
    if len(text) > directory.SEARCH_LONGEST:
        problems.append(f"搜索词最多 {directory.SEARCH_LONGEST} 个字，已截取前面部分")
        text = text[: directory.SEARCH_LONGEST]

    def pick(name: str, allowed, label: str) -> str | None:
        value = request.args.get(name, "").strip()
        if value and value not in allowed:
            problems.append(f"没有这个{label}，已忽略该条件")
            return None
        return value or None

    wanted = directory.SellerFilter(
        text=text,
        town=pick("town", choices["towns"], "乡镇"),
        cooperative=pick("cooperative", choices["cooperatives"], "合作社"),
        licence=pick("licence", directory.LICENCE_STATES, "授权状态"),
        platform=pick("platform", PLATFORM_NAMES, "平台"),
        wechat=pick("wechat", directory.WECHAT_STATES, "微信绑定状态"),
    )
    return wanted, problems


@bp.get("/sellers")
@login_required(perms.SELLERS_VIEW)
def seller_directory(staff):
    choices = directory.choices(db.session)
    wanted, problems = _directory_filter(choices)
    page = _page()
    rows, total = directory.search(db.session, wanted, page=page, page_size=SELLERS_PER_PAGE)
    for problem in problems:
        flash(problem, "warning")
    return render_template(
        "console/sellers.html",
        rows=rows,
        total=total,
        page=page,
        pages=_pages(total, SELLERS_PER_PAGE),
        wanted=wanted,
        choices=choices,
        licence_states=directory.LICENCE_STATES,
        wechat_states=directory.WECHAT_STATES,
        platform_names=PLATFORM_NAMES,
    )


def _seller_page(seller_id: int, *, issued: dict | None = None, status: int = 200):
    try:
        seller = directory.profile(db.session, seller_id)
    except NotFound:
        return render_template("console/error.html", message="卖家不存在（可能编号有误）"), 404
    page = render_template(
        "console/seller_detail.html",
        profile=seller,
        issued=issued,
        now=utcnow(),
        licence_states=directory.LICENCE_STATES,
        wechat_states=directory.WECHAT_STATES,
        platform_names=PLATFORM_NAMES,
        order_statuses=ORDER_STATUSES,
        shop_statuses=SHOP_STATUSES,
        delivery_states=DELIVERY_STATES,
        application_statuses=APPLICATION_STATUSES,
        token_days=current_app.config["SELLER_TOKEN_DAYS"],
    )
    # a page that shows a new token or code once is never kept by a browser or a proxy
    return page, status, {"Cache-Control": "no-store"} if issued else {}


@bp.get("/sellers/<int:seller_id>")
@login_required(perms.SELLERS_VIEW)
def seller_detail(seller_id: int, staff):
    return _seller_page(seller_id)


def _back(seller_id: int):
    return redirect(url_for(".seller_detail", seller_id=seller_id))


@bp.post("/sellers/<int:seller_id>/api-tokens")
@login_required(perms.SELLER_TOKENS)
def issue_seller_api_token(seller_id: int, staff):
    try:
        values = load_form(TokenIn(), request.form.to_dict())
        token, row = sellers.issue_api_token(
            db.session,
            seller_id=seller_id,
            days=values["days"] or current_app.config["SELLER_TOKEN_DAYS"],
            name=values["name"],
            staff=staff,
        )
    except NotFound:
        db.session.rollback()
        return _seller_page(seller_id)
    except DomainError as refused:
        db.session.rollback()
        flash(refused.message, "error")
        return _back(seller_id)
    # shown in this answer only: never in a flash (the session cookie) nor stored
    flash(f"已签发 API token #{row.id}，请立即复制交给卖家，离开本页后无法再次查看", "success")
    return _seller_page(seller_id, issued={"kind": "token", "value": token, "id": row.id})


@bp.post("/sellers/<int:seller_id>/api-tokens/<int:token_id>/revoke")
@login_required(perms.SELLER_TOKENS)
def revoke_seller_api_token(seller_id: int, token_id: int, staff):
    try:
        row = sellers.revoke_api_token(
            db.session, seller_id=seller_id, token_id=token_id, staff=staff
        )
    except DomainError as refused:
        db.session.rollback()
        flash(refused.message, "error")
        return _back(seller_id)
    flash(f"已吊销 API token #{row.id}，使用它的系统将立即无法访问", "success")
    return _back(seller_id)


@bp.post("/sellers/<int:seller_id>/oa-bind-code")
@login_required(perms.SELLER_BIND)
def issue_seller_bind_code(seller_id: int, staff):
    try:
        code = sellers.issue_oa_bind_code(db.session, seller_id=seller_id, staff=staff)
    except NotFound:
        db.session.rollback()
        return _seller_page(seller_id)
    minutes = code["expires_in"] // 60
    flash(f"已签发公众号绑定码，{minutes} 分钟内有效，请卖家发送给联盟公众号", "success")
    return _seller_page(seller_id, issued={"kind": "bind_code", "value": code["code"]})
