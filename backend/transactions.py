"""Side effects after commit: callbacks registered during a unit of work run only if it commits.

A callback registered inside a savepoint is dropped when that savepoint rolls back, and all are
dropped when the whole transaction rolls back.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

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
