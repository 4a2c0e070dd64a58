"""Stock in lots: FEFO holds, the ledger, expiry at use-by, staff adjustments, fresh reads."""

from datetime import timedelta

import pytest
from rq.registry import ScheduledJobRegistry

from backend.errors import RuleBroken
from backend.extensions import db
from backend.flows import unpaid_orders
from backend.inventory import expiry
from backend.inventory import queries as inventory_queries
from backend.inventory import service as inventory
from backend.inventory.models import Lot, StockMovement, StockReservation
from backend.orders.models import Order
from backend.staff.models import Staff, StaffAlert
from backend.timeutil import utcnow
from tests.helpers import stock_up


def _lot(app, lot_id) -> Lot:
    with app.app_context():
        lot = db.session.get(Lot, lot_id)
        db.session.expunge_all()
        return lot


def _holds(app, order_id) -> list[tuple[int, int, str]]:
    with app.app_context():
        return [
            (h.lot_id, h.quantity, h.status)
            for h in db.session.scalars(
                db.select(StockReservation)
                .where(StockReservation.order_id == order_id)
                .order_by(StockReservation.id)
            )
        ]


def _kinds(app, order_id) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                db.select(StockMovement.kind)
                .where(StockMovement.order_id == order_id)
                .order_by(StockMovement.id)
            )
        )


@pytest.fixture
def two_lots(app, store):
    """A gift box SKU with an older lot (expires in 24 h) and a fresh one (expires in 72 h)."""
    sku = store["RS-GIFT-L-8"]
    older = stock_up(app, {"RS-GIFT-L-8": 5}, packed_at=utcnow() - timedelta(hours=48))[0]
    with app.app_context():
        fresh = db.session.scalar(db.select(Lot.id).where(Lot.sku_id == sku, Lot.id != older))
    return sku, older, fresh


def test_orders_take_the_first_expiring_lot_first(app, shopper, two_lots):
    sku, older, fresh = two_lots
    order = shopper.order([(sku, 7)]).json
    assert sorted(_holds(app, order["id"])) == sorted([(older, 5, "HELD"), (fresh, 2, "HELD")])
    assert _lot(app, older).reserved == 5 and _lot(app, fresh).reserved == 2
    product = shopper.client.get("/api/v1/products").json["items"]
    gift = next(s for p in product for s in p["skus"] if s["id"] == sku)
    assert gift["stock"] == 148 and gift["lot"]["code"] == _lot(app, fresh).code


def test_the_catalogue_shows_the_lot_on_sale(app, client, two_lots):
    sku, older, _ = two_lots
    gift = next(
        s for p in client.get("/api/v1/products").json["items"] for s in p["skus"] if s["id"] == sku
    )
    lot = _lot(app, older)
    assert gift["lot"]["code"] == lot.code and gift["lot"]["sea_area"] == "海阳所东湾 1 号海区"
    assert gift["lot"]["use_by"].endswith("+08:00") and gift["lot"]["harvested_at"]


def test_every_movement_is_a_ledger_row(app, shopper, staff_client, store):
    sku = store["RS-LIVE-L-5"]
    order = shopper.buy([(sku, 2)])
    staff_client.post(
        f"/console/api/orders/{order['id']}/ship",
        json={"carrier": "顺丰", "tracking_no": "SF000111"},
    )
    assert _kinds(app, order["id"]) == ["RESERVE", "COMMIT", "SHIP"]
    cancelled = shopper.order([(sku, 1)]).json
    shopper.post(f"/api/v1/orders/{cancelled['id']}/cancel")
    assert _kinds(app, cancelled["id"]) == ["RESERVE", "RELEASE"]
    with app.app_context():
        assert inventory_queries.ledger_mismatches(db.session) == []
        admin = db.session.scalar(db.select(Staff.id))
        assert inventory.return_to_stock(db.session, order_id=order["id"], staff_id=admin) == 2
        db.session.commit()
        assert inventory_queries.ledger_mismatches(db.session) == []
    assert _kinds(app, order["id"])[-1] == "RETURN"


def _bulk_buyer(app, monkeypatch) -> None:
    """One buyer may hold a whole lot's worth unpaid (a company's gift order)."""
    monkeypatch.setitem(app.config, "MAX_HELD_UNITS_PER_CUSTOMER", 99)
    monkeypatch.setitem(app.config, "MAX_HELD_UNITS_PER_SKU_PER_CUSTOMER", 99)


def test_adjustments_need_a_reason_and_never_go_below_holds(app, shopper, store, monkeypatch):
    _bulk_buyer(app, monkeypatch)
    sku = store["RS-GIFT-XL-8"]
    assert shopper.order([(sku, 90)]).status_code == 201
    with app.app_context():
        lot = db.session.scalar(db.select(Lot).where(Lot.sku_id == sku))
        admin = db.session.scalar(db.select(Staff.id))
        with pytest.raises(RuleBroken) as error:
            inventory.adjust(db.session, lot_id=lot.id, delta=-31, reason="盘亏", staff_id=admin)
        assert error.value.code == "ADJUST_BELOW_RESERVED"
        db.session.rollback()
        with pytest.raises(RuleBroken):
            inventory.adjust(db.session, lot_id=lot.id, delta=-1, reason=" ", staff_id=admin)
        db.session.rollback()
        adjusted = inventory.adjust(
            db.session, lot_id=lot.id, delta=-30, reason="运输破损", staff_id=admin
        )
        assert (adjusted.on_hand, adjusted.reserved) == (90, 90)
        row = db.session.scalar(db.select(StockMovement).where(StockMovement.kind == "ADJUST"))
        assert (row.on_hand_delta, row.staff_id, row.reason) == (-30, admin, "运输破损")


def test_packing_schedules_expiry_at_use_by(app, store):
    with app.app_context():
        lot = db.session.scalar(db.select(Lot))
        registry = ScheduledJobRegistry("default", connection=app.extensions["heli_redis"])
        scheduled = registry.get_scheduled_time(f"expire-lot-{lot.id}")
    assert abs((scheduled.replace(tzinfo=None) - lot.use_by).total_seconds()) < 1


def test_expiry_moves_holds_to_another_lot_and_writes_off_the_rest(app, shopper, two_lots):
    sku, older, fresh = two_lots
    paid = shopper.buy([(sku, 3)])
    unpaid = shopper.order([(sku, 1)]).json
    assert _holds(app, unpaid["id"]) == [(older, 1, "HELD")]
    with app.app_context():
        lot = db.session.get(Lot, older)
        result = expiry.expire(db.session, lot_id=older, now=lot.use_by)
        db.session.commit()
        assert sorted(result["moved"]) == sorted([paid["id"], unpaid["id"]])
        assert result["expired"] == 5  # the held units now come from the fresh lot
        assert inventory_queries.ledger_mismatches(db.session) == []
    assert _lot(app, older).status == "EXPIRED" and _lot(app, older).on_hand == 0
    assert _holds(app, paid["id"])[-1] == (fresh, 3, "COMMITTED")
    assert _holds(app, unpaid["id"])[-1] == (fresh, 1, "HELD")
    assert _lot(app, fresh).reserved == 4


def test_expiry_cancels_unpaid_orders_it_cannot_serve_and_tells_staff_of_paid_ones(
    app, shopper, other_shopper, store, monkeypatch
):
    _bulk_buyer(app, monkeypatch)
    sku = store["RS-GIFT-XL-8"]
    paid = shopper.buy([(sku, 99)])
    unpaid = other_shopper.order([(sku, 20)]).json
    with app.app_context():
        lot_id = db.session.scalar(db.select(Lot.id).where(Lot.sku_id == sku))
        db.session.execute(
            db.update(Lot).where(Lot.id == lot_id).values(use_by=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        result = unpaid_orders.take_lot_off_sale(db.session, lot_id=lot_id)
        assert result["unmoved_unpaid"] == [unpaid["id"]]
        assert result["unmoved_paid"] == [paid["id"]]
        cancelled = db.session.get(Order, unpaid["id"])
        assert cancelled.status == "CANCELLED" and "到期" in cancelled.cancel_reason
        alert = db.session.scalar(db.select(StaffAlert))
        assert alert.kind == "PAID_ORDER_LOT_EXPIRED" and alert.details["order_id"] == paid["id"]
        assert inventory_queries.ledger_mismatches(db.session) == []
    detail = other_shopper.get(f"/api/v1/orders/{unpaid['id']}").json
    assert detail["status"] == "CANCELLED" and "批次已到期" in detail["cancel_reason"]
    assert _lot(app, lot_id).on_hand == 0


def test_expired_lots_stop_selling_at_use_by_even_before_the_job_runs(app, shopper, two_lots):
    sku, older, fresh = two_lots
    with app.app_context():
        db.session.execute(
            db.update(Lot).where(Lot.id == older).values(use_by=utcnow() + timedelta(seconds=1.2))
        )
        db.session.commit()
    import time

    time.sleep(1.3)
    order = shopper.order([(sku, 1)]).json
    assert _holds(app, order["id"]) == [(fresh, 1, "HELD")]
    gift = next(
        s
        for p in shopper.client.get("/api/v1/products").json["items"]
        for s in p["skus"]
        if s["id"] == sku
    )
    assert gift["stock"] == 149


def test_stock_reads_follow_the_ledger_at_once(app, client, shopper, store):
    sku = store["RS-LIVE-S-5"]

    def shown():
        return next(
            s
            for p in client.get("/api/v1/products").json["items"]
            for s in p["skus"]
            if s["id"] == sku
        )["stock"]

    assert shown() == 600
    with app.app_context():
        assert inventory.available(db.session, [sku]) == {sku: 600}
    shopper.order([(sku, 5)])
    assert shown() == 595
    with app.app_context():
        assert inventory.available(db.session, [sku]) == {sku: 595}


def test_sweeper_expires_lots_whose_job_was_lost(app, store):
    from jobs.inventory import expire_due_lots, report_expiring_lots

    with app.app_context():
        lot = db.session.scalar(db.select(Lot))
        db.session.execute(
            db.update(Lot).where(Lot.id == lot.id).values(use_by=utcnow() + timedelta(hours=3))
        )
        db.session.commit()
        assert report_expiring_lots() == 1
        alert = db.session.scalar(db.select(StaffAlert))
        assert alert.kind == "LOTS_EXPIRING" and alert.details["lots"][0]["code"] == lot.code
        db.session.execute(
            db.update(Lot).where(Lot.id == lot.id).values(use_by=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()
        app.extensions["heli_redis"].flushdb()
        assert expire_due_lots() == 1
