"""/console/api/adoption: staff read the rafts' units by state, one unit, the adopters and the
income per farming household, and lay out new units (money in fen, weights in grams). The
pages (backend/console/adoption_pages.py) load the same schemas. The views register on the
console API blueprint of `api.py`."""

from __future__ import annotations

from apiflask.fields import String
from apiflask.validators import OneOf

from backend.adoption import layout, reports
from backend.adoption import units as unit_rules
from backend.adoption.models import KINDS, REFUND, REPLACE
from backend.console.access import staff_required
from backend.console.api import bp
from backend.extensions import db
from backend.schemas import In, day, identifier, text, whole
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


class UnitsQuery(In):
    farm_id = identifier("养殖户", required=False, load_default=None)
    sea_area_id = identifier("养殖海区", required=False, load_default=None)
    raft = whole("筏号", 1, 999, required=False, load_default=None)
    state = String(load_default=None, validate=OneOf(list(reports.STATES)))


class AdoptersQuery(In):
    farm_id = identifier("养殖户", required=False, load_default=None)
    status = String(load_default=None, validate=OneOf(list(reports.ADOPTION_STATES)))
    number = String(load_default=None)
    page = whole("页码", 1, 10_000, required=False, load_default=1)


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
