"""/console pages for the catalogue (prices, on and off sale, product pictures) and the audit
trail of what staff changed. The views register on the console blueprint of `pages.py`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from flask import flash, redirect, render_template, request, url_for

from backend.audit import service as audit
from backend.batches import steps
from backend.catalogue import editing
from backend.catalogue import service as catalogue
from backend.console.access import login_required
from backend.console.pages import _date_arg, _day_start_utc, _page, _pages, bp
from backend.errors import BadRequest, DomainError
from backend.extensions import db
from backend.flows import catalogue as catalogue_flow
from backend.media import service as media
from backend.staff import permissions as perms
from backend.staff import service as staff_service

AUDIT_PER_PAGE = 50


@bp.app_template_filter("audit_values")
def audit_values(values: dict | None) -> str:
    return "；".join(audit.shown(field, value) for field, value in (values or {}).items())


def _price_in_fen(raw: str) -> int:
    """The form's 价格（元）, e.g. 98 or 98.50, as whole fen; BadRequest for anything else."""
    text = raw.strip().replace("¥", "").replace("￥", "")
    try:
        yuan = Decimal(text)
    except InvalidOperation:
        raise BadRequest("价格须为数字，例如 98 或 98.50", code="PRICE_INVALID") from None
    if not yuan.is_finite() or yuan != yuan.quantize(Decimal("0.01")):
        raise BadRequest("价格最多两位小数（精确到分）", code="PRICE_NOT_INTEGER")
    fen = int(yuan * 100)
    if fen <= 0:
        raise BadRequest("价格须大于 0", code="PRICE_OUT_OF_RANGE")
    return fen


def _back() -> str:
    return url_for(".catalogue_page") + request.form.get("anchor", "")


def _whole_number(name: str, label: str, *, optional: bool = False) -> int | None:
    raw = request.form.get(name, "").strip()
    if not raw and optional:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise BadRequest(f"{label}须为正整数", code="NUMBER_INVALID")
    return int(raw)


def _form_change(change, done) -> object:
    """Run a catalogue change from a form: flash what was done, or why it was refused."""
    try:
        changed = change()
    except DomainError as refused:
        db.session.rollback()
        flash(refused.message, "error")
    else:
        flash(done(changed), "success")
    return redirect(_back())


@bp.get("/catalogue")
@login_required(perms.CATALOGUE)
def catalogue_page(staff):
    return render_template(
        "console/catalogue.html",
        products=catalogue.products_for_staff(db.session),
        lines=catalogue.product_lines(db.session),
        steps=steps.steps_of_lines(db.session),
        measurements_text=steps.measurements_text,
        forms=editing.FORM_LABELS,
    )


@bp.post("/skus/<int:sku_id>/price")
@login_required(perms.CATALOGUE)
def change_sku_price(sku_id: int, staff):
    return _form_change(
        lambda: catalogue.change_sku(
            db.session,
            sku_id=sku_id,
            staff=staff,
            price=_price_in_fen(request.form.get("price", "")),
        ),
        lambda sku: f"已将 {catalogue.sku_title(sku)} 的价格改为 ¥{sku.price / 100:.2f}",
    )


def _on_sale() -> bool:
    return request.form.get("on_sale") == "1"


def _sale_word(on_sale: bool) -> str:
    return "上架" if on_sale else "下架"


@bp.post("/skus/<int:sku_id>/on-sale")
@login_required(perms.CATALOGUE)
def change_sku_on_sale(sku_id: int, staff):
    return _form_change(
        lambda: catalogue.change_sku(db.session, sku_id=sku_id, staff=staff, on_sale=_on_sale()),
        lambda sku: f"{catalogue.sku_title(sku)} 已{_sale_word(sku.on_sale)}",
    )


@bp.post("/products/<int:product_id>/on-sale")
@login_required(perms.CATALOGUE)
def change_product_on_sale(product_id: int, staff):
    return _form_change(
        lambda: catalogue.set_product_on_sale(
            db.session, product_id=product_id, on_sale=_on_sale(), staff=staff
        ),
        lambda product: f"{product.name} 已{_sale_word(product.on_sale)}",
    )


@bp.post("/products/<int:product_id>/picture")
@login_required(perms.CATALOGUE)
def upload_product_picture(product_id: int, staff):
    upload = request.files.get("picture")
    data = upload.read(media.current_limit() + 1) if upload else b""
    return _form_change(
        lambda: media.set_product_picture(
            db.session, product_id=product_id, data=data, staff=staff
        ),
        lambda product: f"{product.name} 的图片已更新",
    )


@bp.get("/audit")
@login_required(perms.AUDIT_VIEW)
def audit_page(staff):
    problems: list[str] = []
    people = staff_service.list_staff(db.session)
    chosen = request.args.get("staff_id", "")
    staff_id = next((person.id for person in people if str(person.id) == chosen), None)
    action = request.args.get("action", "")
    since, until = _date_arg("from", "开始日期", problems), _date_arg("to", "结束日期", problems)
    if since and until and until < since:
        problems.append("结束日期早于开始日期，已忽略日期")
        since = until = None
    wanted = audit.AuditFilter(
        staff_id=staff_id,
        action=action if action in audit.ACTIONS else None,
        target_type=request.args.get("target_type") or None,
        target_id=request.args.get("target_id") or None,
        since=_day_start_utc(since) if since else None,
        until=_day_start_utc(until + timedelta(days=1)) if until else None,
    )
    page = _page()
    records, total = audit.search(db.session, wanted, page=page, page_size=AUDIT_PER_PAGE)
    for problem in problems:
        flash(problem, "warning")
    return render_template(
        "console/audit.html",
        records=records,
        total=total,
        page=page,
        pages=_pages(total, AUDIT_PER_PAGE),
        people=people,
        actions=audit.ACTIONS,
        wanted=wanted,
        since=since,
        until=until,
    )


@bp.post("/products")
@login_required(perms.CATALOGUE)
def create_product(staff):
    return _form_change(
        lambda: editing.create_product(
            db.session,
            product_line_id=_whole_number("product_line_id", "产品线"),
            name=request.form.get("name", ""),
            category=request.form.get("category", ""),
            subtitle=request.form.get("subtitle", ""),
            staff=staff,
        ),
        lambda product: f"已新建商品 {product.name}（未上架：请添加规格和图片后上架）",
    )


@bp.post("/products/<int:product_id>/skus")
@login_required(perms.CATALOGUE)
def create_sku(product_id: int, staff):
    return _form_change(
        lambda: editing.create_sku(
            db.session,
            product_id=product_id,
            grade_id=_whole_number("grade_id", "等级"),
            code=request.form.get("code", ""),
            spec=request.form.get("spec", ""),
            form=request.form.get("form", ""),
            pack_weight_g=_whole_number("pack_weight_g", "包装重量（克）"),
            price=_price_in_fen(request.form.get("price", "")),
            pieces_per_pack=_whole_number("pieces_per_pack", "每份只数", optional=True),
            staff=staff,
        ),
        lambda sku: f"已新增规格 {catalogue.sku_title(sku)}",
    )


@bp.post("/skus/<int:sku_id>/delete")
@login_required(perms.CATALOGUE)
def delete_sku(sku_id: int, staff):
    return _form_change(
        lambda: catalogue_flow.delete_sku(db.session, sku_id=sku_id, staff=staff),
        lambda _: "规格已删除",
    )


@bp.post("/grades/<int:grade_id>")
@login_required(perms.CATALOGUE)
def update_grade(grade_id: int, staff):
    return _form_change(
        lambda: editing.update_grade(
            db.session,
            grade_id=grade_id,
            name=request.form.get("name", ""),
            min_pieces_per_kg=_whole_number("min_pieces_per_kg", "每公斤最少只数", optional=True),
            max_pieces_per_kg=_whole_number("max_pieces_per_kg", "每公斤最多只数", optional=True),
            staff=staff,
        ),
        lambda grade: f"等级 {grade.name} 已保存",
    )


@bp.post("/product-lines/<int:line_id>/shelf-life")
@login_required(perms.CATALOGUE)
def set_shelf_life(line_id: int, staff):
    return _form_change(
        lambda: editing.set_shelf_life(
            db.session,
            product_line_id=line_id,
            form=request.form.get("form", ""),
            hours=_whole_number("hours", "保质期（小时）"),
            staff=staff,
        ),
        lambda line: f"{line.name} 的保质期已保存，之后包装的批次按新保质期",
    )


@bp.post("/process-steps/<int:step_id>")
@login_required(perms.CATALOGUE)
def update_process_step(step_id: int, staff):
    return _form_change(
        lambda: steps.update_step(
            db.session,
            step_id=step_id,
            name=request.form.get("name", ""),
            required=request.form.get("required") == "1",
            measurements=steps.parse_measurements(request.form.get("measurements", "")),
            staff=staff,
        ),
        lambda step: f"工序「{step.name}」已保存，之后的加工报告按新的测量项检查",
    )
