"""rq queues on the app's Redis. Jobs are named by dotted path and get ids, never ORM objects."""

from __future__ import annotations

from datetime import datetime

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


def enqueue_many(func_path: str, args: list[tuple], *, queue: str = "default") -> None:
    """One job per tuple of arguments, sent to Redis in one round trip."""
    jobs = [Queue.prepare_data(func_path, each, retry=DEFAULT_RETRY) for each in args]
    if jobs:
        get_queue(queue).enqueue_many(jobs)


def enqueue_at(
    when: datetime, func_path: str, *args, queue: str = "default", job_id: str | None = None
):
    """Schedule a job at a UTC time; the rq worker runs with its scheduler enabled."""
    return get_queue(queue).enqueue_at(when, func_path, *args, job_id=job_id, retry=DEFAULT_RETRY)
