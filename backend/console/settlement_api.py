"""/console/api: wholesale prices per SKU and seller tier, sellers' tiers, dead-on-arrival
compensation on drop-shipped orders, and every seller's monthly statement (CSV, settle)."""

from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.fields import String

from backend.console.access import staff_required
from backend.csv_export import csv_download
from backend.extensions import db
from backend.schemas import In
from backend.settlement import prices
from backend.settlement import service as settlement
from backend.settlement.schemas import (
    CompensationIn,
    PriceIn,
    SellerTierIn,
    SettleIn,
    TierIn,
)
from backend.staff import permissions as perms
from backend.timeutil import to_shanghai_iso

bp = APIBlueprint("settlement_api", __name__, tag="Console: settlement")


class MonthQuery(In):
    month = String(load_default=None)


def tier_view(tier) -> dict:
    return {"id": tier.id, "code": tier.code, "name": tier.name, "is_default": tier.is_default}


def _shown(statement: dict) -> dict:
    """Times as Asia/Shanghai ISO strings."""
    out = dict(statement)
    if out.get("settled"):
        out["settled"] = {
            **out["settled"],
            "settled_at": to_shanghai_iso(out["settled"]["settled_at"]),
        }
    if "entries" in out:
        out["entries"] = [{**e, "at": to_shanghai_iso(e["at"])} for e in out["entries"]]
    return out


@bp.get("/seller-tiers")
@staff_required(perms.SETTLEMENT)
def list_tiers(staff):
    items = [tier_view(t) for t in prices.list_tiers(db.session)]
    db.session.commit()  # the default tier, created at first need
    return {"items": items}


@bp.post("/seller-tiers")
@staff_required(perms.SETTLEMENT)
@bp.input(TierIn, arg_name="body")
def create_tier(body, staff):
    return tier_view(prices.create_tier(db.session, **body)), 201


@bp.put("/sellers/<int:seller_id>/tier")
@staff_required(perms.SETTLEMENT)
@bp.input(SellerTierIn, arg_name="body")
def set_seller_tier(seller_id: int, body, staff):
    tier = prices.set_seller_tier(
        db.session, seller_id=seller_id, tier_id=body["tier_id"], staff_id=staff.id
    )
    return {"seller_id": seller_id, "tier": tier_view(tier)}


@bp.get("/wholesale-prices")
@staff_required(perms.SETTLEMENT)
def price_table(staff):
    table = prices.price_table(db.session)
    db.session.commit()
    return table


@bp.put("/wholesale-prices")
@staff_required(perms.SETTLEMENT)
@bp.input(PriceIn, arg_name="body")
def set_price(body, staff):
    row = prices.set_wholesale_price(db.session, **body, staff_id=staff.id)
    return {"sku_id": row.sku_id, "tier_id": row.tier_id, "price": row.price}


@bp.post("/platform-orders/<int:platform_order_id>/dead-on-arrival-compensation")
@staff_required(perms.SETTLEMENT)
@bp.input(CompensationIn, arg_name="body")
def compensate(platform_order_id: int, body, staff):
    entry = settlement.record_dead_on_arrival(
        db.session, platform_order_id=platform_order_id, staff_id=staff.id, **body
    )
    return {"id": entry.id, "month": entry.month, "amount": entry.amount}, 201


@bp.get("/statements")
@staff_required(perms.SETTLEMENT)
@bp.input(MonthQuery, location="query", arg_name="query")
def list_statements(query, staff):
    month = query["month"] or settlement.current_month()
    items = settlement.all_statements(db.session, month=month)
    return {"month": month, "items": [_shown(i) for i in items], "total": len(items)}


@bp.get("/statements/<int:seller_id>/<month>")
@staff_required(perms.SETTLEMENT)
def get_statement(seller_id: int, month: str, staff):
    return _shown(settlement.statement(db.session, seller_id=seller_id, month=month))


@bp.get("/statements/<int:seller_id>/<month>/csv")
@staff_required(perms.SETTLEMENT)
def statement_csv(seller_id: int, month: str, staff):
    body = settlement.statement_csv(db.session, seller_id=seller_id, month=month)
    filename = f"statement-{seller_id}-{settlement.check_month(month)}.csv"
    return csv_download(body, filename)


@bp.post("/statements/<int:seller_id>/<month>/settle")
@staff_required(perms.SETTLEMENT)
@bp.input(SettleIn, arg_name="body")
def settle(seller_id: int, month: str, body, staff):
    done = settlement.settle_statement(
        db.session, seller_id=seller_id, month=month, staff_id=staff.id, note=body["note"]
    )
    return _shown(done)
