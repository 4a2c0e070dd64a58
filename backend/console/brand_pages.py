"""/console pages for the regional brand: licences, code print runs and flagged codes.

The views register on the console blueprint of `pages.py`, so they share its login, CSRF
handling, filters and pagination."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for

from backend.console.access import login_required
from backend.console.brand_api import LABELS_PER_ZIP
from backend.console.forms import load_form
from backend.console.pages import _choice, _page, _pages, _safe_next, bp
from backend.errors import DomainError
from backend.extensions import db
from backend.schemas import MAX_ID
from backend.sellers import queries as seller_queries
from backend.sellers import service as sellers
from backend.sellers.models import ACTIVE, EXPIRED, SUSPENDED
from backend.sellers.schemas import GrantIn, NoteIn, RenewIn
from backend.staff import permissions as perms
from backend.trace import queries as trace_queries
from backend.trace import service as trace
from backend.trace.schemas import PrintRunIn

LICENCES_PER_PAGE = 50
PRINT_RUNS_PER_PAGE = 20
FLAGS_PER_PAGE = 50
CODES_SHOWN = 100
DEFAULT_TERM_DAYS = 365
GRANT_FORM_FIELDS = ("seller_id", "valid_from", "valid_until", "note")

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
@login_required(perms.LICENCES)
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
@login_required(perms.LICENCES)
def grant_licence(staff):
    back = _safe_next(request.form.get("next"), url_for(".licences"))
    try:
        values = {key: request.form.get(key, "") for key in GRANT_FORM_FIELDS}
        values["product_ids"] = request.form.getlist("product_ids")
        licence = sellers.grant_licence(
            db.session, **load_form(GrantIn(), values), staff_id=staff.id
        )
    except DomainError as failure:
        return _refused(failure, back)
    flash(f"已为 {licence.seller.name} 授予品牌授权 {licence.number}", "success")
    return redirect(url_for(".licences", q=licence.number))


@bp.post("/licences/<int:licence_id>/renew")
@login_required(perms.LICENCES)
def renew_licence(licence_id: int, staff):
    back = _safe_next(request.form.get("next"), url_for(".licences"))
    try:
        renewal = load_form(RenewIn(), {"valid_until": request.form.get("valid_until", "")})
        licence = sellers.renew_licence(
            db.session, licence_id=licence_id, **renewal, staff_id=staff.id
        )
    except DomainError as failure:
        return _refused(failure, back)
    flash(f"已将授权 {licence.number} 续期至 {licence.valid_until:%Y-%m-%d}", "success")
    return redirect(back)


def _suspension(licence_id: int, staff, *, suspended: bool):
    back = _safe_next(request.form.get("next"), url_for(".licences"))
    try:
        note = load_form(NoteIn(), {"note": request.form.get("note", "")})["note"]
        licence = sellers.set_suspended(
            db.session, licence_id=licence_id, suspended=suspended, note=note, staff_id=staff.id
        )
    except DomainError as failure:
        return _refused(failure, back)
    done = "已暂停" if suspended else "已恢复"
    state = LICENCE_STATES.get(licence.status, licence.status)
    flash(f"{done}授权 {licence.number}，当前状态：{state}", "success")
    return redirect(back)


@bp.post("/licences/<int:licence_id>/suspend")
@login_required(perms.LICENCES)
def suspend_licence(licence_id: int, staff):
    return _suspension(licence_id, staff, suspended=True)


@bp.post("/licences/<int:licence_id>/resume")
@login_required(perms.LICENCES)
def resume_licence(licence_id: int, staff):
    return _suspension(licence_id, staff, suspended=False)


# --- print runs -------------------------------------------------------------------------------


@bp.get("/print-runs")
@login_required(perms.CODES)
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
@login_required(perms.CODES)
def create_print_run(staff):
    back = url_for(".print_runs")
    try:
        values = {key: request.form.get(key, "") for key in ("seller_id", "lot_id", "quantity")}
        run = trace.create_print_run(
            db.session, **load_form(PrintRunIn(), values), staff_id=staff.id
        )
    except DomainError as failure:
        return _refused(failure, back)
    flash(f"已生成印制批次 #{run.id}：{run.quantity} 个防伪码", "success")
    return redirect(url_for(".print_run_detail", print_run_id=run.id))


@bp.get("/print-runs/<int:print_run_id>")
@login_required(perms.CODES)
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
@login_required(perms.FLAGS)
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
        reports=trace_queries.recent_reports(db.session),
        page=page,
        pages=_pages(total, FLAGS_PER_PAGE),
    )
