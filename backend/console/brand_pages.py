"""/console pages for the regional brand: licences, code print runs and flagged codes.

The views register on the console blueprint of `pages.py`, so they share its login, CSRF
handling, filters and pagination."""

from __future__ import annotations

from datetime import date, timedelta

from flask import abort, flash, redirect, render_template, request, url_for

from backend.console.brand_api import LABELS_PER_ZIP
from backend.console.pages import _choice, _page, _pages, _safe_next, bp, login_required
from backend.errors import BadRequest, DomainError
from backend.extensions import db
from backend.sellers import queries as seller_queries
from backend.sellers import service as sellers
from backend.sellers.models import ACTIVE, EXPIRED, SUSPENDED
from backend.trace import queries as trace_queries
from backend.trace import service as trace

LICENCES_PER_PAGE = 50
PRINT_RUNS_PER_PAGE = 20
FLAGS_PER_PAGE = 50
CODES_SHOWN = 100
MAX_ID = 2**31 - 1  # ids beyond a 32-bit integer cannot exist, and would overflow SQLite
MAX_NOTE = 200
DEFAULT_TERM_DAYS = 365

LICENCE_STATES = {ACTIVE: "有效", SUSPENDED: "已暂停", EXPIRED: "已到期"}
LICENCE_FILTERS = {
    ACTIVE: "有效",
    seller_queries.EXPIRING: f"{seller_queries.EXPIRING_DAYS} 天内到期",
    SUSPENDED: "已暂停",
    EXPIRED: "已到期",
}
REASON_LABELS = {
    trace.TOO_MANY_SCANS: "查询次数过多",
    trace.IMPOSSIBLE_TRAVEL: "异地同时查询",
    trace.AFTER_USE_BY: "过期后查询",
    trace.NOT_OURS: "非联盟码",
}

# The map: an equirectangular box over China, MAP_SCALE pixels per degree.
MAP_WEST, MAP_EAST, MAP_SOUTH, MAP_NORTH = 73, 135, 18, 54
MAP_SCALE = 10
MAP_CITIES = {
    "北京": (39.90, 116.40),
    "上海": (31.23, 121.47),
    "广州": (23.13, 113.26),
    "成都": (30.67, 104.07),
    "乌鲁木齐": (43.83, 87.62),
    "哈尔滨": (45.75, 126.65),
    "乳山": (36.92, 121.54),
}


# --- form input -------------------------------------------------------------------------------


def _form_int(name: str, label: str, *, high: int = MAX_ID, missing: str = "") -> int:
    raw = request.form.get(name, "").strip()
    if not raw:
        raise BadRequest(missing or f"请填写{label}", code="FIELD_MISSING")
    if not (raw.isascii() and raw.removeprefix("-").isdigit()):
        raise BadRequest(f"{label}必须是整数", code="FIELD_INVALID")
    value = int(raw) if len(raw) <= 12 else high + 1
    if not 1 <= value <= high:
        raise BadRequest(f"{label}需在 1 到 {high} 之间", code="FIELD_OUT_OF_RANGE")
    return value


def _form_date(name: str, label: str) -> date:
    raw = request.form.get(name, "").strip()
    if not raw:
        raise BadRequest(f"请填写{label}", code="FIELD_MISSING")
    try:
        return date.fromisoformat(raw[:20])
    except ValueError:
        raise BadRequest(
            f"{label}格式应为 年-月-日，例如 2025-01-31", code="DATE_INVALID"
        ) from None


def _form_note() -> str:
    note = request.form.get("note", "").strip()
    if len(note) > MAX_NOTE:
        raise BadRequest(f"备注不能超过 {MAX_NOTE} 个字", code="NOTE_TOO_LONG")
    return note


def _checked_products() -> list[int]:
    checked = request.form.getlist("product_ids")
    if not checked:
        raise BadRequest("请至少勾选一个授权商品", code="EMPTY_SCOPE")
    if not all(value.isascii() and value.isdigit() and len(value) <= 9 for value in checked):
        raise BadRequest("授权商品选择有误，请刷新页面后重试", code="SCOPE_INVALID")
    return [int(value) for value in checked[:100]]


def _arg_int(name: str, label: str, problems: list[str]) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and 1 <= int(raw) <= MAX_ID:
        return int(raw)
    problems.append(f"{label}应为正整数，已忽略")
    return None


def _refused(failure: DomainError, back: str):
    """A refused form: nothing is kept, the reason is shown in Chinese on the page."""
    db.session.rollback()
    message = failure.message
    if failure.code == "PRINT_RUN_EXCEEDS_LOT":
        packs, issued = failure.details["lot_packs"], failure.details["already_issued"]
        message += f"（该批次共 {packs} 份，已发放 {issued} 个，最多还可印制 {packs - issued} 个）"
    flash(message, "error")
    return redirect(back)


# --- licences ---------------------------------------------------------------------------------


@bp.get("/licences")
@login_required
def licences(staff):
    day = sellers.today()
    state, page = _choice("status", LICENCE_FILTERS), _page()
    search = request.args.get("q", "").strip()[:60] or None
    rows, total = seller_queries.list_licences(
        db.session, day=day, state=state, search=search, page=page, page_size=LICENCES_PER_PAGE
    )
    return render_template(
        "console/licences.html",
        rows=rows,
        total=total,
        state=state,
        search=search,
        day=day,
        default_until=day + timedelta(days=DEFAULT_TERM_DAYS - 1),
        products=seller_queries.scope_products(db.session),
        licence_states=LICENCE_STATES,
        licence_filters=LICENCE_FILTERS,
        expiring_days=seller_queries.EXPIRING_DAYS,
        page=page,
        pages=_pages(total, LICENCES_PER_PAGE),
    )


@bp.post("/licences")
@login_required
def grant_licence(staff):
    back = _safe_next(request.form.get("next"), url_for(".licences"))
    try:
        seller_id = _form_int("seller_id", "卖家编号")
        product_ids = _checked_products()
        valid_from = _form_date("valid_from", "开始日期")
        valid_until = _form_date("valid_until", "截止日期")
        licence = sellers.grant_licence(
            db.session,
            seller_id=seller_id,
            product_ids=product_ids,
            valid_from=valid_from,
            valid_until=valid_until,
            staff_id=staff.id,
            note=_form_note(),
        )
    except DomainError as failure:
        return _refused(failure, back)
    flash(f"已为 {licence.seller.name} 授予品牌授权 {licence.number}", "success")
    return redirect(url_for(".licences", q=licence.number))


@bp.post("/licences/<int:licence_id>/renew")
@login_required
def renew_licence(licence_id: int, staff):
    back = _safe_next(request.form.get("next"), url_for(".licences"))
    try:
        valid_until = _form_date("valid_until", "新截止日期")
        licence = sellers.renew_licence(db.session, licence_id=licence_id, valid_until=valid_until)
    except DomainError as failure:
        return _refused(failure, back)
    flash(f"已将授权 {licence.number} 续期至 {licence.valid_until:%Y-%m-%d}", "success")
    return redirect(back)


def _suspension(licence_id: int, *, suspended: bool):
    back = _safe_next(request.form.get("next"), url_for(".licences"))
    try:
        licence = sellers.set_suspended(
            db.session, licence_id=licence_id, suspended=suspended, note=_form_note()
        )
    except DomainError as failure:
        return _refused(failure, back)
    done = "已暂停" if suspended else "已恢复"
    state = LICENCE_STATES.get(licence.status, licence.status)
    flash(f"{done}授权 {licence.number}，当前状态：{state}", "success")
    return redirect(back)


@bp.post("/licences/<int:licence_id>/suspend")
@login_required
def suspend_licence(licence_id: int, staff):
    return _suspension(licence_id, suspended=True)


@bp.post("/licences/<int:licence_id>/resume")
@login_required
def resume_licence(licence_id: int, staff):
    return _suspension(licence_id, suspended=False)


# --- print runs -------------------------------------------------------------------------------


@bp.get("/print-runs")
@login_required
def print_runs(staff):
    page = _page()
    rows, total = trace_queries.list_print_runs(
        db.session, page=page, page_size=PRINT_RUNS_PER_PAGE
    )
    return render_template(
        "console/print_runs.html",
        rows=rows,
        total=total,
        lots=trace_queries.printable_lots(db.session),
        max_print_run=trace.MAX_PRINT_RUN,
        labels_per_zip=LABELS_PER_ZIP,
        page=page,
        pages=_pages(total, PRINT_RUNS_PER_PAGE),
    )


@bp.post("/print-runs")
@login_required
def create_print_run(staff):
    back = url_for(".print_runs")
    try:
        seller_id = _form_int("seller_id", "卖家编号")
        lot_id = _form_int("lot_id", "库存批次", missing="请选择库存批次")
        quantity = _form_int("quantity", "印制数量", high=trace.MAX_PRINT_RUN)
        run = trace.create_print_run(
            db.session, seller_id=seller_id, lot_id=lot_id, quantity=quantity, staff_id=staff.id
        )
    except DomainError as failure:
        return _refused(failure, back)
    flash(f"已生成印制批次 #{run.id}：{run.quantity} 个防伪码", "success")
    return redirect(url_for(".print_run_detail", print_run_id=run.id))


@bp.get("/print-runs/<int:print_run_id>")
@login_required
def print_run_detail(print_run_id: int, staff):
    detail = trace_queries.print_run_detail(db.session, print_run_id)
    if detail is None:
        abort(404)
    codes = trace.print_run_codes(db.session, print_run_id=print_run_id, limit=CODES_SHOWN)
    return render_template(
        "console/print_run_detail.html",
        detail=detail,
        codes=codes,
        reasons=trace_queries.flag_reasons_by_code(db.session, [code.id for code in codes]),
        reason_labels=REASON_LABELS,
        labels_per_zip=LABELS_PER_ZIP,
        codes_shown=CODES_SHOWN,
    )


# --- flagged codes ----------------------------------------------------------------------------


def _map_xy(latitude: float, longitude: float) -> tuple[float, float]:
    return (
        round((longitude - MAP_WEST) * MAP_SCALE, 1),
        round((MAP_NORTH - latitude) * MAP_SCALE, 1),
    )


def _inside(latitude: float, longitude: float) -> bool:
    return MAP_SOUTH <= latitude <= MAP_NORTH and MAP_WEST <= longitude <= MAP_EAST


def flag_map(points: list[dict]) -> dict:
    """What the template needs to draw located flags over the box of China as inline SVG."""
    shown = []
    for point in points:
        if not _inside(point["latitude"], point["longitude"]):
            continue
        x, y = _map_xy(point["latitude"], point["longitude"])
        label = REASON_LABELS.get(point["reason"], point["reason"])
        title = f"{point['code']} · {label} · {point['region'] or '地区未知'}"
        shown.append({"x": x, "y": y, "reason": point["reason"], "title": title})
    return {
        "width": (MAP_EAST - MAP_WEST) * MAP_SCALE,
        "height": (MAP_NORTH - MAP_SOUTH) * MAP_SCALE,
        "meridians": [
            {"x": _map_xy(MAP_SOUTH, lon)[0], "label": f"{lon}°E"}
            for lon in range(80, MAP_EAST, 10)
        ],
        "parallels": [
            {"y": _map_xy(lat, MAP_WEST)[1], "label": f"{lat}°N"}
            for lat in range(20, MAP_NORTH, 10)
        ],
        "cities": [
            {"name": name, "x": _map_xy(lat, lon)[0], "y": _map_xy(lat, lon)[1]}
            for name, (lat, lon) in MAP_CITIES.items()
        ],
        "points": shown,
        "outside": len(points) - len(shown),
    }


@bp.get("/trace-flags")
@login_required
def trace_flags(staff):
    problems: list[str] = []
    filters = {
        "reason": _choice("reason", REASON_LABELS),
        "seller_id": _arg_int("seller_id", "卖家编号", problems),
        "region": request.args.get("region", "").strip()[:40] or None,
    }
    page = _page()
    rows, total = trace_queries.flags(db.session, **filters, page=page, page_size=FLAGS_PER_PAGE)
    return render_template(
        "console/trace_flags.html",
        rows=rows,
        total=total,
        filters=filters,
        problems=problems,
        reason_labels=REASON_LABELS,
        by_seller=trace_queries.flag_counts(db.session, by="seller"),
        by_region=trace_queries.flag_counts(db.session, by="region"),
        flag_map=flag_map(trace_queries.flag_points(db.session, **filters)),
        page=page,
        pages=_pages(total, FLAGS_PER_PAGE),
    )
