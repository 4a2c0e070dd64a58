import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import requests
from rq import Queue
from rq.registry import ScheduledJobRegistry

from backend.config import PROJECT_ROOT
from backend.extensions import db
from backend.orders.models import Order, OrderEvent
from backend.queue import QUEUES
from backend.timeutil import utcnow
from jobs import scheduler
from jobs.delayed import LEASE_SECONDS, DelayedJobs
from tests.helpers import run_jobs, wait_for


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
        tick = 1_800_000_000 - 1_800_000_000 % entry.seconds
        # two schedulers a little before and after one tick, then the next tick a bit early
        assert scheduler.enqueue_periodic(entry, now=tick - 0.3) is True
        assert scheduler.enqueue_periodic(entry, now=tick + 0.4) is False
        assert scheduler.enqueue_periodic(entry, now=tick + entry.seconds - 0.01) is True
        assert Queue("default", connection=app.extensions["heli_redis"]).count == 2
        fires = [
            job.trigger.get_next_fire_time(None, datetime(2026, 12, 6, 8, 0, 17, tzinfo=UTC))
            for job in built.get_jobs()
            if job.id == entry.id
        ]
        assert fires[0].timestamp() % entry.seconds == 0  # every machine fires on the same ticks


# -- rq's scheduler in the scheduler process ---------------------------------------------------
def test_a_dead_schedulers_queues_are_taken_over_once_its_short_lease_ends(app):
    redis = app.extensions["heli_redis"]
    first, second = DelayedJobs(redis), DelayedJobs(redis)
    try:
        first.tick()
        second.tick()
        assert first.acquired_locks == set(QUEUES) and second.acquired_locks == set()
        lock = first.get_locking_key("notices")
        assert 0 < redis.ttl(lock) <= LEASE_SECONDS  # rq's own lease is a minute
        for name in QUEUES:  # first was SIGKILLed: nobody renews its lease, and it ends
            redis.delete(first.get_locking_key(name))
        second.tick()
        assert second.acquired_locks == set(QUEUES)
        first.tick()  # back from a long pause: it moves nothing now
        assert first.acquired_locks == set()
    finally:
        first.release_locks()
        second.release_locks()


def test_schedulers_that_both_believe_they_hold_a_queue_never_move_a_job_twice(app):
    redis = app.extensions["heli_redis"]
    queue = Queue("default", connection=redis)
    due = utcnow() - timedelta(seconds=5)
    for n in range(2000):
        queue.enqueue_at(due, "jobs.orders.expire_overdue_orders", job_id=f"due-{n}")
    schedulers = [DelayedJobs(redis, ("default",)) for _ in range(4)]
    with ThreadPoolExecutor(len(schedulers)) as pool:  # a lease lost mid-move, four times over
        moved = sum(pool.map(lambda delayed: delayed.move_due("default"), schedulers))
    assert moved == 2000
    assert queue.count == 2000 and len(set(queue.job_ids)) == 2000
    assert ScheduledJobRegistry("default", connection=redis).count == 0


def test_every_queue_has_a_worker_and_the_scheduler_is_its_own_process():
    for procfile in ("Procfile", "Procfile.dev"):
        lines = (PROJECT_ROOT / procfile).read_text().splitlines()
        served = set()
        for line in lines:
            if "jobs.worker" in line:
                served |= {word for word in line.split()[4:] if not word.startswith("-")}
        assert served == set(QUEUES), procfile
        assert "scheduler: python -m jobs.scheduler" in lines


def test_a_killed_scheduler_process_stops_no_delayed_job(app):
    redis = app.extensions["heli_redis"]
    env = {
        **os.environ,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": "test-secret",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "jobs.scheduler"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    queue = Queue("notices", connection=redis)
    lock = DelayedJobs.get_locking_key("notices")
    try:
        holder = wait_for(lambda: redis.get(lock), timeout=30).decode()
        pid = int(redis.hget(f"rq:scheduler:{holder}", "pid"))
        queue.enqueue_in(timedelta(seconds=1), "jobs.orders.expire_overdue_orders", job_id="p1")
        wait_for(lambda: "p1" in queue.job_ids, timeout=30)
        os.kill(pid, signal.SIGKILL)  # no goodbye: its locks stay until the lease ends
        queue.enqueue_in(timedelta(seconds=1), "jobs.orders.expire_overdue_orders", job_id="p2")
        wait_for(lambda: "p2" in queue.job_ids, timeout=30)  # the other one took over
        taker = redis.get(lock).decode()
        assert taker != holder and int(redis.hget(f"rq:scheduler:{taker}", "pid")) != pid
        assert queue.job_ids.count("p1") == 1 and queue.job_ids.count("p2") == 1
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=30)
