"""/console/adoption: the 认养 section — its landing (总览), the rafts' units by state, one unit,
the form laying out new units (price in 元, yield in 斤), the adopters and each farming
household's income. The forms load the schemas of the JSON-API twin (adoption_api.py); the
views register on the console blueprint of `pages.py`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import current_app, flash, redirect, render_template, request, url_for

from backend.adoption import layout, losses, reports
from backend.adoption.models import KINDS, REPLACE
from backend.adoption.units import LOSS_TERMS, today
from backend.console.access import login_required
from backend.console.adoption_api import (
    ADOPTERS_PER_PAGE,
    MAX_PARCELS,
    LossIn,
    UnitsIn,
    loss_units,
)
from backend.console.forms import load_form
from backend.console.pages import _page, _pages, bp
from backend.csv_export import csv_download
from backend.errors import BadRequest, DomainError
from backend.extensions import db
from backend.schemas import number_in
from backend.staff import permissions as perms

MAX_YUAN = Decimal(100_000)
MAX_JIN = Decimal(1000)
GRAMS_PER_JIN = 500
FORM_FIELDS = (
    "sea_area_code", "farm_id", "product_line_code", "raft", "positions", "kind", "seeded_on",
    "adopt_until", "harvest_from", "harvest_to", "price_yuan", "yield_jin", "max_parcels",
    "loss_terms", "loss_refund_percent",
)  # fmt: skip
# Pages of the section other modules add (growth updates, the harvest calendar): found by
# their endpoint's name, so the section links them once they exist.
SIBLINGS = (("growth", "生长动态"), ("harvest", "收获日历"))
LOSS_REASONS = ("台风", "病害", "赤潮", "风浪", "其他")
LOSS_LINES = 10  # adopters named in the flash after a loss; the rest counted


def _sibling_pages() -> list[tuple[str, str, str]]:
    """(endpoint, label, permission) of the section's pages other modules register, if any."""
    found = current_app.extensions.get("adoption_siblings")
    if found is None:
        found = []
        for word, label in SIBLINGS:
            candidates = sorted(
                (rule.endpoint for rule in current_app.url_map.iter_rules()
                 if rule.endpoint.startswith("console.") and word in rule.endpoint
                 and "GET" in rule.methods and not rule.arguments),
                key=len,
            )  # fmt: skip
            if candidates:
                view = current_app.view_functions[candidates[0]]
                found.append((candidates[0], label, view.permission))
        current_app.extensions["adoption_siblings"] = found
    return found


@bp.context_processor
def adoption_section() -> dict:
    """The 认养 menu entry is lit on every page of the section, its siblings' too."""
    own = [name for name in current_app.view_functions if name.startswith("console.adoption")]
    return {
        "adoption_endpoints": own + [endpoint for endpoint, *_ in _sibling_pages()],
        "adoption_siblings": _sibling_pages,
    }


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    return number_in(raw) or None


def _fen(raw: str, problems: list[str]) -> int | None:
    """元 as staff type it (398 or 398.50) in fen."""
    try:
        yuan = Decimal(raw.strip().replace(",", "").removesuffix("元"))
    except InvalidOperation:
        problems.append("认养价格请填写金额（元），例如 398 或 398.50")
        return None
    if not yuan.is_finite() or yuan <= 0 or yuan > MAX_YUAN:
        problems.append(f"认养价格需大于 0 元且不超过 {MAX_YUAN:,} 元")
        return None
    if yuan != yuan.quantize(Decimal("0.01")):
        problems.append("认养价格最多精确到分（小数点后两位）")
        return None
    return int(yuan * 100)


def _grams(raw: str, problems: list[str]) -> int | None:
    """斤 as staff type it (10 or 7.5) in grams."""
    try:
        jin = Decimal(raw.strip().removesuffix("斤"))
    except InvalidOperation:
        problems.append("收获重量请填写斤数，例如 10 或 7.5")
        return None
    if not jin.is_finite() or jin <= 0 or jin > MAX_JIN:
        problems.append(f"收获重量需大于 0 斤且不超过 {MAX_JIN} 斤")
        return None
    grams = jin * GRAMS_PER_JIN
    if grams != grams.to_integral_value():
        problems.append("收获重量最多精确到 0.002 斤（1 克）")
        return None
    return int(grams)


def _unit_values(form: dict) -> dict:
    """The form's fields as the schema takes them; every problem at once, in Chinese."""
    problems: list[str] = []
    values = {key: form.get(key, "") for key in FORM_FIELDS}
    price = _fen(values.pop("price_yuan"), problems) if form.get("price_yuan") else None
    grams = _grams(values.pop("yield_jin"), problems) if form.get("yield_jin") else None
    values.update(price=price or "", yield_g=grams or "")
    try:
        loaded = load_form(UnitsIn(), values)
    except BadRequest as refused:
        if problems:
            # the schema's "请填写认养价格（分）" when the page already said why 元 was refused
            said = [
                m for m in refused.message.split("；") if "（分）" not in m and "（克）" not in m
            ]
            problems.extend(said)
            raise BadRequest("；".join(problems), code="FORM_INVALID") from None
        raise
    if problems:
        raise BadRequest("；".join(problems), code="FORM_INVALID")
    return loaded


@bp.get("/adoption")
@login_required(perms.ADOPTION_VIEW)
def adoption_home(staff):
    return render_template(
        "console/adoption_home.html",
        summary=reports.summary(db.session),
        states=reports.STATES,
    )


@bp.get("/adoption/units")
@login_required(perms.ADOPTION_VIEW)
def adoption_units(staff):
    state = request.args.get("state", "").strip()
    filters = {
        "farm_id": _int_arg("farm_id"),
        "sea_area_id": _int_arg("sea_area_id"),
        "raft": _int_arg("raft"),
        "state": state if state in reports.STATES else None,
    }
    return render_template(
        "console/adoption_units.html",
        grid=reports.overview(db.session, **filters),
        choices=reports.choices(db.session),
        filters=filters,
        states=reports.STATES,
    )


@bp.get("/adoption/units/<int:unit_id>")
@login_required(perms.ADOPTION_VIEW)
def adoption_unit(unit_id: int, staff):
    try:
        unit = reports.unit_detail(db.session, unit_id)
    except DomainError as failure:
        return render_template("console/error.html", message=failure.message), failure.status
    return render_template("console/adoption_unit.html", unit=unit, loss_terms=LOSS_TERMS)


def _new_units_page(form: dict, status: int = 200):
    html = render_template(
        "console/adoption_new_units.html",
        choices=reports.choices(db.session),
        form=form,
        kinds=KINDS,
        loss_terms=LOSS_TERMS,
        max_parcels=MAX_PARCELS,
    )
    return html, status


@bp.get("/adoption/units/new")
@login_required(perms.ADOPTION_MANAGE)
def adoption_new_units(staff):
    day = today()
    return _new_units_page(
        {
            "seeded_on": day.isoformat(),
            "kind": "cage",
            "max_parcels": "2",
            "loss_terms": REPLACE,
            "loss_refund_percent": "50",
            "product_line_code": "oyster",
        }
    )


@bp.post("/adoption/units")
@login_required(perms.ADOPTION_MANAGE)
def adoption_create_units(staff):
    form = {key: request.form.get(key, "")[:200] for key in FORM_FIELDS}
    try:
        made = layout.lay_out_units(db.session, staff=staff, **_unit_values(form))
    except DomainError as failure:
        db.session.rollback()
        message = failure.message
        taken = (failure.details or {}).get("positions")
        if taken:
            message += f"：{layout.positions_text(taken)}"
        flash(f"未能新建：{message}", "error")
        return _new_units_page(form, failure.status)
    first = made[0]
    flash(
        f"已新建 {len(made)} 个认养单元：{first.sea_area.name} {first.raft}号筏 "
        f"{layout.positions_text([u.position for u in made])}",
        "success",
    )
    return redirect(url_for(".adoption_units", sea_area_id=first.sea_area_id, raft=first.raft))


@bp.get("/adoption/adopters")
@login_required(perms.ADOPTION_VIEW)
def adoption_adopters(staff):
    status = request.args.get("status", "").strip()
    filters = {
        "farm_id": _int_arg("farm_id"),
        "status": status if status in reports.ADOPTION_STATES else None,
        "number": request.args.get("number", "").strip()[:20] or None,
    }
    page = _page()
    rows, total = reports.adopters(db.session, **filters, page=page, page_size=ADOPTERS_PER_PAGE)
    return render_template(
        "console/adoption_adopters.html",
        rows=rows,
        total=total,
        filters=filters,
        choices=reports.choices(db.session),
        adoption_states=reports.ADOPTION_STATES,
        page=page,
        pages=_pages(total, ADOPTERS_PER_PAGE),
    )


@bp.get("/adoption/income")
@login_required(perms.ADOPTION_VIEW)
def adoption_income(staff):
    month = request.args.get("month", "").strip()[:7] or reports.current_month()
    try:
        income = reports.income_by_household(db.session, month=month)
    except DomainError as failure:
        flash(failure.message, "error")
        income = reports.income_by_household(db.session, month=reports.current_month())
    if request.args.get("format") == "csv":
        return csv_download(reports.income_csv(income), f"adoption-income-{income['month']}.csv")
    return render_template("console/adoption_income.html", income=income)


def _loss_done(outcome: dict) -> list[str]:
    """What a loss declaration did, in lines staff read."""
    replaced, refunded = outcome.get("replaced", []), outcome.get("refunded", [])
    cancelled = outcome.get("cancelled", [])
    money = sum(r.get("amount", 0) for r in refunded)
    lines = [
        f"已标记 {outcome.get('units', 0)} 个单元损失：换单元 {len(replaced)} 户，"
        f"退款 {len(refunded)} 户（共 ¥{money / 100:,.2f}），取消待支付 {len(cancelled)} 笔"
    ]
    if replaced:
        shown = [f"{r['adoption']} 换为 {r['unit']}（{r['replacement']}）" for r in replaced]
        lines.append("换单元：" + "；".join(shown[:LOSS_LINES]) + _more(shown))
    if refunded:
        shown = [f"{r['adoption']} 退 ¥{r['amount'] / 100:,.2f}" for r in refunded]
        lines.append("退款：" + "；".join(shown[:LOSS_LINES]) + _more(shown))
    if cancelled:
        lines.append("取消待支付：" + "、".join(cancelled[:LOSS_LINES]) + _more(cancelled))
    return lines


def _more(items: list) -> str:
    return f" 等 {len(items)} 户" if len(items) > LOSS_LINES else ""


def _losses_page(form: dict, status: int = 200):
    html = render_template(
        "console/adoption_losses.html",
        choices=reports.choices(db.session),
        recent=reports.recent_losses(db.session),
        reasons=LOSS_REASONS,
        form=form,
    )
    return html, status


@bp.get("/adoption/losses")
@login_required(perms.ADOPTION_MANAGE)
def adoption_losses(staff):
    return _losses_page({"reason_kind": LOSS_REASONS[0]})


@bp.post("/adoption/losses")
@login_required(perms.ADOPTION_MANAGE)
def adoption_declare_loss(staff):
    form = {
        key: request.form.get(key, "").strip()[:100]
        for key in ("sea_area_id", "raft", "positions", "reason_kind", "reason_note")
    }
    kind = form["reason_kind"] if form["reason_kind"] in LOSS_REASONS else ""
    reason = "：".join(part for part in (kind, form["reason_note"]) if part)
    try:
        values = load_form(LossIn(), {**form, "reason": reason})
        outcome = losses.declare_loss(
            db.session, unit_ids=loss_units(values), reason=values["reason"], staff_id=staff.id
        )
    except DomainError as failure:
        db.session.rollback()
        message = failure.message
        missing = (failure.details or {}).get("positions")
        if missing:
            message += f"：{layout.positions_text(missing)}"
        flash(f"未能标记损失：{message}", "error")
        return _losses_page(form, failure.status)
    for line in _loss_done(outcome):
        flash(line, "success")
    return redirect(url_for(".adoption_losses"))
