"""Run rq job functions inside the Flask app, with a database connection of their own."""

from __future__ import annotations

import functools
import logging
import os
import time

from flask import current_app, has_app_context
from rq import get_current_job

from backend import requestid
from backend.extensions import db
from backend.ops import runs
from backend.queue import redis_client

log = logging.getLogger("heli.jobs")

_app = None
_engine_pid: int | None = None


def _application():
    global _app
    if has_app_context():  # tests and the worker push one
        return current_app._get_current_object()
    if _app is None:
        from backend.app import create_app

        _app = create_app()
    return _app


def job(fn):
    """Decorate an rq job: it runs in an app context and never shares a forked DB connection.
    Its log lines carry the id of the request that enqueued it (else the rq job's id), and a
    periodic job's start, finish and outcome are kept for the console (backend/ops/runs.py)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        global _engine_pid
        running = get_current_job()
        meta = running.meta if running is not None else {}
        request_id = (
            meta.get(requestid.META_KEY)
            or requestid.current()
            or (running.id if running is not None else requestid.new())
        )
        with requestid.bound(request_id), _application().app_context():
            if _engine_pid != os.getpid():
                # rq forks a work horse per job; connections inherited from the parent are unsafe.
                db.engine.dispose(close=False)
                _engine_pid = os.getpid()
            return _run(fn, args, kwargs, running, meta.get(runs.META_KEY))

    return wrapper


def _run(fn, args, kwargs, running, periodic_id: str | None):
    name = f"{fn.__module__}.{fn.__name__}"
    job_id = running.id if running is not None else None
    log.info("job %s started (%s)", name, job_id or "not in a worker")
    if periodic_id:
        runs.started(redis_client(), periodic_id, job_id=job_id)
    began = time.perf_counter()
    try:
        answer = fn(*args, **kwargs)
    except Exception as failure:
        log.exception("job %s failed after %.3f s", name, time.perf_counter() - began)
        if periodic_id:
            error = f"{type(failure).__name__}: {failure}"
            runs.finished(redis_client(), periodic_id, outcome=runs.FAILED, error=error)
        raise
    finally:
        db.session.remove()
    log.info("job %s finished in %.3f s", name, time.perf_counter() - began)
    if periodic_id:
        runs.finished(redis_client(), periodic_id, outcome=runs.OK)
    return answer
