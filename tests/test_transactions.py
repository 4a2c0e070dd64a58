"""Units of work aborted for a concurrent one run again whole, their side effects once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from backend.customers.models import Customer
from backend.extensions import db
from backend.transactions import is_conflict, on_commit, retry_conflicts


@pytest.fixture
def two_customers(ctx):
    customers = [Customer(openid="o_first"), Customer(openid="o_second")]
    db.session.add_all(customers)
    db.session.commit()
    return [c.id for c in customers]


def test_a_deadlocked_unit_of_work_runs_again_with_its_side_effects_once(app, two_customers):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks and deadlocks are PostgreSQL's (SQLite has one write lock)")
    first, second = two_customers
    calls, sent = [], []
    mine_locked, theirs_locked = threading.Event(), threading.Event()
    engine = db.engine

    @retry_conflicts
    def rename_both(session, name: str) -> None:
        calls.append(name)
        on_commit(session, lambda: sent.append(name))
        session.execute(text("SET LOCAL deadlock_timeout = '100ms'"))  # this one finds it
        session.execute(update(Customer).where(Customer.id == first).values(nickname=name))
        if len(calls) == 1:
            mine_locked.set()
            theirs_locked.wait(10)
        session.execute(update(Customer).where(Customer.id == second).values(nickname=name))
        session.commit()

    def the_other_order() -> None:
        with engine.begin() as conn:  # locks the same rows the other way round
            conn.execute(text("SET LOCAL deadlock_timeout = '10s'"))
            mine_locked.wait(10)
            conn.execute(update(Customer).where(Customer.id == second).values(nickname="他"))
            theirs_locked.set()
            conn.execute(update(Customer).where(Customer.id == first).values(nickname="他"))

    other = threading.Thread(target=the_other_order)
    other.start()
    rename_both(db.session, "我")
    other.join()

    assert calls == ["我", "我"]  # aborted once as the deadlock's victim, then done
    assert sent == ["我"]  # the aborted attempt's callback was dropped with it
    db.session.expire_all()
    assert {db.session.get(Customer, i).nickname for i in two_customers} == {"我"}


def test_any_other_database_error_is_not_retried(two_customers):
    calls = []

    @retry_conflicts
    def take_an_openid_in_use(session) -> None:
        calls.append(1)
        session.add(Customer(openid="o_first"))
        session.commit()

    with pytest.raises(IntegrityError) as raised:
        take_an_openid_in_use(db.session)
    db.session.rollback()
    assert calls == [1] and not is_conflict(raised.value)


def test_sqlite_busy_is_a_conflict(tmp_path):
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    holder, waiter = (create_engine(url, connect_args={"timeout": 0}) for _ in range(2))
    with holder.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.commit()
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # holds the one write lock
        with pytest.raises(DBAPIError) as raised, waiter.begin() as other:
            other.exec_driver_sql("INSERT INTO t VALUES (1)")
        conn.rollback()
    assert is_conflict(raised.value)
