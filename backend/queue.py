"""rq queues on the app's Redis. Jobs are named by dotted path and get ids, never ORM objects."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from redis import Redis
from rq import Queue, Retry

DEFAULT_RETRY = Retry(max=5, interval=[5, 15, 60, 300, 900])
# Every queue a job goes to: the workers of the Procfile serve them, the scheduler process moves
# their delayed jobs (jobs/delayed.py).
QUEUES = ("notices", "default", "broadcasts", "platforms")


def redis_client() -> Redis:
    return current_app.extensions["heli_redis"]


def get_queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_client())


def enqueue(func_path: str, *args, queue: str = "default", job_id: str | None = None):
    return get_queue(queue).enqueue(func_path, *args, job_id=job_id, retry=DEFAULT_RETRY)


def enqueue_at(
    when: datetime, func_path: str, *args, queue: str = "default", job_id: str | None = None
):
    """Schedule a job at a UTC time; the scheduler process enqueues it then."""
    return get_queue(queue).enqueue_at(when, func_path, *args, job_id=job_id, retry=DEFAULT_RETRY)


def enqueue_in(seconds: float, func_path: str, *args, queue: str = "default"):
    """Schedule a job seconds from now (rq's scheduled registry counts whole seconds)."""
    return get_queue(queue).enqueue_in(
        timedelta(seconds=seconds), func_path, *args, retry=DEFAULT_RETRY
    )
