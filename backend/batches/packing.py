"""Packing: packs of SKUs from a batch's sorted grades become lots of sellable stock, each with a
use-by from the product line's shelf life. Part of the batches service; same rules and order."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.batches.models import PACKING, Batch, Plant
from backend.batches.schemas import render_batch
from backend.batches.service import _check_order, _check_time, _kind_step, _record_step, get_batch
from backend.catalogue.models import Grade, Product, ProductLine, Sku
from backend.errors import BadRequest, NotFound, RuleBroken
from backend.inventory import service as inventory
from backend.inventory.models import Lot
from backend.timeutil import utcnow


def report_packing(
    session: Session, plant: Plant, *, batch_code: str, packed_at: datetime, packs: list[dict]
) -> dict:
    """Packs of SKUs from the batch's sorted grades → one lot per SKU, with its use-by time."""
    batch = get_batch(session, plant_id=plant.id, code=batch_code)
    step = _kind_step(session, batch, PACKING)
    _check_time(packed_at, "包装时间")
    _check_order(session, batch, step)
    if batch.inspection is not None and not batch.inspection.passed:
        raise RuleBroken("该批次检验未通过，不能包装", code="INSPECTION_FAILED")
    line = session.get(ProductLine, batch.product_line_id)
    codes = [entry["sku"] for entry in packs]
    if len(set(codes)) != len(codes):
        raise BadRequest("同一 SKU 不能重复报告", code="DUPLICATE_SKU")
    skus = {
        sku.code: sku
        for sku in session.scalars(
            select(Sku)
            .join(Product)
            .where(Sku.code.in_(codes), Product.product_line_id == batch.product_line_id)
        )
    }
    unknown = sorted(set(codes) - set(skus))
    if unknown:
        raise NotFound("SKU 不存在或不属于该品类", code="SKU_NOT_FOUND", details={"skus": unknown})
    _check_packed_weight(session, batch, [(skus[e["sku"]], e["count"]) for e in packs])

    lots = []
    for entry in packs:
        sku = skus[entry["sku"]]
        hours = line.shelf_life_hours.get(sku.form)
        if hours is None:
            raise RuleBroken(
                "该储存形态没有保质期规则", code="NO_SHELF_LIFE_RULE", details={"form": sku.form}
            )
        use_by = packed_at + timedelta(hours=hours)
        if use_by <= utcnow():
            raise RuleBroken(
                "按保质期计算该批次已过期", code="LOT_ALREADY_EXPIRED", details={"sku": sku.code}
            )
        earlier = session.scalar(
            select(func.count())
            .select_from(Lot)
            .where(Lot.batch_id == batch.id, Lot.sku_id == sku.id)
        )
        lot = inventory.receive(
            session,
            sku_id=sku.id,
            batch_id=batch.id,
            code=f"{plant.key_id}-{batch.code}-{sku.code}-{earlier + 1}",
            quantity=entry["count"],
            packed_at=packed_at,
            use_by=use_by,
        )
        lots.append(lot)
    _record_step(session, batch, step, packed_at, {})
    batch.status = "PACKED"
    body = render_batch(batch)
    body["lots"] = [
        {
            "code": lot.code,
            "sku": lot.sku_id,
            "quantity": lot.received,
            "use_by": lot.use_by.isoformat() + "Z",
        }
        for lot in lots
    ]
    return body


def _check_packed_weight(session: Session, batch: Batch, packs: list[tuple[Sku, int]]) -> None:
    """All packs of a grade together may not weigh more than that grade's sorted weight."""
    sorted_weight = {r.grade_id: r.weight_g for r in batch.sorting}
    packed: dict[int, int] = {}
    earlier = session.execute(
        select(Sku.grade_id, Lot.received, Sku.pack_weight_g)
        .join(Lot, Lot.sku_id == Sku.id)
        .where(Lot.batch_id == batch.id)
    )
    for grade_id, count, weight in earlier:
        packed[grade_id] = packed.get(grade_id, 0) + count * weight
    for sku, count in packs:
        packed[sku.grade_id] = packed.get(sku.grade_id, 0) + count * sku.pack_weight_g
    for grade_id, weight in packed.items():
        if weight > sorted_weight.get(grade_id, 0):
            grade = session.get(Grade, grade_id)
            raise RuleBroken(
                f"「{grade.name}」包装重量超过分级重量",
                code="PACKS_EXCEED_SORTED",
                details={
                    "grade": grade.code,
                    "packed_g": weight,
                    "sorted_g": sorted_weight.get(grade_id, 0),
                },
            )
