from datetime import timedelta

import requests
from rq import Queue
from rq.registry import ScheduledJobRegistry

from backend.extensions import db
from backend.orders.models import Order, OrderEvent
from backend.timeutil import utcnow
from jobs import scheduler
from tests.helpers import run_jobs


def _make_overdue(app, order_id):
    with app.app_context():
        db.session.execute(
            db.update(Order)
            .where(Order.id == order_id)
            .values(pay_deadline=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()


def _status(app, order_id):
    with app.app_context():
        return db.session.get(Order, order_id).status


def test_placing_an_order_schedules_its_expiry_at_the_pay_deadline(app, shopper, store):
    order = shopper.order([(store["RS-LIVE-M-5"], 1)]).json
    with app.app_context():
        registry = ScheduledJobRegistry("default", connection=app.extensions["heli_redis"])
        job_id = f"expire-order-{order['id']}"
        assert job_id in registry.get_job_ids()
        scheduled = registry.get_scheduled_time(job_id)
        deadline = db.session.get(Order, order["id"]).pay_deadline
    # rq keeps whole seconds: the job must not run before the deadline (it would find the order
    # not yet due and leave it to the sweeper), nor a second after it.
    assert 0 <= (scheduled.replace(tzinfo=None) - deadline).total_seconds() < 1
    assert abs((deadline - utcnow()).total_seconds() - 15 * 60) < 5


def test_expiry_cancels_releases_stock_and_closes_the_wechat_pay_order(
    app, shopper, store, sandbox
):
    sku = store["RS-LIVE-M-5"]
    order = shopper.order([(sku, 2)]).json
    shopper.pay(order["id"])
    _make_overdue(app, order["id"])
    with app.app_context():
        from backend.queue import enqueue

        enqueue("jobs.orders.expire_unpaid_order", order["id"])
    run_jobs(app, "default")
    assert _status(app, order["id"]) == "CANCELLED"
    assert shopper.client.get("/api/v1/products").json["items"][0]["skus"][2]["stock"] == 600
    remote = requests.get(f"{sandbox.url}/sandbox/pay/orders/{order['number']}", timeout=5).json()
    assert remote["trade_state"] == "CLOSED"


def test_expiry_of_an_order_paid_without_notification_settles_it(app, shopper, store):
    from jobs.orders import expire_unpaid_order

    order = shopper.order([(store["RS-LIVE-M-5"], 1)]).json
    shopper.confirm_payment(shopper.pay(order["id"]), mode="bad_signature")
    _make_overdue(app, order["id"])
    with app.app_context():
        assert expire_unpaid_order(order["id"]) == "paid"
    assert _status(app, order["id"]) == "PAID"


def test_expiry_is_a_no_op_before_the_deadline_and_after_payment(app, shopper, store):
    from jobs.orders import expire_unpaid_order

    order = shopper.order([(store["RS-LIVE-M-5"], 1)]).json
    with app.app_context():
        assert expire_unpaid_order(order["id"]) == "not_due"
    paid = shopper.buy([(store["RS-LIVE-M-5"], 1)])
    _make_overdue(app, paid["id"])
    with app.app_context():
        assert expire_unpaid_order(paid["id"]) == "not_pending"


def test_sweeper_expires_orders_whose_job_was_lost(app, shopper, store):
    from jobs.orders import expire_overdue_orders

    order = shopper.order([(store["RS-LIVE-M-5"], 1)]).json
    _make_overdue(app, order["id"])
    app.extensions["heli_redis"].flushdb()  # the scheduled expiry job is gone
    with app.app_context():
        assert expire_overdue_orders() == 1
    run_jobs(app, "default")
    assert _status(app, order["id"]) == "CANCELLED"


def test_auto_confirm_completes_orders_shipped_long_ago(app, shopper, store):
    from jobs.orders import auto_confirm_receipts

    order = shopper.buy([(store["RS-LIVE-M-5"], 1)])
    with app.app_context():
        db.session.execute(
            db.update(Order)
            .where(Order.id == order["id"])
            .values(status="SHIPPED", shipped_at=utcnow() - timedelta(days=8))
        )
        db.session.commit()
        assert auto_confirm_receipts() == 1
        assert auto_confirm_receipts() == 0
        assert db.session.get(Order, order["id"]).status == "COMPLETED"
        kinds = db.session.scalars(
            db.select(OrderEvent.kind).where(OrderEvent.order_id == order["id"])
        )
        assert "COMPLETED" in list(kinds)


def test_schedule_has_stable_unique_ids_and_enqueues_each_run_once(app):
    ids = [entry.id for entry in scheduler.SCHEDULE]
    assert len(ids) == len(set(ids))
    built = scheduler.build_scheduler(app)
    assert sorted(job.id for job in built.get_jobs()) == sorted(ids)
    for entry in scheduler.SCHEDULE:
        import importlib

        module, name = entry.func_path.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), name))
    with app.app_context():
        entry = scheduler.SCHEDULE[0]
        assert scheduler.enqueue_periodic(entry) is True
        assert scheduler.enqueue_periodic(entry) is False
        assert Queue("default", connection=app.extensions["heli_redis"]).count == 1
