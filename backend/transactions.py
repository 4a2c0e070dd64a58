"""Units of work: side effects after commit, and a unit aborted by a concurrent one run again.

A callback registered with on_commit runs only if the unit of work commits: one registered inside
a savepoint is dropped when that savepoint rolls back, and all are dropped when the whole
transaction rolls back (so a retried unit of work never runs them twice).
"""

from __future__ import annotations

import functools
import itertools
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import event, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

log = logging.getLogger(__name__)
T = TypeVar("T")
_KEY = "heli_on_commit"
_unnamed = itertools.count()


def on_commit(session: Session, callback: Callable[[], None], *, key: str | None = None) -> None:
    """Run callback after session's current transaction commits; dropped on rollback.

    Callbacks registered twice under the same key run once.
    """
    if isinstance(session, scoped_session):
        session = session()
    callbacks: dict = session.info.setdefault(_KEY, {})
    owner = session.get_nested_transaction() or session.get_transaction()
    callbacks.setdefault(key or f"_{next(_unnamed)}", (owner, callback))


@event.listens_for(Session, "after_commit")
def _run_callbacks(session: Session) -> None:
    for _owner, callback in session.info.pop(_KEY, {}).values():
        callback()


@event.listens_for(Session, "after_soft_rollback")
def _drop_callbacks(session: Session, previous_transaction: SessionTransaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_KEY, None)
        return
    callbacks = session.info.get(_KEY, {})
    for key in [k for k, (owner, _) in callbacks.items() if owner is previous_transaction]:
        del callbacks[key]


def lock_row(session: Session, model, ident: int) -> None:
    """Hold one row until the caller's commit, so its users take turns: FOR UPDATE where rows
    lock; on SQLite a write, which starts the transaction holding the one write lock (with a
    snapshot that sees every commit before it)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(model).where(model.id == ident).values(id=model.id),
            execution_options={"synchronize_session": False},
        )
    else:
        session.execute(select(model.id).where(model.id == ident).with_for_update())


# Retrying a unit of work the database aborted because of a concurrent one.
ATTEMPTS = 5
_RETRYING = "heli_retrying"
# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
_CONFLICT_SQLSTATES = {"40001", "40P01", "55P03"}
# SQLite: another connection holds the write lock past busy_timeout, or this transaction's
# snapshot went stale before its first write (SQLITE_BUSY_SNAPSHOT, which does not wait).
_SQLITE_CONFLICTS = ("database is locked", "database table is locked")


def is_conflict(error: BaseException) -> bool:
    """Whether the database aborted the transaction only because of a concurrent one, so that
    the same work done again from the start may well succeed."""
    if not isinstance(error, DBAPIError):
        return False
    cause = error.orig
    if getattr(cause, "sqlstate", None) in _CONFLICT_SQLSTATES:
        return True
    return isinstance(cause, sqlite3.OperationalError) and str(cause) in _SQLITE_CONFLICTS


def retry_conflicts(service: Callable[..., T]) -> Callable[..., T]:
    """Run a service — one whole unit of work that takes the session as its first argument and
    commits — again from the start when the database aborts it for a concurrent transaction
    (deadlock, serialization failure, SQLite busy), up to ATTEMPTS times.

    The rolled-back attempt leaves nothing behind: its on_commit callbacks are dropped with it,
    so only the attempt that commits enqueues or sends anything. A service called from inside
    another retried one runs once: the outermost unit of work is the one retried. Whatever the
    service does outside the database before it could fail (a Redis counter, a call to WeChat)
    must be safe to do again, or be done before calling it."""

    @functools.wraps(service)
    def run(session, *args, **kwargs) -> T:
        inner = session() if isinstance(session, scoped_session) else session
        if inner.info.get(_RETRYING):
            return service(session, *args, **kwargs)
        inner.info[_RETRYING] = True
        try:
            attempt = 1
            while True:
                try:
                    return service(session, *args, **kwargs)
                except DBAPIError as error:
                    if attempt == ATTEMPTS or not is_conflict(error):
                        raise
                    session.rollback()
                    log.info("%s collided (%s), attempt %d", service.__name__, error.orig, attempt)
                    # Apart, so the transactions that collided do not collide again.
                    time.sleep(random.uniform(0, 0.02 * attempt))
                    attempt += 1
        finally:
            inner.info.pop(_RETRYING, None)

    return run
