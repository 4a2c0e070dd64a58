"""The demo year's stock: a batch a day through every processing step, packed into one lot per
SKU sized to the day's orders, units taken first-expiring-first-out, and the remainder written
off at each lot's use-by. Every change is a ledger row; a lot's final on-hand and reserved are
the sums of its rows."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, update

from backend.batches.models import (
    INSPECTION,
    PACKING,
    SORTING,
    Batch,
    BatchStep,
    Harvest,
    Inspection,
    SortingResult,
)
from backend.demo_history.writer import Writer
from backend.inventory.models import ADJUST, EXPIRE, EXPIRED, RECEIVE, SELLABLE, Lot, StockMovement

BAD_BATCHES_PER_YEAR = 6


@dataclass
class LotState:
    id: int
    sku_id: int
    use_by: datetime
    bad: bool
    on_hand: int
    free: int  # units no order has taken yet (units given back are not offered again)
    reserved: int = 0  # holds still open at the end
    status: str = SELLABLE


@dataclass
class Stock:
    writer: Writer
    context: object
    rng: random.Random
    lots: dict[int, LotState] = field(default_factory=dict)
    queues: dict[int, list[int]] = field(default_factory=dict)  # sku id -> lot ids, FEFO

    def move(
        self,
        lot_id: int,
        kind: str,
        at: datetime,
        *,
        on_hand: int = 0,
        reserved: int = 0,
        reason: str = "",
        order_id=None,
        platform_order_id=None,
        staff_id=None,
    ) -> None:
        """One ledger row."""
        lot = self.lots[lot_id]
        lot.on_hand += on_hand
        self.writer.add(
            StockMovement,
            {
                "lot_id": lot_id,
                "sku_id": lot.sku_id,
                "kind": kind,
                "on_hand_delta": on_hand,
                "reserved_delta": reserved,
                "order_id": order_id,
                "flash_sale_id": None,
                "platform_order_id": platform_order_id,
                "staff_id": staff_id,
                "reason": reason,
                "created_at": at,
            },
        )

    def pack(self, day: date, packed_at: datetime, demand: dict[int, int], bad: bool) -> None:
        """The day's batch, from harvest to packing, with a lot per SKU the day's orders need
        (and some to spare)."""
        ctx, rng = self.context, self.rng
        wanted = {sku_id: units for sku_id, units in demand.items() if units}
        if not wanted:
            return
        received = {
            sku_id: int(units * rng.uniform(1.08, 1.35)) + rng.randint(2, 6)
            for sku_id, units in wanted.items()
        }
        by_grade: dict[int, int] = {}
        for sku_id, count in received.items():
            sku = ctx.skus_by_id[sku_id]
            by_grade[sku.grade_id] = by_grade.get(sku.grade_id, 0) + count * sku.pack_weight_g
        weight = sum(by_grade.values())
        harvested_at = packed_at - timedelta(hours=30)
        sea_area = rng.choice(ctx.sea_area_ids)
        harvest_id = self.writer.add(
            Harvest,
            {"sea_area_id": sea_area, "harvested_at": harvested_at, "weight_g": int(weight * 1.01)},
        )
        code = f"HIST-{day:%Y%m%d}"
        batch_id = self.writer.add(
            Batch,
            {
                "plant_id": ctx.plant_id,
                "product_line_id": ctx.product_line_id,
                "harvest_id": harvest_id,
                "code": code,
                "status": "PACKED",
                "opened_at": harvested_at,
            },
        )
        steps = ctx.steps
        for position, step in enumerate(steps):
            at = harvested_at + timedelta(hours=1 + 28 * position / max(len(steps) - 1, 1))
            at = min(at, packed_at)
            if step.kind == SORTING:
                measured = {
                    "total_count": sum(w // 150 for w in by_grade.values()),
                    "total_weight_g": weight,
                }
            elif step.kind == INSPECTION:
                measured = {"passed": True, "report_no": f"RS-QC-{code}", "lab": ctx.lab}
            elif step.kind == PACKING:
                measured = {}
            else:
                measured = _measure(step.measurements, rng, bad)
            self.writer.add(
                BatchStep,
                {
                    "batch_id": batch_id,
                    "step_id": step.id,
                    "performed_at": at,
                    "measurements": measured,
                    "reported_at": at,
                },
            )
            if step.kind == INSPECTION:
                self.writer.add(
                    Inspection,
                    {
                        "batch_id": batch_id,
                        "passed": True,
                        "report_no": f"RS-QC-{code}",
                        "lab": ctx.lab,
                        "inspected_at": at,
                    },
                )
        for grade_id, grade_weight in by_grade.items():
            self.writer.add(
                SortingResult,
                {
                    "batch_id": batch_id,
                    "grade_id": grade_id,
                    "count": grade_weight // 150,
                    "weight_g": grade_weight,
                },
            )
        for sku_id, count in sorted(received.items()):
            sku = ctx.skus_by_id[sku_id]
            use_by = packed_at + timedelta(hours=ctx.shelf_life_hours[sku.form])
            lot_id = self.writer.add(
                Lot,
                {
                    "sku_id": sku_id,
                    "batch_id": batch_id,
                    "code": f"{ctx.plant_key}-{code}-{sku.code}-1",
                    "received": count,
                    "on_hand": count,
                    "reserved": 0,
                    "packed_at": packed_at,
                    "use_by": use_by,
                    "status": SELLABLE,
                    "created_at": packed_at,
                },
            )
            self.lots[lot_id] = LotState(lot_id, sku_id, use_by, bad, 0, count)
            # appended in use-by order: a SKU's lots all have its form's shelf life
            self.queues.setdefault(sku_id, []).append(lot_id)
            self.move(lot_id, RECEIVE, packed_at, on_hand=count, reason="包装入库")
            spare = count - wanted[sku_id]
            if rng.random() < 0.04 and spare > 0:  # a stock-take finds a few broken packs
                broken = min(spare, rng.randint(1, 3))
                self.lots[lot_id].free -= broken
                self.move(
                    lot_id,
                    ADJUST,
                    packed_at + timedelta(hours=3),
                    on_hand=-broken,
                    reason="盘点：包装破损",
                    staff_id=ctx.staff_id,
                )

    def take(self, sku_id: int, quantity: int, at: datetime, until: datetime):
        """Units for an order line, first-expiring-first-out from lots sellable at `at` that
        stay sellable until `until`: [(lot id, units)]."""
        queue = self.queues.get(sku_id, [])
        while queue and (self.lots[queue[0]].free == 0 or self.lots[queue[0]].use_by <= at):
            queue.pop(0)
        taken, wanted = [], quantity
        for lot_id in queue:
            lot = self.lots[lot_id]
            if lot.free <= 0 or lot.use_by <= until:
                continue
            part = min(lot.free, wanted)
            lot.free -= part
            taken.append((lot_id, part))
            wanted -= part
            if wanted == 0:
                return taken
        raise AssertionError(f"demo history: SKU {sku_id} short of {wanted} at {at}")

    def expire(self, before: datetime) -> None:
        """Write off what is left on every lot whose use-by came before `before`."""
        for lot in self.lots.values():
            if lot.status == SELLABLE and lot.use_by <= before:
                lot.status = EXPIRED
                lot.free = 0
                if lot.on_hand:
                    self.move(lot.id, EXPIRE, lot.use_by, on_hand=-lot.on_hand, reason="到期下架")

    def finish(self, end: datetime) -> None:
        """Expire what is due by the end and write every lot's final on-hand and status."""
        self.expire(end)
        self.writer.flush()
        table = Lot.__table__
        statement = (
            update(table)
            .where(table.c.id == bindparam("lot_id"))
            .values(
                on_hand=bindparam("new_on_hand"),
                reserved=bindparam("new_reserved"),
                status=bindparam("new_status"),
            )
        )
        rows = [
            {
                "lot_id": lot.id,
                "new_on_hand": lot.on_hand,
                "new_reserved": lot.reserved,
                "new_status": lot.status,
            }
            for lot in self.lots.values()
        ]
        if rows:
            self.writer.session.connection().execute(statement, rows)


def _measure(measurements: list[dict], rng: random.Random, bad: bool) -> dict:
    """Values within each declared range; a bad batch was depurated short and warm."""
    values = {}
    for spec in measurements:
        if spec.get("required") is False and rng.random() < 0.5:
            continue
        low, high = spec.get("min", 0), spec.get("max", 100)
        if bad:
            value = low + (high - low) * rng.uniform(0.0, 0.1)
            if spec["key"] == "water_temp_c":
                value = low + (high - low) * rng.uniform(0.85, 1.0)
        else:
            value = low + (high - low) * rng.uniform(0.25, 0.6)
        values[spec["key"]] = round(value, 1)
    return values
