"""Flash sales: units leave the lots at start, claims race through one Redis script and become
orders to pay, unpaid units come back, leftovers return at the end, and everything reconciles."""

import threading
import uuid

import pytest

from backend.extensions import db
from backend.inventory import queries as inventory_queries
from backend.live import flash_sales
from backend.live.models import FlashClaim
from backend.orders.models import Order
from tests.helpers import ADDRESS, Shopper, sku_stock


@pytest.fixture
def sale(app, staff_client, store):
    """50 units of 5-jin large live oysters at 59 yuan, limit 2 a person, for 10 minutes."""
    res = staff_client.post(
        "/console/api/flash-sales",
        json={
            "sku_id": store["RS-LIVE-L-5"],
            "units": 50,
            "price": 5900,
            "seconds": 600,
            "per_person_limit": 2,
            "pay_minutes": 5,
        },
    )
    assert res.status_code == 201, res.json
    return res.json


def _claim(shopper, sale_id, quantity=1, key=None, **body):
    return shopper.post(
        f"/api/v1/flash-sales/{sale_id}/claims",
        json={"quantity": quantity, **body},
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


def _reconcile(app, sale_id):
    with app.app_context():
        return flash_sales.reconcile(db.session, sale_id=sale_id)


def test_a_claim_becomes_an_order_at_the_sale_price(app, shopper, sale, store):
    assert sku_stock(app, store["RS-LIVE-L-5"]) == (400, 50)  # the sale holds its units
    res = _claim(shopper, sale["id"], 2)
    assert res.status_code == 201
    order = res.json
    assert order["status"] == "PENDING_PAYMENT" and order["total"] == 11800
    assert order["items"][0]["unit_price"] == 5900
    view = shopper.client.get(f"/api/v1/flash-sales/{sale['id']}").json
    assert (view["remaining"], view["held"], view["paid"]) == (48, 2, 0)
    assert 0 < view["seconds_left"] <= 600
    assert sku_stock(app, store["RS-LIVE-L-5"]) == (400, 50)
    assert _reconcile(app, sale["id"])["balanced"] is True


def test_claims_need_an_address_before_paying_and_pay_normally(app, shopper, sale):
    order = _claim(shopper, sale["id"]).json
    no_address = shopper.post(f"/api/v1/orders/{order['id']}/pay")
    assert no_address.status_code == 422 and no_address.json["code"] == "ADDRESS_REQUIRED"
    assert shopper.put(f"/api/v1/orders/{order['id']}/address", json=ADDRESS).status_code == 200
    shopper.confirm_payment(shopper.pay(order["id"]))
    from tests.helpers import wait_for

    wait_for(lambda: shopper.get(f"/api/v1/orders/{order['id']}").json["status"] == "PAID")
    view = shopper.client.get(f"/api/v1/flash-sales/{sale['id']}").json
    assert (view["held"], view["paid"]) == (0, 1)
    assert _reconcile(app, sale["id"])["balanced"] is True


def test_per_person_limit_and_replayed_keys(app, shopper, sale):
    first = _claim(shopper, sale["id"], 1, key="claim-key-0001")
    again = _claim(shopper, sale["id"], 1, key="claim-key-0001")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json["id"] == first.json["id"]
    assert _claim(shopper, sale["id"], 1).status_code == 201
    over = _claim(shopper, sale["id"], 1)
    assert over.status_code == 422 and over.json["code"] == "OVER_PERSON_LIMIT"
    assert "限购" in over.json["message"]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(FlashClaim)) == 2


def test_bad_claims(app, client, shopper, sale):
    for quantity in (0, -1, 100, 1.5, "1"):
        assert _claim(shopper, sale["id"], quantity).status_code == 400
    assert (
        shopper.post(f"/api/v1/flash-sales/{sale['id']}/claims", json={"quantity": 1}).status_code
        == 400
    )  # no Idempotency-Key
    anonymous = client.post(
        f"/api/v1/flash-sales/{sale['id']}/claims",
        json={"quantity": 1},
        headers={"Idempotency-Key": "anon-key-0001"},
    )
    assert anonymous.status_code == 401
    unknown = _claim(shopper, 999999)
    assert unknown.status_code == 404 and unknown.json["code"] == "FLASH_SALE_NOT_FOUND"


def test_claims_after_the_end_are_refused_and_leftovers_go_back(
    app, shopper, staff_client, sale, store
):
    _claim(shopper, sale["id"], 2)
    stopped = staff_client.post(f"/console/api/flash-sales/{sale['id']}/stop", json={})
    assert stopped.status_code == 200 and stopped.json["status"] == "ENDED"
    late = _claim(shopper, sale["id"], 1)
    assert late.status_code == 422 and late.json["code"] == "FLASH_SALE_ENDED"
    assert sku_stock(app, store["RS-LIVE-L-5"]) == (400, 2)  # 48 units back on sale
    assert _reconcile(app, sale["id"])["balanced"] is True


def test_unpaid_claims_return_units_to_the_running_sale(app, shopper, other_shopper, sale):
    order = _claim(shopper, sale["id"], 2).json
    assert shopper.post(f"/api/v1/orders/{order['id']}/cancel").status_code == 200
    view = shopper.client.get(f"/api/v1/flash-sales/{sale['id']}").json
    assert (view["remaining"], view["held"]) == (50, 0)
    assert _claim(shopper, sale["id"], 2).status_code == 201  # the limit was given back too
    assert _reconcile(app, sale["id"])["balanced"] is True
    with app.app_context():
        assert inventory_queries.ledger_mismatches(db.session) == []


def test_unpaid_claims_after_the_end_go_back_to_stock(app, shopper, staff_client, sale, store):
    order = _claim(shopper, sale["id"], 2).json
    staff_client.post(f"/console/api/flash-sales/{sale['id']}/stop", json={})
    from datetime import timedelta

    from backend.timeutil import utcnow
    from jobs.orders import expire_unpaid_order

    with app.app_context():
        db.session.execute(
            db.update(Order)
            .where(Order.id == order["id"])
            .values(pay_deadline=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        assert expire_unpaid_order(order["id"]) == "cancelled"
    assert sku_stock(app, store["RS-LIVE-L-5"]) == (400, 0)
    assert _reconcile(app, sale["id"])["balanced"] is True


def test_units_lost_to_an_expired_lot_leave_the_running_sale(app, shopper, sale, store):
    """The lots holding the sale's units reach their use-by with no other lot to take them from:
    the sale offers none of them any more, staff are told, and the books still balance."""
    from datetime import timedelta

    from backend.inventory.models import Lot
    from backend.staff.models import StaffAlert
    from backend.timeutil import utcnow
    from jobs.inventory import expire_lot

    with app.app_context():
        lot_ids = list(db.session.scalars(db.select(Lot.id).where(Lot.sku_id == sale["sku_id"])))
        db.session.execute(
            db.update(Lot).where(Lot.id.in_(lot_ids)).values(use_by=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        lost = [pair for lot_id in lot_ids for pair in expire_lot(lot_id)["unmoved_sale"]]
        assert sum(units for _, units in lost) == 50
        alerts = db.session.scalars(
            db.select(StaffAlert).where(StaffAlert.kind == "FLASH_SALE_LOT_EXPIRED")
        ).all()
        assert sum(alert.details["units"] for alert in alerts) == 50
        assert {alert.details["flash_sale_id"] for alert in alerts} == {sale["id"]}
        assert inventory_queries.ledger_mismatches(db.session) == []
    view = shopper.client.get(f"/api/v1/flash-sales/{sale['id']}").json
    assert (view["remaining"], view["sold_out"]) == (0, True)
    refused = _claim(shopper, sale["id"], 1)
    assert refused.status_code == 409 and refused.json["code"] == "SOLD_OUT"
    report = _reconcile(app, sale["id"])
    assert (report["in_sale"], report["redis_remaining"], report["released"]) == (0, 0, 50)
    assert report["balanced"] is True


def test_an_unpaid_claim_on_an_expired_lot_is_cancelled_and_the_sale_balances(app, shopper, sale):
    """The claim's own hold cannot move either: its order is cancelled, and its units went back
    to the expired lot, not to the sale (nothing is given back in Redis)."""
    from datetime import timedelta

    from backend.inventory.models import Lot
    from backend.timeutil import utcnow
    from jobs.inventory import expire_lot

    order = _claim(shopper, sale["id"], 2).json
    with app.app_context():
        lot_ids = list(db.session.scalars(db.select(Lot.id).where(Lot.sku_id == sale["sku_id"])))
        db.session.execute(
            db.update(Lot).where(Lot.id.in_(lot_ids)).values(use_by=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        for lot_id in lot_ids:
            expire_lot(lot_id)
    assert shopper.get(f"/api/v1/orders/{order['id']}").json["status"] == "CANCELLED"
    view = shopper.client.get(f"/api/v1/flash-sales/{sale['id']}").json
    assert (view["remaining"], view["held"]) == (0, 0)
    report = _reconcile(app, sale["id"])
    assert (report["in_sale"], report["redis_remaining"], report["released"]) == (0, 0, 50)
    assert report["balanced"] is True


def test_a_sale_larger_than_sellable_stock_is_refused(staff_client, store):
    res = staff_client.post(
        "/console/api/flash-sales",
        json={
            "sku_id": store["RS-GIFT-XL-8"],
            "units": 121,
            "price": 9900,
            "seconds": 60,
            "per_person_limit": 1,
        },
    )
    assert (
        res.status_code == 409 and res.json["code"] == "SOLD_OUT" and "库存" in res.json["message"]
    )
    limit = staff_client.post(
        "/console/api/flash-sales",
        json={
            "sku_id": store["RS-GIFT-XL-8"],
            "units": 5,
            "price": 9900,
            "seconds": 60,
            "per_person_limit": 6,
        },
    )
    assert limit.status_code == 400


def test_racing_viewers_get_exactly_the_units(app, sandbox, staff_client, store):
    res = staff_client.post(
        "/console/api/flash-sales",
        json={
            "sku_id": store["RS-LIVE-M-5"],
            "units": 20,
            "price": 3900,
            "seconds": 600,
            "per_person_limit": 3,
        },
    )
    sale_id = res.json["id"]
    viewers = [Shopper.login(app.test_client(), sandbox, f"o_viewer_{i}") for i in range(16)]
    answers: list[int] = []

    def race(viewer):
        mine = Shopper(app.test_client(), sandbox, viewer.token, viewer.openid)
        for _ in range(2):
            answers.append(_claim(mine, sale_id, 2).status_code)

    threads = [threading.Thread(target=race, args=(v,)) for v in viewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(201) == 10  # 20 units, 2 each
    assert set(answers) <= {201, 409, 422}
    report = _reconcile(app, sale_id)
    assert report["balanced"] is True and report["held"] == 20 and report["redis_remaining"] == 0
    assert sku_stock(app, store["RS-LIVE-M-5"]) == (600, 20)
    with app.app_context():
        assert inventory_queries.ledger_mismatches(db.session) == []


def test_a_claim_cut_off_by_a_dying_worker_is_repaired(app, shopper, sale):
    """The claim script ran but the process died before the order was written (SIGKILL)."""
    import time

    keys = flash_sales._keys(sale["id"])
    redis = app.extensions["heli_redis"]
    redis.eval(flash_sales.CLAIM, len(keys), *keys, time.time(), 424242, 1, "lost-key-0001")
    redis.hset(keys[2], "424242:lost-key-0001", f"PENDING|1|{time.time() - 60}")  # long ago
    assert shopper.client.get(f"/api/v1/flash-sales/{sale['id']}").json["remaining"] == 49
    report = _reconcile(app, sale["id"])
    assert report["balanced"] is True and report["redis_remaining"] == 50
    # A claim whose order was written but whose answer was not: finished, not given back twice.
    order = _claim(shopper, sale["id"], 1, key="half-done-key-1").json
    with app.app_context():
        customer_id = db.session.scalar(db.select(Order.customer_id).where(Order.id == order["id"]))
    field = f"{customer_id}:half-done-key-1"
    redis.hset(keys[2], field, f"PENDING|1|{time.time() - 60}")
    report = _reconcile(app, sale["id"])
    assert report["balanced"] is True and report["redis_remaining"] == 49
    assert redis.hget(keys[2], field).decode() == str(order["id"])


def test_a_claim_before_the_start_is_refused(app, shopper, sale):
    import time

    app.extensions["heli_redis"].hset(flash_sales._keys(sale["id"])[0], "starts", time.time() + 60)
    early = _claim(shopper, sale["id"])
    assert early.status_code == 422 and early.json["code"] == "FLASH_SALE_NOT_STARTED"
    assert "还未开始" in early.json["message"]


def test_claims_still_being_written_do_not_raise_false_alarms(app, shopper, sale):
    import time

    keys = flash_sales._keys(sale["id"])
    redis = app.extensions["heli_redis"]
    # just now
    redis.eval(flash_sales.CLAIM, len(keys), *keys, time.time(), 515151, 1, "in-flight-key-1")
    report = _reconcile(app, sale["id"])
    assert report["balanced"] is True and report["in_flight"] == 1
    assert report["redis_remaining"] == 49  # not repaired: it may still be written
    with app.app_context():
        from backend.staff.models import StaffAlert

        assert db.session.scalar(db.select(db.func.count()).select_from(StaffAlert)) == 0
