"""The order's life: every (status, event) pair of the transition table is tried on a real order,
and no module but backend/orders/lifecycle.py changes an order's status."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from backend.config import PROJECT_ROOT
from backend.extensions import db
from backend.orders import lifecycle
from backend.orders.models import Order, OrderEvent

PRODUCTION_PACKAGES = ("backend", "bots", "jobs", "miniprogram_api")
LIFECYCLE = Path(lifecycle.__file__).resolve()


@pytest.fixture
def unpaid_order_id(app, store, shopper) -> int:
    return shopper.order([(store["RS-LIVE-M-5"], 1)]).json["id"]


def _put_in(order_id: int, status: str, before_refund: str | None) -> None:
    # Test setup only: the order is placed where the walk needs it.
    db.session.execute(
        db.update(Order)
        .where(Order.id == order_id)
        .values(status=status, status_before_refund=before_refund)
    )
    db.session.commit()


@pytest.mark.parametrize("status", lifecycle.STATUSES)
def test_every_event_moves_an_order_exactly_where_the_table_says(app, unpaid_order_id, status):
    before_refund = "SHIPPED" if status == "REFUNDING" else None
    with app.app_context():
        for event, transition in lifecycle.TRANSITIONS.items():
            _put_in(unpaid_order_id, status, before_refund)
            moved = lifecycle.try_move(db.session, unpaid_order_id, event)
            db.session.commit()
            order = db.session.get(Order, unpaid_order_id)
            assert moved is (status in transition.sources), (status, event)
            if not moved:
                assert order.status == status
                continue
            expected = before_refund if transition.target == lifecycle.RESUME else transition.target
            assert order.status == expected, (status, event)
            if transition.target == "REFUNDING":
                assert order.status_before_refund == status
            last = db.session.scalar(
                db.select(OrderEvent.kind)
                .where(OrderEvent.order_id == unpaid_order_id)
                .order_by(OrderEvent.id.desc())
            )
            assert last == event


def test_a_refused_move_raises_the_events_own_error_and_changes_nothing(app, unpaid_order_id):
    with app.app_context():
        with pytest.raises(lifecycle.IllegalTransition) as refused:
            lifecycle.move(db.session, unpaid_order_id, "SHIPPED")
        assert refused.value.status == 409
        assert refused.value.code == "ORDER_NOT_SHIPPABLE"
        assert refused.value.details == {"status": "PENDING_PAYMENT", "event": "SHIPPED"}
        db.session.rollback()
        assert db.session.get(Order, unpaid_order_id).status == "PENDING_PAYMENT"


def test_of_two_racing_moves_one_wins(app, unpaid_order_id):
    with app.app_context():
        assert lifecycle.try_move(db.session, unpaid_order_id, "CANCELLED")
        assert not lifecycle.try_move(db.session, unpaid_order_id, "CANCELLED")
        db.session.commit()
        kinds = db.session.scalars(
            db.select(OrderEvent.kind).where(
                OrderEvent.order_id == unpaid_order_id, OrderEvent.kind == "CANCELLED"
            )
        )
        assert list(kinds) == ["CANCELLED"]


def test_every_status_is_reached_and_every_refusal_explained():
    for transition in lifecycle.TRANSITIONS.values():
        assert set(transition.sources) <= set(lifecycle.STATUSES)
        assert transition.target in (*lifecycle.STATUSES, lifecycle.RESUME)
        assert transition.refused_message  # the buyer is told why, in Chinese
    reachable = {"PENDING_PAYMENT"} | {t.target for t in lifecycle.TRANSITIONS.values()}
    assert reachable - {lifecycle.RESUME} == set(lifecycle.STATUSES)


def test_platform_orders_follow_their_platform_in_our_statuses_only():
    class Row:
        status = "PAID"

    row = Row()
    lifecycle.follow_platform(row, "REFUNDING")
    assert row.status == "REFUNDING"
    with pytest.raises(ValueError):
        lifecycle.follow_platform(row, "WAIT_SELLER_SEND_GOODS")
    assert row.status == "REFUNDING"


# -- only the lifecycle changes an order's status ----------------------------------------------
ORDER_MODELS = {"Order", "PlatformOrder"}


def _status_writes(tree: ast.AST) -> list[int]:
    """Lines that set an order's status: `x.status = ...` on an order-like name,
    `update(Order)...values(status=...)`, or `Order(status=...)`."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            flat = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
            for target in flat:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "status"
                    and "order" in ast.unparse(target.value).lower()
                ):
                    lines.append(node.lineno)
        if isinstance(node, ast.Call):
            keywords = {k.arg for k in node.keywords}
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name in ORDER_MODELS and "status" in keywords:
                lines.append(node.lineno)
            if (
                isinstance(node.func, ast.Attribute)
                and node.func.attr == "values"
                and ("status" in keywords or None in keywords)
                and _updates_an_order(node.func.value)
            ):
                lines.append(node.lineno)
    return lines


def _updates_an_order(expr: ast.AST) -> bool:
    for node in ast.walk(expr):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == "update"
            and node.args
            and getattr(node.args[0], "id", None) in ORDER_MODELS
        ):
            return True
    return False


def test_no_module_but_the_lifecycle_changes_an_order_status():
    offenders = []
    for package in PRODUCTION_PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            if path.resolve() == LIFECYCLE:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            offenders += [f"{path.relative_to(PROJECT_ROOT)}:{n}" for n in _status_writes(tree)]
    assert offenders == []


def test_an_order_status_set_outside_the_lifecycle_fails_the_suite(app, unpaid_order_id):
    with app.app_context():
        order = db.session.get(Order, unpaid_order_id)
        elsewhere = {"__name__": "backend.payments.service", "order": order}
        with pytest.raises(AssertionError, match="lifecycle"):
            exec("order.status = 'PAID'", elsewhere)
        db.session.rollback()


def test_the_guard_sees_each_way_of_writing_a_status():
    written = ast.parse(
        "order.status = 'PAID'\n"
        "row.order.status, x = 'PAID', 1\n"
        "session.execute(update(Order).where(Order.id == 1).values(status='PAID'))\n"
        "Order(number='x', status='PAID')\n"
        "db.update(PlatformOrder).values(**changes)\n"
    )
    assert sorted(_status_writes(written)) == [1, 2, 3, 4, 5]
    untouched = ast.parse("hold.status = 'HELD'\nupdate(Lot).values(status='EXPIRED')\n")
    assert _status_writes(untouched) == []
