"""/console/api/adoption: staff read the rafts' units by state, one unit, the adopters and the
income per farming household, and lay out new units (money in fen, weights in grams). The
pages (backend/console/adoption_pages.py) load the same schemas. The views register on the
console API blueprint of `api.py`."""

from __future__ import annotations

from apiflask.fields import Integer, List, String
from apiflask.validators import Length, OneOf, Range
from marshmallow import ValidationError, validates_schema

from backend.adoption import layout, losses, reports
from backend.adoption import units as unit_rules
from backend.adoption.models import KINDS, REFUND, REPLACE
from backend.console.access import staff_required
from backend.console.api import bp
from backend.extensions import db
from backend.schemas import MAX_ID, In, day, identifier, text, whole
from backend.staff import permissions as perms
from backend.timeutil import to_shanghai_iso

MAX_PRICE = 10_000_000  # fen: 10 万元 for one unit is already far beyond any raft's
MAX_YIELD_G = 500_000  # 1000 斤
MAX_PARCELS = 20
ADOPTERS_PER_PAGE = 50


class UnitsIn(In):
    """A raft's units to lay out, all with the same terms."""

    sea_area_code = text("养殖海区", 30)
    farm_id = identifier("养殖户")
    product_line_code = text("品类", 30)
    raft = whole("筏号", 1, 999)
    positions = text("位置", 200, metadata={"description": "编号或范围，例如 1-24 或 1-12,15"})
    kind = String(
        required=True,
        validate=OneOf(list(KINDS), error="单元类型只能是吊绳、网笼或格子"),
        error_messages={"required": "请选择单元类型"},
        metadata={"label": "单元类型"},
    )
    seeded_on = day("投苗日期")
    adopt_until = day("认养截止日期")
    harvest_from = day("收获开始日期")
    harvest_to = day("收获结束日期")
    price = whole("认养价格（分）", 1, MAX_PRICE)
    yield_g = whole("收获重量（克）", 1, MAX_YIELD_G)
    max_parcels = whole("最多包裹数", 1, MAX_PARCELS)
    loss_terms = String(
        required=True,
        validate=OneOf([REPLACE, REFUND], error="损失条款只能是换单元或退款"),
        error_messages={"required": "请选择损失条款"},
        metadata={"label": "损失条款"},
    )
    loss_refund_percent = whole("损失退款比例（%）", 1, 100, required=False, load_default=50)


def _number(label: str, high: int = MAX_ID, default=None) -> Integer:
    """A whole number in a query string (text, so not a strict JSON number)."""
    return Integer(
        load_default=default,
        validate=Range(1, high, error=f"{label}需在 1 到 {high} 之间"),
        error_messages={"invalid": f"{label}必须是整数"},
    )


class UnitsQuery(In):
    farm_id = _number("养殖户")
    sea_area_id = _number("养殖海区")
    raft = _number("筏号", 999)
    state = String(load_default=None, validate=OneOf(list(reports.STATES)))


class AdoptersQuery(In):
    farm_id = _number("养殖户")
    status = String(load_default=None, validate=OneOf(list(reports.ADOPTION_STATES)))
    number = String(load_default=None, validate=Length(max=20))
    page = _number("页码", 10_000, default=1)


class MonthQuery(In):
    month = String(load_default=None)


def _times(row: dict) -> dict:
    """Stored UTC times as Asia/Shanghai ISO strings, dates as ISO dates."""
    out = {}
    for key, value in row.items():
        if hasattr(value, "tzinfo"):
            out[key] = to_shanghai_iso(value)
        elif hasattr(value, "isoformat"):
            out[key] = value.isoformat()
        else:
            out[key] = value
    return out


@bp.get("/adoption/units")
@staff_required(perms.ADOPTION_VIEW)
@bp.input(UnitsQuery, location="query", arg_name="query")
@bp.doc(summary="认养单元：按海区、筏排列，含各状态数量")
def adoption_units(query, staff):
    return reports.overview(db.session, **query)


@bp.get("/adoption/units/<int:unit_id>")
@staff_required(perms.ADOPTION_VIEW)
def adoption_unit(unit_id: int, staff):
    detail = reports.unit_detail(db.session, unit_id)
    detail["held_until"] = to_shanghai_iso(detail["held_until"])
    detail["lost_at"] = to_shanghai_iso(detail["lost_at"])
    detail["updates"] = _times(detail["updates"])
    detail["adoptions"] = [_times(a) for a in detail["adoptions"]]
    detail["deliveries"] = [_times(d) for d in detail["deliveries"]]
    return detail


@bp.post("/adoption/units")
@staff_required(perms.ADOPTION_MANAGE)
@bp.input(UnitsIn, arg_name="body")
@bp.doc(summary="在一个筏上新建认养单元（价格单位为分，重量单位为克）")
def create_adoption_units(body, staff):
    made = layout.lay_out_units(db.session, staff=staff, **body)
    return {"created": len(made), "units": [unit_rules.view(u) for u in made]}, 201


@bp.get("/adoption/adopters")
@staff_required(perms.ADOPTION_VIEW)
@bp.input(AdoptersQuery, location="query", arg_name="query")
def adoption_adopters(query, staff):
    rows, total = reports.adopters(db.session, **query, page_size=ADOPTERS_PER_PAGE)
    return {"items": [_times(r) for r in rows], "total": total, "page": query["page"]}


@bp.get("/adoption/income")
@staff_required(perms.ADOPTION_VIEW)
@bp.input(MonthQuery, location="query", arg_name="query")
@bp.doc(summary="各养殖户某月的认养收入（分）与单元认养情况")
def adoption_income(query, staff):
    return reports.income_by_household(db.session, month=query["month"] or reports.current_month())


class LossIn(In):
    """Units lost at sea: their ids, or a raft of a sea area (all of it, or some positions)."""

    unit_ids = List(identifier("认养单元"), validate=Length(1, 5000, error="请选择损失的认养单元"))
    sea_area_id = identifier("养殖海区", required=False)
    raft = whole("筏号", 1, 999, required=False)
    positions = text("位置", 200, required=False)
    reason = text("损失原因", 100, metadata={"description": "如：台风、病害"})

    @validates_schema
    def _units_or_raft(self, data, **_kwargs):
        if not data.get("unit_ids") and not (data.get("sea_area_id") and data.get("raft")):
            raise ValidationError("请选择损失的认养单元：填写单元，或海区与筏号", "unit_ids")


def loss_units(body: dict) -> list[int]:
    """The unit ids a loss declaration names (a whole raft when no positions are given)."""
    if body.get("unit_ids"):
        return body["unit_ids"]
    positions = layout.parse_positions(body["positions"]) if body.get("positions") else None
    return reports.unit_ids(
        db.session, sea_area_id=body["sea_area_id"], raft=body["raft"], positions=positions
    )


@bp.post("/adoption/losses")
@staff_required(perms.ADOPTION_MANAGE)
@bp.input(LossIn, arg_name="body")
@bp.doc(summary="标记认养单元损失（台风、病害），按条款为每位认养人换单元或退款，仅一次")
def declare_adoption_loss(body, staff):
    unit_ids = loss_units(body)
    return losses.declare_loss(
        db.session, unit_ids=unit_ids, reason=body["reason"], staff_id=staff.id
    ), 201
