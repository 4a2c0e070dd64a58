"""The one scheduler process: `python -m jobs.scheduler`. It only enqueues rq jobs: the periodic
ones of SCHEDULE (APScheduler, in a thread) and rq's delayed ones (jobs/delayed.py, in the main
thread), so no worker runs rq's scheduler and a killed worker stops nothing.

Every periodic job has a stable id. Interval jobs fire on the same wall-clock ticks on every
machine (multiples of the interval since the epoch), and a Redis SET NX guard keyed by the tick
makes each tick enqueue once even when schedulers run on several machines. (A guard that only
expired after one interval dropped the next tick whenever it fired a millisecond early.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from backend import requestid
from backend.ops import runs
from backend.queue import enqueue, redis_client
from jobs.delayed import DelayedJobs


@dataclass(frozen=True)
class Periodic:
    id: str
    func_path: str
    seconds: int  # the interval, and how long a run's enqueue guard lasts
    daily_at: str | None = None  # "HH:MM" Asia/Shanghai for daily jobs, instead of the interval


SCHEDULE = [
    Periodic("expire-overdue-orders", "jobs.orders.expire_overdue_orders", 60),
    Periodic("expire-due-lots", "jobs.inventory.expire_due_lots", 60),
    Periodic("persist-scans", "jobs.trace.persist_scans", 5),
    Periodic("reconcile-flash-sales", "jobs.live.reconcile_flash_sales", 60),
    # each tick asks whether a sync is due: every 10 s while a room is live or about to start
    Periodic("sync-live-rooms", "jobs.live.sync_live_rooms", 10),
    Periodic("follow-goods-audits", "jobs.live.follow_goods_audits", 15),
    Periodic("schedule-platform-pulls", "jobs.platforms.schedule_pulls", 60),
    Periodic("sweep-notices", "jobs.notices.sweep_notices", 5),
    Periodic("reconcile-pending-payments", "jobs.payments.reconcile_pending_payments", 120),
    Periodic("settle-refunds", "jobs.payments.settle_refunds", 120),
    Periodic("settle-adoptions", "jobs.adoption.settle_adoptions", 30),
    Periodic("auto-confirm-receipts", "jobs.orders.auto_confirm_receipts", 3600),
    Periodic("form-due-wave", "jobs.fulfilment.form_due_wave", 60),
    Periodic("order-packed-harvests", "jobs.adoption.order_packed_harvests", 300),
    Periodic("settlement-refunds", "jobs.settlement.reconcile_refunds", 300),
    Periodic("report-expiring-lots", "jobs.inventory.report_expiring_lots", 3600, "07:00"),
    Periodic("licence-reminders", "jobs.sellers.remind_and_expire_licences", 3600, "00:05"),
]


TICKS_SINCE = datetime(1970, 1, 1, tzinfo=UTC)


def enqueue_periodic(entry: Periodic, now: float | None = None) -> bool:
    """Enqueue the run of entry's nearest tick unless some scheduler already did."""
    tick = round((time.time() if now is None else now) / entry.seconds)
    guard = f"heli:periodic:{entry.id}:{tick}"
    if not redis_client().set(guard, "1", nx=True, ex=2 * entry.seconds):
        return False
    enqueue(entry.func_path, job_id=None, meta={runs.META_KEY: entry.id})
    return True


def build_scheduler(app) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")

    def run(entry: Periodic) -> None:
        with app.app_context():
            enqueue_periodic(entry)

    for entry in SCHEDULE:
        if entry.daily_at:
            hour, minute = entry.daily_at.split(":")
            trigger = {"trigger": "cron", "hour": int(hour), "minute": int(minute)}
        else:
            trigger = {"trigger": "interval", "seconds": entry.seconds, "start_date": TICKS_SINCE}
        scheduler.add_job(
            run,
            **trigger,
            args=[entry],
            id=entry.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
    return scheduler


def main() -> None:
    from backend.app import create_app

    requestid.configure_logging()
    app = create_app()
    periodic = build_scheduler(app)
    periodic.start()
    try:
        with app.app_context():
            DelayedJobs(redis_client()).work()  # until SIGTERM
    finally:
        periodic.shutdown(wait=False)


if __name__ == "__main__":
    main()
