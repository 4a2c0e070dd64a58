"""Run rq job functions inside the Flask app, with a database connection of their own."""

from __future__ import annotations

import functools
import os

from flask import current_app, has_app_context

from backend.extensions import db

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
    """Decorate an rq job: it runs in an app context and never shares a forked DB connection."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        global _engine_pid
        with _application().app_context():
            if _engine_pid != os.getpid():
                # rq forks a work horse per job; connections inherited from the parent are unsafe.
                db.engine.dispose(close=False)
                _engine_pid = os.getpid()
            try:
                return fn(*args, **kwargs)
            finally:
                db.session.remove()

    return wrapper
