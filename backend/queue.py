"""rq queues on the app's Redis. Jobs are named by dotted path and get ids, never ORM objects."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from redis import Redis
from rq import Queue, Retry

DEFAULT_RETRY = Retry(max=5, interval=[5, 15, 60, 300, 900])


def redis_client() -> Redis:
    return current_app.extensions["heli_redis"]


def get_queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_client())


def enqueue(func_path: str, *args, queue: str = "default", job_id: str | None = None):
    return get_queue(queue).enqueue(func_path, *args, job_id=job_id, retry=DEFAULT_RETRY)


def enqueue_at(
    when: datetime, func_path: str, *args, queue: str = "default", job_id: str | None = None
):
    """Schedule a job at a UTC time, never before it: rq keeps whole seconds and would run a job
    due at 12:00:00.7 at 12:00:00 (a pay deadline not yet passed), so `when` is rounded up."""
    due = when.replace(microsecond=0)
    if due < when:
        due += timedelta(seconds=1)
    return get_queue(queue).enqueue_at(due, func_path, *args, job_id=job_id, retry=DEFAULT_RETRY)
