"""rq queues on the app's Redis. Jobs are named by dotted path and get ids, never ORM objects.
Lua scripts on that Redis run by their digest (run_script)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from flask import current_app
from redis import Redis
from redis.exceptions import NoScriptError
from rq import Queue, Retry

from backend import requestid

DEFAULT_RETRY = Retry(max=5, interval=[5, 15, 60, 300, 900])
# Every queue a job goes to: the workers of the Procfile serve them, the scheduler process moves
# their delayed jobs (jobs/delayed.py).
QUEUES = ("notices", "default", "broadcasts", "platform_pushes", "platforms")


def redis_client() -> Redis:
    return current_app.extensions["heli_redis"]


_digests: dict[str, str] = {}


def run_script(script: str, keys: Sequence, args: Sequence):
    """Run a Lua script by its SHA1 (EVALSHA: the text is sent only when Redis does not hold it
    yet, e.g. after a restart)."""
    redis = redis_client()
    digest = _digests.get(script)
    if digest is None:
        digest = _digests[script] = hashlib.sha1(script.encode()).hexdigest()
    try:
        return redis.evalsha(digest, len(keys), *keys, *args)
    except NoScriptError:
        return redis.eval(script, len(keys), *keys, *args)


def get_queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_client())


def carried(meta: dict | None = None) -> dict:
    """A job's meta with the id of the request (job, bot batch) enqueueing it, if any: the
    worker logs the job under that id."""
    meta = dict(meta or {})
    if (request_id := requestid.current()) is not None:
        meta.setdefault(requestid.META_KEY, request_id)
    return meta


def enqueue(
    func_path: str,
    *args,
    queue: str = "default",
    job_id: str | None = None,
    meta: dict | None = None,
):
    return get_queue(queue).enqueue(
        func_path, *args, job_id=job_id, retry=DEFAULT_RETRY, meta=carried(meta)
    )


def enqueue_many(func_path: str, args: list[tuple], *, queue: str = "default") -> None:
    """One job per tuple of arguments, sent to Redis in one round trip."""
    meta = carried()
    jobs = [Queue.prepare_data(func_path, each, retry=DEFAULT_RETRY, meta=meta) for each in args]
    if jobs:
        get_queue(queue).enqueue_many(jobs)


def enqueue_at(
    when: datetime, func_path: str, *args, queue: str = "default", job_id: str | None = None
):
    """Schedule a job at a UTC time, never before it: rq keeps whole seconds and would run a job
    due at 12:00:00.7 at 12:00:00 (a pay deadline not yet passed), so `when` is rounded up."""
    due = when.replace(microsecond=0)
    if due < when:
        due += timedelta(seconds=1)
    return get_queue(queue).enqueue_at(
        due, func_path, *args, job_id=job_id, retry=DEFAULT_RETRY, meta=carried()
    )


def enqueue_in(seconds: float, func_path: str, *args, queue: str = "default"):
    """Schedule a job seconds from now (rq's scheduled registry counts whole seconds)."""
    return get_queue(queue).enqueue_in(
        timedelta(seconds=seconds), func_path, *args, retry=DEFAULT_RETRY, meta=carried()
    )
