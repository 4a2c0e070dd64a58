"""Buyers racing for one SKU spread over lots with different use-by times, over HTTP against the
real app (its threaded server, one database connection per request), while they cancel and pay
and the pay deadlines and a lot's use-by come: no answer may be a server error, nothing is
oversold and the ledger balances. Run it on PostgreSQL (DATABASE_URL) as well as SQLite: there
the lots are row-locked, and locks taken out of one order deadlock."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select, update

from backend import demo
from backend.catalogue.models import Sku
from backend.extensions import db
from backend.flows import unpaid_orders
from backend.inventory import queries as inventory_queries
from backend.inventory.models import COMMITTED, HELD, Lot, StockReservation
from backend.orders.models import CANCELLED, PAID, PENDING_PAYMENT, Order, OrderItem
from backend.staff.models import StaffAlert
from backend.timeutil import utcnow
from tests.helpers import ADDRESS, login_code, stock_up

HOT_SKU = "RS-LIVE-L-5"
LOTS, UNITS_PER_LOT = 5, 20  # 100 units for ~190 asked: the SKU sells out, cancels free units
BUYERS, ROUNDS = 8, 12


@pytest.fixture
def hot_lots(app):
    """The hot SKU in LOTS lots, the lower the id the later its use-by (FEFO takes them out of
    id order); answers (sku id, lot ids)."""
    with app.app_context():
        demo.seed(db.session)
        sku_id = db.session.scalar(select(Sku.id).where(Sku.code == HOT_SKU))
        db.session.remove()
    lot_ids = [
        stock_up(app, {HOT_SKU: UNITS_PER_LOT}, packed_at=utcnow() - timedelta(hours=5 * index))[0]
        for index in range(LOTS)
    ]
    return sku_id, lot_ids


@pytest.fixture
def open_limits(app, monkeypatch):
    """Each buyer orders as often and holds as much as it likes: the race is what is tested."""
    for name in ("ORDER_RATE_PER_CUSTOMER", "ORDER_RATE_PER_IP"):
        monkeypatch.setitem(app.config, name, "1000000/minute")
    for name in (
        "MAX_UNPAID_ORDERS_PER_CUSTOMER",
        "MAX_HELD_UNITS_PER_CUSTOMER",
        "MAX_HELD_UNITS_PER_SKU_PER_CUSTOMER",
    ):
        monkeypatch.setitem(app.config, name, 1_000_000)


class Race:
    """What the buyers and the jobs saw."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answers: Counter = Counter()  # (what, status, code)
        self.server_errors: list[str] = []
        self.job_errors: list[str] = []
        self.placed = threading.Event()

    def saw(self, what: str, res: requests.Response) -> dict:
        body = res.json() if res.content else {}
        with self.lock:
            self.answers[(what, res.status_code, body.get("code"))] += 1
            if res.status_code >= 500:
                self.server_errors.append(f"{what} {res.status_code} {res.text[:200]}")
            if sum(n for (w, s, _), n in self.answers.items() if w == "order" and s == 201) >= 20:
                self.placed.set()
        return body

    def count(self, what: str, status: int, code: str | None = None) -> int:
        return sum(
            n
            for (w, s, c), n in self.answers.items()
            if w == what and s == status and code in (None, c)
        )


def _buyer(base: str, sandbox, sku_id: int, index: int, race: Race) -> None:
    rng = random.Random(index)
    http = requests.Session()
    code = login_code(sandbox, f"o_racer_{index}")
    token = http.post(f"{base}/api/v1/auth/login", json={"code": code}, timeout=30).json()["token"]
    http.headers["Authorization"] = f"Bearer {token}"
    mine: list[int] = []
    for _ in range(ROUNDS):
        key = uuid.uuid4().hex
        body = {"items": [{"sku_id": sku_id, "quantity": rng.randint(1, 3)}], "address": ADDRESS}
        for _copy in range(2 if rng.random() < 0.2 else 1):  # a phone that sends it twice
            order = race.saw(
                "order",
                http.post(
                    f"{base}/api/v1/orders",
                    json=body,
                    headers={"Idempotency-Key": key},
                    timeout=60,
                ),
            )
        if "id" in order:
            mine.append(order["id"])
        action = rng.random()
        if mine and action < 0.3:
            order_id = mine.pop(rng.randrange(len(mine)))
            race.saw("cancel", http.post(f"{base}/api/v1/orders/{order_id}/cancel", timeout=60))
        elif mine and action < 0.55:
            order_id = mine.pop(rng.randrange(len(mine)))
            res = http.post(f"{base}/api/v1/orders/{order_id}/pay", timeout=60)
            params = race.saw("pay", res)
            if res.status_code == 200:
                prepay_id = params["package"].removeprefix("prepay_id=")
                confirmed = requests.post(
                    f"{sandbox.url}/sandbox/pay/{prepay_id}/confirm",
                    json={"payment": params, "wait": True},
                    timeout=60,
                ).json()
                for delivery in confirmed["deliveries"]:  # our notification callback's answer
                    if (delivery["status"] or 500) >= 500:
                        with race.lock:
                            race.server_errors.append(f"pay notification {delivery}")


def _jobs(app, lot_ids: list[int], race: Race) -> None:
    """What the worker does meanwhile: the first-expiring lot reaches its use-by, and some
    unpaid orders their pay deadline (the times are moved; the jobs are the real ones)."""
    race.placed.wait(timeout=120)
    rng = random.Random(99)
    with app.app_context():
        try:
            earliest = lot_ids[-1]
            db.session.execute(update(Lot).where(Lot.id == earliest).values(use_by=utcnow()))
            db.session.commit()
            unpaid_orders.take_lot_off_sale(db.session, lot_id=earliest)
            for _round in range(3):
                pending = list(
                    db.session.scalars(select(Order.id).where(Order.status == PENDING_PAYMENT))
                )
                due = rng.sample(pending, min(4, len(pending)))
                db.session.execute(
                    update(Order)
                    .where(Order.id.in_(due))
                    .values(pay_deadline=utcnow() - timedelta(seconds=1))
                )
                db.session.commit()
                for order_id in due:
                    unpaid_orders.expire_unpaid(db.session, order_id=order_id)
        except Exception as error:  # the worker would put it in rq's failed registry
            race.job_errors.append(repr(error))
        finally:
            db.session.remove()


def test_concurrent_buyers_never_get_a_server_error(app, sandbox, hot_lots, open_limits):
    sku_id, lot_ids = hot_lots
    base, race = app.config["PUBLIC_BASE_URL"], Race()
    threads = [
        threading.Thread(target=_buyer, args=(base, sandbox, sku_id, index, race))
        for index in range(BUYERS)
    ]
    threads.append(threading.Thread(target=_jobs, args=(app, lot_ids, race)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert race.server_errors == []
    assert race.job_errors == []
    # Every order answer is an order (placed, or the same one again) or sold out; the race ran.
    assert set((s, c) for (w, s, c) in race.answers if w == "order") <= {
        (201, None),
        (200, None),
        (409, "SOLD_OUT"),
    }
    assert race.count("order", 201) > 0 and race.count("order", 409, "SOLD_OUT") > 0
    assert race.count("cancel", 200) > 0 and race.count("pay", 200) > 0

    with app.app_context():
        assert inventory_queries.ledger_mismatches(db.session) == []
        lots = {lot.id: lot for lot in db.session.scalars(select(Lot).where(Lot.sku_id == sku_id))}
        assert lots[lot_ids[-1]].status == "EXPIRED" and lots[lot_ids[-1]].on_hand == 0
        held = dict(
            db.session.execute(
                select(StockReservation.lot_id, func.sum(StockReservation.quantity))
                .where(StockReservation.status.in_((HELD, COMMITTED)))
                .group_by(StockReservation.lot_id)
            ).all()
        )
        for lot in lots.values():  # nothing oversold: each lot holds what its holds say
            assert 0 <= lot.reserved <= lot.on_hand <= lot.received
            assert lot.reserved == held.get(lot.id, 0), lot.code
        orders = db.session.execute(
            select(Order.id, Order.status, func.sum(OrderItem.quantity))
            .join(OrderItem, OrderItem.order_id == Order.id)
            .group_by(Order.id, Order.status)
        ).all()
        by_order = dict(
            db.session.execute(
                select(StockReservation.order_id, func.sum(StockReservation.quantity))
                .where(StockReservation.status.in_((HELD, COMMITTED)))
                .group_by(StockReservation.order_id)
            ).all()
        )
        # A paid order whose lot expired with no other lot to serve it is left to staff.
        left_to_staff = {
            alert.details["order_id"]
            for alert in db.session.scalars(
                select(StaffAlert).where(StaffAlert.kind == "PAID_ORDER_LOT_EXPIRED")
            )
        }
        for order_id, status, units in orders:
            if status == PENDING_PAYMENT or (status == PAID and order_id not in left_to_staff):
                assert by_order.get(order_id, 0) == units, (order_id, status)
            elif status == CANCELLED:
                assert by_order.get(order_id, 0) == 0, order_id
        assert {status for _, status, _ in orders} & {CANCELLED} and len(orders) == race.count(
            "order", 201
        )
        db.session.remove()
