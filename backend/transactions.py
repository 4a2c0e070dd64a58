"""Side effects after commit: callbacks registered during a unit of work run only if it commits."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

_KEY = "heli_on_commit"


def on_commit(session: Session, callback: Callable[[], None], *, key: str | None = None) -> None:
    """Run callback after session's current transaction commits; dropped on rollback.

    Callbacks registered twice under the same key run once.
    """
    callbacks = session.info.setdefault(_KEY, {})
    callbacks.setdefault(key or f"_{len(callbacks)}", callback)


@event.listens_for(Session, "after_commit")
def _run_callbacks(session: Session) -> None:
    for callback in session.info.pop(_KEY, {}).values():
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_callbacks(session: Session) -> None:
    session.info.pop(_KEY, None)
