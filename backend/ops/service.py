"""What the operations page shows: each queue's jobs by state, the workers, the periodic jobs
with their last run, and the notices still waiting to go out. Read only; retrying or discarding
a failed job is rq-dashboard's (mounted at /console/ops/rq)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from redis import Redis
from rq import Queue, Worker
from rq.registry import (
    DeferredJobRegistry,
    FailedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.notices.models import PENDING, SENDING, NoticeDelivery
from backend.ops import runs
from backend.queue import QUEUES

# What each periodic job of jobs/scheduler.py does, as the operations page says it. A job
# missing here is shown by its id.
PERIODIC_LABELS = {
    "expire-overdue-orders": "关闭超时未支付的订单",
    "expire-due-lots": "到期库存批次下架",
    "persist-scans": "防伪扫码记录入库",
    "reconcile-flash-sales": "核对秒杀库存与订单",
    "sync-live-rooms": "同步直播间状态",
    "follow-goods-audits": "跟进直播商品审核",
    "schedule-platform-pulls": "安排平台订单拉取",
    "sweep-notices": "补发丢失的通知",
    "reconcile-pending-payments": "核对未确认的支付",
    "settle-refunds": "跟进退款结果",
    "settle-adoptions": "认养到账或超时释放单元",
    "auto-confirm-receipts": "自动确认收货",
    "form-due-wave": "到点组建发货波次",
    "order-packed-harvests": "认养收获包装后生成寄送订单",
    "settlement-refunds": "结算单计入退款",
    "report-expiring-lots": "临期库存日报",
    "licence-reminders": "品牌授权到期提醒与停用",
}
QUEUE_LABELS = {
    "notices": "通知（订单推送优先）",
    "default": "默认",
    "broadcasts": "联盟广播",
    "platform_pushes": "平台推送",
    "platforms": "平台订单拉取",
}
OUTCOME_LABELS = {runs.RUNNING: "运行中", runs.OK: "成功", runs.FAILED: "失败"}
WORKER_STATES = {"busy": "忙碌", "idle": "空闲", "started": "已启动", "suspended": "已暂停"}


class PeriodicEntry(Protocol):  # jobs.scheduler.Periodic
    id: str
    func_path: str
    seconds: int
    daily_at: str | None


@dataclass(frozen=True)
class QueueState:
    name: str
    label: str
    queued: int
    started: int
    scheduled: int
    deferred: int
    failed: int


@dataclass(frozen=True)
class WorkerState:
    name: str
    state: str
    queues: list[str]
    current_job: str | None
    last_heartbeat: datetime | None  # UTC, naive


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    label: str
    func_path: str
    every: str  # 每 60 秒 / 每天 07:00
    last: runs.LastRun

    @property
    def outcome_label(self) -> str:
        if self.last.state is None:
            return "尚未运行"
        return OUTCOME_LABELS.get(self.last.state, self.last.state)


def queue_names(redis: Redis) -> list[str]:
    """Our queues in the Procfile's order, then any other queue rq knows of."""
    known = {queue.name for queue in Queue.all(connection=redis)}
    return [*QUEUES, *sorted(known - set(QUEUES))]


def queues(redis: Redis) -> list[QueueState]:
    """Each queue's jobs by state."""
    answers = []
    for name in queue_names(redis):
        queue = Queue(name, connection=redis)
        answers.append(
            QueueState(
                name=name,
                label=QUEUE_LABELS.get(name, name),
                queued=queue.count,
                started=StartedJobRegistry(name, connection=redis).get_job_count(cleanup=False),
                scheduled=ScheduledJobRegistry(name, connection=redis).get_job_count(cleanup=False),
                deferred=DeferredJobRegistry(name, connection=redis).get_job_count(cleanup=False),
                failed=FailedJobRegistry(name, connection=redis).get_job_count(cleanup=False),
            )
        )
    return answers


def workers(redis: Redis) -> list[WorkerState]:
    answers = []
    for worker in sorted(Worker.all(connection=redis), key=lambda w: w.name):
        heartbeat = worker.last_heartbeat
        if heartbeat is not None and heartbeat.tzinfo is not None:
            heartbeat = heartbeat.astimezone(UTC).replace(tzinfo=None)
        state = str(getattr(worker.get_state(), "value", worker.get_state()))
        answers.append(
            WorkerState(
                name=worker.name,
                state=WORKER_STATES.get(state, state),
                queues=worker.queue_names(),
                current_job=worker.get_current_job_id(),
                last_heartbeat=heartbeat,
            )
        )
    return answers


def _every(entry: PeriodicEntry) -> str:
    if entry.daily_at:
        return f"每天 {entry.daily_at}"
    if entry.seconds % 3600 == 0:
        return f"每 {entry.seconds // 3600} 小时"
    if entry.seconds % 60 == 0:
        return f"每 {entry.seconds // 60} 分钟"
    return f"每 {entry.seconds} 秒"


def scheduled_jobs(redis: Redis, schedule: Sequence[PeriodicEntry]) -> list[ScheduledJob]:
    """Every periodic job of the schedule with its last run."""
    last = runs.last_runs(redis, [entry.id for entry in schedule])
    return [
        ScheduledJob(
            id=entry.id,
            label=PERIODIC_LABELS.get(entry.id, entry.id),
            func_path=entry.func_path,
            every=_every(entry),
            last=last[entry.id],
        )
        for entry in schedule
    ]


def notices_pending(session: Session) -> int:
    """Notices not yet handed to WeChat (waiting, or being sent)."""
    waiting = NoticeDelivery.state.in_((PENDING, SENDING))
    return session.scalar(select(func.count()).select_from(NoticeDelivery).where(waiting)) or 0
