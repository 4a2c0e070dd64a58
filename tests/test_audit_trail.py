"""Every staff action that changes something leaves one audit record — who, what object,
before and after — in the transaction of the change: after-sales decisions, stock adjustments,
staff accounts and roles, wholesale prices and seller tiers."""

from __future__ import annotations

import re

from backend.audit.models import AuditRecord
from backend.extensions import db
from backend.inventory.models import Lot

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def records(app, action: str) -> list[AuditRecord]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                db.select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return rows


def test_an_after_sale_decision_is_audited_with_its_amount(app, shopper, console_as, store):
    finance = console_as("finance")
    order = shopper.buy([(store["RS-LIVE-L-5"], 1)])
    case = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={"type": "REFUND_ONLY", "reason": "不想要了"},
    ).json
    res = finance.post(f"/console/api/after-sales/{case['id']}/approve", json={"note": "同意"})
    assert res.status_code == 200
    again = finance.post(f"/console/api/after-sales/{case['id']}/approve", json={})
    assert again.status_code == 409
    [entry] = records(app, "aftersale.approve")  # the refused second decision left none
    assert entry.staff_id == finance.staff_id and entry.target_id == str(case["id"])
    assert entry.after == {
        "status": "REFUNDING",
        "refund_amount": case["refund_amount"],
        "note": "同意",
    }
    assert order["number"] in entry.summary


def test_a_stock_adjustment_is_audited_and_a_refused_one_is_not(app, console_as, store):
    warehouse = console_as("warehouse")
    with app.app_context():
        lot = db.session.scalars(db.select(Lot).order_by(Lot.id)).first()
        lot_id, on_hand = lot.id, lot.on_hand
        db.session.remove()
    token = TOKEN.search(warehouse.get("/console/lots").get_data(as_text=True)).group(1)
    res = warehouse.post(
        f"/console/lots/{lot_id}/adjust",
        data={"csrf_token": token, "delta": "-3", "reason": "盘点少了 3 份"},
        follow_redirects=True,
    )
    assert "已调整" in res.get_data(as_text=True)
    refused = warehouse.post(
        f"/console/lots/{lot_id}/adjust",
        data={"csrf_token": token, "delta": str(-(on_hand + 1)), "reason": "错"},
        follow_redirects=True,
    )
    assert "不能少于已锁定数量" in refused.get_data(as_text=True)
    [entry] = records(app, "stock.adjust")
    assert entry.before == {"on_hand": on_hand}
    assert entry.after == {"on_hand": on_hand - 3, "reason": "盘点少了 3 份"}


def test_staff_accounts_are_audited_and_a_password_never_is(app, console_as, store):
    admin = console_as("admin")
    made = admin.post(
        "/console/api/staff",
        json={
            "username": "xiaowang",
            "display_name": "小王",
            "role": "host",
            "password": "Oyster-2026!x",
        },
    )
    assert made.status_code == 201, made.json
    staff_id = made.json["id"]
    admin.post(f"/console/api/staff/{staff_id}/role", json={"role": "operations"})
    admin.post(f"/console/api/staff/{staff_id}/password", json={"password": "Another-2026!y"})
    admin.post(f"/console/api/staff/{staff_id}/disable", json={})
    actions = [
        (r.action, r.before, r.after)
        for action in ("staff.create", "staff.role", "staff.password", "staff.active")
        for r in records(app, action)
        if r.target_id == str(staff_id)
    ]
    assert actions == [
        ("staff.create", None, {"role": "host", "active": True}),
        ("staff.role", {"role": "host"}, {"role": "operations"}),
        ("staff.password", None, None),
        ("staff.active", {"active": True}, {"active": False}),
    ]
    with app.app_context():
        dumped = str(
            [(r.summary, r.before, r.after) for r in db.session.scalars(db.select(AuditRecord))]
        )
        db.session.remove()
    assert "Another-2026" not in dumped and "Oyster-2026" not in dumped


def test_licence_grants_renewals_and_suspensions_are_audited(app, console_as, licensed):
    brand = console_as("brand")
    with app.app_context():
        from backend.sellers.models import BrandLicence

        licence_id = db.session.scalar(
            db.select(BrandLicence.id).where(BrandLicence.seller_id == licensed["seller_id"])
        )
        db.session.remove()
    [granted] = records(app, "licence.grant")
    assert granted.staff_id is None and granted.staff_name == "系统"
    assert (
        brand.post(
            f"/console/api/licences/{licence_id}/suspend", json={"note": "抽检不合格"}
        ).status_code
        == 200
    )
    assert (
        brand.post(
            f"/console/api/licences/{licence_id}/resume", json={"note": "复检合格"}
        ).status_code
        == 200
    )
    [suspended] = records(app, "licence.suspend")
    [resumed] = records(app, "licence.resume")
    assert suspended.staff_id == brand.staff_id and suspended.after["status"] == "SUSPENDED"
    assert resumed.before["status"] == "SUSPENDED" and resumed.after["status"] == "ACTIVE"


def test_shipping_zones_print_runs_and_onboarding_decisions_are_audited(app, console_as, licensed):
    admin = console_as("admin")
    saved = admin.put(
        "/console/api/shipping-zones",
        json={
            "province": "新疆",
            "ships_live": False,
            "first_weight_fee": 2500,
            "extra_kg_fee": 1200,
            "cold_chain_fee": 0,
            "days": "5-7 天",
        },
    )
    assert saved.status_code in (200, 201), saved.json
    [zone] = records(app, "shipping.zone_save")
    assert zone.staff_id == admin.staff_id and zone.after["first_weight_fee"] == 2500
    run = admin.post(
        "/console/api/print-runs",
        json={"seller_id": licensed["seller_id"], "lot_id": licensed["lot_id"], "quantity": 5},
    )
    assert run.status_code == 201, run.json
    [printed] = records(app, "codes.print_run")
    assert printed.after["quantity"] == 5 and "海阳所老于家牡蛎" in printed.summary


def test_a_flash_sale_started_by_staff_is_audited_with_its_terms(app, store, console_as):
    host = console_as("operations")
    from backend.live import flash_sales

    with app.app_context():
        sale = flash_sales.start_sale(
            db.session,
            sku_id=store["RS-LIVE-L-5"],
            units=20,
            price=9900,
            seconds=300,
            per_person_limit=2,
            pay_minutes=10,
            staff_id=host.staff_id,
        )
        sale_id = sale.id
        db.session.remove()
    [entry] = records(app, "flash_sale.start")
    assert entry.staff_id == host.staff_id and entry.target_id == str(sale_id)
    assert entry.after == {"price": 9900, "units": 20, "per_person_limit": 2}
