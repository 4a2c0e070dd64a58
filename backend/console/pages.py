"""/console: the staff console's server-rendered pages (session login, forms with CSRF tokens)."""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import CSRFError

from backend.batches import queries as batch_queries
from backend.console.access import can, login_required, public_page, sign_in, sign_out
from backend.errors import BadRequest, DomainError, Forbidden
from backend.extensions import db
from backend.inventory import queries as stock_queries
from backend.inventory import service as inventory
from backend.inventory.models import EXPIRED, KEPT, KINDS, SELLABLE
from backend.staff import auth
from backend.staff import permissions as perms
from backend.staff.permissions import role_label
from backend.staff.throttle import LoginLocked
from backend.timeutil import SHANGHAI, to_naive_utc

bp = Blueprint("console", __name__, template_folder="templates")
# Our own copy of Apache ECharts and the script that draws the console's charts: staff machines
# reach no CDN. Served outside /console, since a library needs no login.
assets = Blueprint(
    "console_assets", __name__, static_folder="static", static_url_path="/assets/console"
)

SOON_HOURS = 24
FLAG_DAYS = 7
BATCHES_PER_PAGE = 20
LOTS_PER_PAGE = 50
LEDGER_PER_PAGE = 50
MAX_ADJUST = 100_000

BATCH_STATUSES = {"OPEN": "加工中", "REJECTED": "检验未通过", "PACKED": "已包装"}
LOT_STATUSES = {SELLABLE: "可售", KEPT: "认养收获专用", EXPIRED: "已过期"}
KIND_LABELS = {
    "RECEIVE": "包装入库",
    "RESERVE": "下单锁定",
    "RELEASE": "释放锁定",
    "COMMIT": "支付确认",
    "SHIP": "发货出库",
    "EXPIRE": "到期下架",
    "ADJUST": "盘点调整",
    "RETURN": "退货入库",
}


@bp.app_template_filter("shanghai_time")
def shanghai_time(value: datetime | None) -> str:
    """A stored UTC time as Asia/Shanghai wall-clock time."""
    if value is None:
        return "—"
    return value.replace(tzinfo=UTC).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


@bp.app_template_filter("kg")
def kilograms(grams: int | None) -> str:
    if grams is None:
        return "—"
    return f"{grams / 1000:,.3f}".rstrip("0").rstrip(".") + " kg"


@bp.app_template_filter("signed")
def signed(value: int) -> str:
    return f"{value:+d}" if value else "0"


@bp.context_processor
def page_helpers() -> dict:
    def page_url(page: int) -> str:
        args = {**request.args.to_dict(), "page": page}
        return url_for(request.endpoint, **(request.view_args or {}), **args)

    return {
        "page_url": page_url,
        "current_staff": g.get("staff"),
        "can": lambda permission: can(g.get("staff"), permission),
        "perms": perms,
        "role_label": role_label,
        "batch_statuses": BATCH_STATUSES,
        "lot_statuses": LOT_STATUSES,
        "kind_labels": KIND_LABELS,
    }


@bp.errorhandler(CSRFError)
def csrf_error(_error: CSRFError):
    return render_template("console/error.html", message="表单已失效，请刷新页面后重试"), 400


@bp.errorhandler(404)
def not_found(_error):
    return render_template("console/error.html", message="页面或记录不存在"), 404


@bp.errorhandler(413)
def too_large(_error):
    most = current_app.config["PHOTO_MAX_BYTES"] // (1024 * 1024)
    return render_template("console/error.html", message=f"上传的文件太大（最大 {most}MB）"), 413


@bp.errorhandler(Forbidden)
def forbidden(refused: Forbidden):
    """A page's own refusal (e.g. another host's room) as a page; JSON for the JSON routes."""
    db.session.rollback()
    if getattr(current_app.view_functions.get(request.endpoint), "answers_json", False):
        return refused.to_dict(), refused.status
    return render_template("console/error.html", message=refused.message), 403


def _safe_next(target: str | None, default: str) -> str:
    """Only paths inside the console, so a login link cannot send staff to another site."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/"):
        return default
    return target.rstrip("?")


def _page() -> int:
    try:
        return min(max(int(request.args.get("page", 1)), 1), 10_000)
    except ValueError:
        return 1


def _choice(name: str, allowed: Collection[str]) -> str | None:
    value = request.args.get(name, "").strip()
    return value if value in allowed else None


def _day_start_utc(day: date) -> datetime:
    """Midnight of a Shanghai calendar day, as the naive UTC time the database stores."""
    return to_naive_utc(datetime.combine(day, time.min, tzinfo=SHANGHAI))


def _date_arg(name: str, label: str, problems: list[str]) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems.append(f"{label}格式应为 年-月-日，例如 2025-01-31，已忽略")
        return None


def _pages(total: int, page_size: int) -> int:
    return max(1, math.ceil(total / page_size))


@bp.route("/login", methods=["GET", "POST"])
@public_page
def login():
    next_url = _safe_next(request.values.get("next"), url_for(".dashboard"))
    if request.method == "GET":
        return render_template("console/login.html", next_url=next_url, username="")
    username = request.form.get("username", "").strip()[:40]
    password = request.form.get("password", "")
    status, headers = 200, {}
    if not username or not password:
        error = "请输入用户名和密码"
    else:
        try:
            staff = auth.authenticate(
                db.session, username=username, password=password, ip=request.remote_addr or ""
            )
        except LoginLocked as locked:
            error, status = locked.message, locked.status
            headers = {"Retry-After": str(locked.retry_after)}
        except DomainError as failure:
            error = failure.message
        else:
            sign_in(staff)
            return redirect(next_url)
    page = render_template("console/login.html", next_url=next_url, username=username, error=error)
    return page, status, headers


@bp.post("/logout")
@public_page
def logout():
    sign_out()
    flash("已退出登录", "success")
    return redirect(url_for(".login"))


@bp.get("/batches")
@login_required(perms.STOCK_VIEW)
def batches(staff):
    status, page = _choice("status", BATCH_STATUSES), _page()
    rows, total = batch_queries.list_batches(
        db.session, status=status, page=page, page_size=BATCHES_PER_PAGE
    )
    return render_template(
        "console/batches.html",
        rows=rows,
        total=total,
        status=status,
        page=page,
        pages=_pages(total, BATCHES_PER_PAGE),
    )


@bp.get("/batches/<int:batch_id>")
@login_required(perms.STOCK_VIEW)
def batch_detail(batch_id: int, staff):
    detail = batch_queries.batch_detail(db.session, batch_id)
    if detail is None:
        abort(404)
    lots, _ = batch_queries.list_lots(
        db.session, batch_id=batch_id, soon_hours=SOON_HOURS, page_size=500
    )
    return render_template("console/batch_detail.html", detail=detail, lots=lots)


@bp.get("/lots")
@login_required(perms.STOCK_VIEW)
def lots(staff):
    sku_codes = stock_queries.sku_codes(db.session)
    sku, status, page = _choice("sku", sku_codes.values()), _choice("status", LOT_STATUSES), _page()
    rows, total = batch_queries.list_lots(
        db.session,
        sku_code=sku,
        status=status,
        soon_hours=SOON_HOURS,
        page=page,
        page_size=LOTS_PER_PAGE,
    )
    return render_template(
        "console/lots.html",
        rows=rows,
        total=total,
        sku=sku,
        status=status,
        sku_codes=sku_codes,
        soon_hours=SOON_HOURS,
        page=page,
        pages=_pages(total, LOTS_PER_PAGE),
    )


@bp.get("/ledger")
@login_required(perms.STOCK_VIEW)
def ledger(staff):
    sku_codes = stock_queries.sku_codes(db.session)
    problems: list[str] = []
    since = _date_arg("from", "开始日期", problems)
    until = _date_arg("to", "结束日期", problems)
    filters = {
        "sku": _choice("sku", sku_codes.values()),
        "lot": request.args.get("lot", "").strip()[:60] or None,
        "kind": _choice("kind", KINDS),
        "from": since,
        "to": until,
    }
    page = _page()
    rows, total = stock_queries.ledger(
        db.session,
        sku_code=filters["sku"],
        lot_code=filters["lot"],
        kind=filters["kind"],
        since=_day_start_utc(since) if since else None,
        until=_day_start_utc(until + timedelta(days=1)) if until else None,
        page=page,
        page_size=LEDGER_PER_PAGE,
    )
    return render_template(
        "console/ledger.html",
        rows=rows,
        total=total,
        filters=filters,
        problems=problems,
        sku_codes=sku_codes,
        kinds=KINDS,
        page=page,
        pages=_pages(total, LEDGER_PER_PAGE),
    )


def _adjust_delta(raw: str) -> int:
    """The form's 调整数量: a non-zero whole number within a stock-take's sensible range."""
    try:
        delta = int(raw.strip())
    except ValueError:
        raise BadRequest("调整数量必须是整数，例如 5 或 -3", code="DELTA_INVALID") from None
    if delta == 0:
        raise BadRequest("调整数量不能为 0", code="DELTA_ZERO")
    if abs(delta) > MAX_ADJUST:
        raise BadRequest(f"单次调整数量不能超过 {MAX_ADJUST}", code="DELTA_TOO_LARGE")
    return delta


@bp.post("/lots/<int:lot_id>/adjust")
@login_required(perms.STOCK_ADJUST)
def adjust_lot(lot_id: int, staff):
    back = _safe_next(request.form.get("next"), url_for(".lots"))
    reason = request.form.get("reason", "").strip()
    try:
        delta = _adjust_delta(request.form.get("delta", ""))
        if len(reason) > 120:
            raise BadRequest("调整原因不能超过 120 个字", code="REASON_TOO_LONG")
        lot = inventory.adjust(
            db.session, lot_id=lot_id, delta=delta, reason=reason, staff_id=staff.id
        )
    except DomainError as failure:
        db.session.rollback()
        flash(failure.message, "error")
        return redirect(back)
    flash(f"已调整 {lot.code}：{delta:+d}，现有库存 {lot.on_hand}", "success")
    return redirect(back)


from backend.console import (  # noqa: E402, F401  (views register on bp)
    adoption_harvest_pages,
    adoption_pages,
    aftersales_pages,
    brand_pages,
    catalogue_pages,
    fulfilment_pages,
    growth_pages,
    home_pages,
    live_pages,
    live_sections,
    notices_pages,
    onboarding_pages,
    ops_pages,
    platform_pages,
    reports_pages,
    seller_pages,
    settlement_pages,
    shipping_pages,
    staff_pages,
)
