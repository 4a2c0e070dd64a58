"""The ledger always balances: random sequences (hypothesis state machine) and concurrent ones."""

import random
import threading
import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from backend.customers.models import Customer
from backend.errors import DomainError, SoldOut
from backend.extensions import db
from backend.inventory import expiry, stock_cache
from backend.inventory import queries as inventory_queries
from backend.inventory import service as inventory
from backend.inventory.models import Lot, StockMovement, StockReservation
from backend.orders.models import Order
from backend.staff.models import Staff
from backend.timeutil import utcnow
from tests.helpers import stock_up

SKU_CODES = ["RS-LIVE-XL-5", "RS-LIVE-L-5"]


def _new_order(session, customer_id: int) -> int:
    order = Order(
        number=uuid.uuid4().hex[:20],
        customer_id=customer_id,
        goods_total=1,
        total=1,
        address={},
        pay_deadline=utcnow() + timedelta(minutes=15),
    )
    session.add(order)
    session.commit()
    return order.id


def _check_invariants(session) -> None:
    assert inventory_queries.ledger_mismatches(session) == []
    for lot in session.scalars(db.select(Lot)):
        assert 0 <= lot.reserved <= lot.on_hand
    held = session.execute(
        db.select(StockReservation.lot_id, db.func.sum(StockReservation.quantity))
        .where(StockReservation.status.in_(("HELD", "COMMITTED")))
        .group_by(StockReservation.lot_id)
    ).all()
    for lot_id, quantity in held:
        assert session.get(Lot, lot_id).reserved == quantity


@pytest.fixture
def ledger_world(app, store):
    """The demo store with a customer and a staff id, its SKU ids, and a batch to receive into."""
    with app.app_context():
        customer = Customer(openid="o_ledger")
        db.session.add(customer)
        db.session.commit()
        world = {
            "customer_id": customer.id,
            "staff_id": db.session.scalar(db.select(Staff.id)),
            "skus": [store[code] for code in SKU_CODES],
            "batch_id": db.session.scalar(db.select(Lot.batch_id)),
        }
        db.session.remove()
    return world


class LedgerMachine(RuleBasedStateMachine):
    app = None
    world = None

    @initialize()
    def start(self):
        self.ctx = self.app.app_context()
        self.ctx.push()
        self.session = db.session
        for model in (StockMovement, StockReservation, Lot):
            self.session.execute(db.delete(model))
        self.session.execute(db.delete(Order))
        self.session.commit()
        self.app.extensions["heli_redis"].delete(stock_cache.KEY)
        self.orders: dict[int, str] = {}  # order id → RESERVED / PAID / SHIPPED / RELEASED
        self.lots: list[int] = []

    def teardown(self):
        self.session.rollback()
        db.session.remove()
        self.ctx.pop()

    def _available(self, sku_id: int) -> int:
        return inventory.available(self.session, [sku_id])[sku_id]

    @rule(sku=st.integers(0, 1), quantity=st.integers(1, 30), hours=st.integers(1, 96))
    def receive(self, sku, quantity, hours):
        sku_id = self.world["skus"][sku]
        before = self._available(sku_id)
        lot = inventory.receive(
            self.session,
            sku_id=sku_id,
            batch_id=self.world["batch_id"],
            code=uuid.uuid4().hex,
            quantity=quantity,
            packed_at=utcnow(),
            use_by=utcnow() + timedelta(hours=hours),
        )
        self.session.commit()
        self.lots.append(lot.id)
        assert self._available(sku_id) == before + quantity

    @rule(lines=st.dictionaries(st.integers(0, 1), st.integers(1, 40), min_size=1))
    def reserve(self, lines):
        wanted = {self.world["skus"][i]: q for i, q in lines.items()}
        before = {sku_id: self._available(sku_id) for sku_id in wanted}
        order_id = _new_order(self.session, self.world["customer_id"])
        try:
            inventory.reserve(self.session, order_id=order_id, lines=wanted)
            self.session.commit()
        except SoldOut:
            self.session.rollback()
            assert any(before[s] < q for s, q in wanted.items())
            assert {s: self._available(s) for s in wanted} == before
            return
        assert all(before[s] >= q for s, q in wanted.items())
        assert {s: self._available(s) for s in wanted} == {
            s: before[s] - q for s, q in wanted.items()
        }
        self.orders[order_id] = "RESERVED"

    def _pick(self, data, *states):
        candidates = sorted(o for o, s in self.orders.items() if s in states)
        return data.draw(st.sampled_from(candidates)) if candidates else None

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def release(self, data):
        order_id = self._pick(data, "RESERVED", "PAID")
        if order_id:
            inventory.release(self.session, order_id=order_id)
            self.session.commit()
            self.orders[order_id] = "RELEASED"

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def commit(self, data):
        order_id = self._pick(data, "RESERVED")
        if order_id:
            assert inventory.commit(self.session, order_id=order_id)
            self.session.commit()
            self.orders[order_id] = "PAID"

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def ship(self, data):
        order_id = self._pick(data, "PAID")
        if order_id:
            inventory.ship(self.session, order_id=order_id)
            self.session.commit()
            self.orders[order_id] = "SHIPPED"

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def return_goods(self, data):
        order_id = self._pick(data, "SHIPPED")
        if order_id:
            inventory.return_to_stock(
                self.session, order_id=order_id, staff_id=self.world["staff_id"]
            )
            self.session.commit()

    @precondition(lambda self: self.lots)
    @rule(data=st.data())
    def expire(self, data):
        lot_id = data.draw(st.sampled_from(self.lots))
        lot = self.session.get(Lot, lot_id)
        result = expiry.expire(self.session, lot_id=lot_id, now=lot.use_by)
        self.session.commit()
        for order_id in result["unmoved_unpaid"] + result["unmoved_paid"]:
            inventory.release(self.session, order_id=order_id)
            self.session.commit()
            self.orders[order_id] = "RELEASED"

    @precondition(lambda self: self.lots)
    @rule(data=st.data(), delta=st.integers(-20, 20))
    def adjust(self, data, delta):
        lot_id = data.draw(st.sampled_from(self.lots))
        lot = self.session.get(Lot, lot_id)
        allowed = delta != 0 and lot.on_hand + delta >= lot.reserved
        try:
            inventory.adjust(
                self.session,
                lot_id=lot_id,
                delta=delta,
                reason="盘点",
                staff_id=self.world["staff_id"],
            )
            assert allowed
        except DomainError:
            self.session.rollback()
            assert not allowed

    @invariant()
    def ledger_balances(self):
        if hasattr(self, "session"):
            _check_invariants(self.session)


def test_random_operation_sequences_keep_the_ledger_balanced(app, ledger_world):
    LedgerMachine.app, LedgerMachine.world = app, ledger_world
    runner = LedgerMachine.TestCase
    runner.settings = settings(
        max_examples=25,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    runner("runTest").runTest()


def test_concurrent_buyers_across_lots_never_oversell(app, ledger_world):
    sku_id = ledger_world["skus"][0]
    for hours in (30, 50, 70):  # three more lots of the hot SKU, expiring at different times
        stock_up(app, {SKU_CODES[0]: 10}, packed_at=utcnow() - timedelta(hours=72 - hours))
    with app.app_context():
        total = inventory.available(db.session, [sku_id])[sku_id]
    outcomes: list[tuple[str, int]] = []

    def buyer(seed: int) -> None:
        rng = random.Random(seed)
        with app.app_context():
            for _ in range(12):
                order_id = _new_order(db.session, ledger_world["customer_id"])
                quantity = rng.randint(1, 9)
                try:
                    inventory.reserve(db.session, order_id=order_id, lines={sku_id: quantity})
                    db.session.commit()
                except SoldOut:
                    db.session.rollback()
                    continue
                action = rng.choice(["keep", "release", "commit", "ship"])
                if action == "release":
                    inventory.release(db.session, order_id=order_id)
                    quantity = 0
                elif action in ("commit", "ship"):
                    inventory.commit(db.session, order_id=order_id)
                    if action == "ship":
                        inventory.ship(db.session, order_id=order_id)
                db.session.commit()
                outcomes.append((action, quantity))
            db.session.remove()

    threads = [threading.Thread(target=buyer, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = sum(quantity for _, quantity in outcomes)
    with app.app_context():
        _check_invariants(db.session)
        left = inventory.available(db.session, [sku_id])[sku_id]
    assert taken + left == total
    assert left >= 0 and taken <= total
