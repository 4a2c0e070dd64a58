"""Staff edit the catalogue as data: new products (a gift box) and SKUs, grades, and each
product line's shelf life per storage form. Each change is checked, audited and shown by the
mini-program as soon as it commits. (Retiring a SKU that stock or orders still use is decided
in backend.flows.catalogue, which sees those domains.)"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit import service as audit
from backend.audit.service import Actor
from backend.catalogue import cache
from backend.catalogue.models import FORMS, Grade, Product, ProductLine, Sku
from backend.catalogue.service import MAX_PRICE, MIN_PRICE
from backend.errors import BadRequest, Conflict, RuleBroken, get_or_404

FORM_LABELS = {"live": "鲜活", "frozen": "冷冻", "ready_to_eat": "即食"}
CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{1,38}")
MAX_SHELF_LIFE_HOURS = 2 * 365 * 24


def _text(value: str, label: str, most: int) -> str:
    value = (value or "").strip()
    if not value:
        raise BadRequest(f"请填写{label}", code="FIELD_REQUIRED", details={"field": label})
    if len(value) > most:
        raise BadRequest(f"{label}不能超过 {most} 个字", code="FIELD_TOO_LONG")
    return value


def _whole(value: object, label: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RuleBroken(f"{label}须为 {low} 到 {high} 之间的整数", code="NUMBER_OUT_OF_RANGE")
    return value


def create_product(
    session: Session,
    *,
    product_line_id: int,
    name: str,
    category: str,
    subtitle: str = "",
    staff: Actor | None,
) -> Product:
    """A new product of a line (e.g. a gift box), off sale until it has a SKU and a picture."""
    line = get_or_404(session, ProductLine, product_line_id, "产品线不存在", code="LINE_NOT_FOUND")
    product = Product(
        product_line_id=line.id,
        name=_text(name, "商品名称", 60),
        category=_text(category, "类别", 30),
        subtitle=(subtitle or "").strip()[:120],
        on_sale=False,
    )
    session.add(product)
    session.flush()
    audit.record(
        session,
        staff=staff,
        action="product.create",
        target_type="product",
        target_id=product.id,
        summary=f"新建商品 {product.name}（{line.name}，{product.category}）",
        after={"name": product.name, "category": product.category},
    )
    session.commit()
    return product


def create_sku(
    session: Session,
    *,
    product_id: int,
    grade_id: int,
    code: str,
    spec: str,
    form: str,
    pack_weight_g: int,
    price: int,
    pieces_per_pack: int | None = None,
    staff: Actor | None,
) -> Sku:
    """A new SKU of a product: its grade must be of the product's line, its code unique."""
    product = get_or_404(session, Product, product_id, "商品不存在", code="PRODUCT_NOT_FOUND")
    grade = session.get(Grade, grade_id)
    if grade is None or grade.product_line_id != product.product_line_id:
        raise RuleBroken("等级不属于该商品的产品线", code="GRADE_NOT_OF_LINE")
    code = (code or "").strip().upper()
    if not CODE.fullmatch(code):
        raise BadRequest("编码只能用大写字母、数字和 -，2 到 39 位", code="SKU_CODE_INVALID")
    if session.scalar(select(Sku.id).where(Sku.code == code)) is not None:
        raise Conflict(f"编码 {code} 已被使用", code="SKU_CODE_TAKEN")
    if form not in FORMS:
        raise BadRequest("储存形态只能是鲜活、冷冻或即食", code="FORM_INVALID")
    sku = Sku(
        product_id=product.id,
        grade_id=grade.id,
        code=code,
        spec=_text(spec, "规格", 60),
        form=form,
        pack_weight_g=_whole(pack_weight_g, "包装重量（克）", 1, 100_000),
        price=_whole(price, "价格（分）", MIN_PRICE, MAX_PRICE),
        pieces_per_pack=None
        if pieces_per_pack is None
        else _whole(pieces_per_pack, "每份只数", 1, 10_000),
        on_sale=True,
    )
    session.add(sku)
    session.flush()
    audit.record(
        session,
        staff=staff,
        action="sku.create",
        target_type="sku",
        target_id=sku.id,
        summary=f"{product.name} 新增规格 {sku.spec}（{grade.name}，¥{sku.price / 100:.2f}）",
        after={"code": code, "price": sku.price, "grade": grade.name, "form": form},
    )
    cache.invalidate(session)
    session.commit()
    return sku


def update_grade(
    session: Session,
    *,
    grade_id: int,
    name: str,
    min_pieces_per_kg: int | None,
    max_pieces_per_kg: int | None,
    staff: Actor | None,
) -> Grade:
    """Rename a grade or change its pieces-per-kg band (sorting results from now on use it)."""
    grade = get_or_404(session, Grade, grade_id, "等级不存在", code="GRADE_NOT_FOUND")
    low = (
        None if min_pieces_per_kg is None else _whole(min_pieces_per_kg, "每公斤最少只数", 1, 1000)
    )
    high = (
        None if max_pieces_per_kg is None else _whole(max_pieces_per_kg, "每公斤最多只数", 1, 1000)
    )
    if low is not None and high is not None and low > high:
        raise RuleBroken("每公斤最少只数不能大于最多只数", code="GRADE_BAND_INVERTED")
    before = {"name": grade.name, "min": grade.min_pieces_per_kg, "max": grade.max_pieces_per_kg}
    grade.name = _text(name, "等级名称", 20)
    grade.min_pieces_per_kg, grade.max_pieces_per_kg = low, high
    after = {"name": grade.name, "min": low, "max": high}
    if after != before:
        audit.record(
            session,
            staff=staff,
            action="grade.edit",
            target_type="grade",
            target_id=grade.id,
            summary=f"等级 {before['name']} → {grade.name}（每公斤 {low or '—'}–{high or '—'} 只）",
            before=before,
            after=after,
        )
    cache.invalidate(session)
    session.commit()
    return grade


def set_shelf_life(
    session: Session, *, product_line_id: int, form: str, hours: int, staff: Actor | None
) -> ProductLine:
    """Hours from packing to use-by for a storage form of the line: lots packed from now on get
    it; lots already packed keep the use-by printed on them."""
    line = get_or_404(session, ProductLine, product_line_id, "产品线不存在", code="LINE_NOT_FOUND")
    if form not in FORMS:
        raise BadRequest("储存形态只能是鲜活、冷冻或即食", code="FORM_INVALID")
    hours = _whole(hours, "保质期（小时）", 1, MAX_SHELF_LIFE_HOURS)
    before = dict(line.shelf_life_hours or {})
    line.shelf_life_hours = {**before, form: hours}
    audit.record(
        session,
        staff=staff,
        action="line.shelf_life",
        target_type="product_line",
        target_id=line.id,
        summary=f"{line.name} {FORM_LABELS[form]}保质期 {before.get(form, '—')} → {hours} 小时",
        before={form: before.get(form)},
        after={form: hours},
    )
    session.commit()
    return line
