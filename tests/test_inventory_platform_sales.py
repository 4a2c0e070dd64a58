"""Platform orders' stock settled a batch at a time: FEFO, all or nothing per order, in the order
given, releases before sales, ships after them, and never a lot sold below zero."""

from datetime import timedelta

import pytest

from backend.extensions import db
from backend.inventory import platform_sales
from backend.inventory import queries as inventory_queries
from backend.inventory import service as inventory
from backend.inventory.models import Lot, StockMovement, StockReservation
from backend.platforms.models import PlatformOrder, Shop
from backend.sellers import service as sellers
from backend.staff.models import Staff
from backend.timeutil import utcnow
from tests.helpers import stock_up

SKU = "RS-GIFT-L-8"


@pytest.fixture
def lots(app, store):
    """(sku id, older lot, fresh lot, free units of the fresh lot): the older lot has 5 free
    units and expires first."""
    older = stock_up(app, {SKU: 5}, packed_at=utcnow() - timedelta(hours=48))[0]
    with app.app_context():
        fresh = db.session.scalar(db.select(Lot).where(Lot.sku_id == store[SKU], Lot.id != older))
        return store[SKU], older, fresh.id, fresh.on_hand - fresh.reserved


def _orders(count: int) -> list[int]:
    seller = sellers.create_seller(db.session, name="测试卖家")
    db.session.flush()
    shop = Shop(
        seller_id=seller.id,
        platform="taobao",
        shop_key="tb-batch",
        access_token="-",
        token_expires_at=utcnow(),
    )
    db.session.add(shop)
    db.session.flush()
    rows = [
        PlatformOrder(
            platform="taobao",
            order_no=f"T{n}",
            shop_id=shop.id,
            seller_id=seller.id,
            status="PAID",
            platform_status="WAIT_SELLER_SEND_GOODS",
            placed_at=utcnow(),
            platform_updated_at=utcnow(),
            total=0,
            lines=[],
            receiver={},
        )
        for n in range(count)
    ]
    db.session.add_all(rows)
    db.session.commit()
    return [row.id for row in rows]


def _holds(owner: int) -> list[tuple[int, int, str]]:
    return [
        (hold.lot_id, hold.quantity, hold.status)
        for hold in db.session.scalars(
            db.select(StockReservation)
            .where(StockReservation.platform_order_id == owner)
            .order_by(StockReservation.lot_id)
        )
    ]


def _kinds(owner: int) -> list[str]:
    return list(
        db.session.scalars(
            db.select(StockMovement.kind)
            .where(StockMovement.platform_order_id == owner)
            .order_by(StockMovement.id)
        )
    )


def test_a_batch_sells_fefo_all_or_nothing_in_order_and_ships_what_it_sold(ctx, lots):
    sku, older, fresh, free = lots
    first, too_big, shipped = _orders(3)
    short = platform_sales.settle(
        db.session,
        sell={first: {sku: 3}, too_big: {sku: free + 5}, shipped: {sku: 4}},
        ship=[shipped],
    )
    db.session.commit()
    assert short == {too_big: {"sku_id": sku, "available": free + 2}}
    assert _holds(first) == [(older, 3, "COMMITTED")]
    assert _holds(too_big) == [] and _kinds(too_big) == []
    assert _holds(shipped) == sorted([(older, 2, "SHIPPED"), (fresh, 2, "SHIPPED")])
    assert _kinds(shipped) == ["RESERVE", "COMMIT", "SHIP"] * 2
    older_lot = db.session.get(Lot, older)
    assert (older_lot.on_hand, older_lot.reserved) == (3, 3)
    assert inventory.available(db.session, [sku])[sku] == free - 2
    assert inventory_queries.ledger_mismatches(db.session) == []


def test_units_given_back_are_sold_again_in_the_same_batch(ctx, lots):
    sku, older, fresh, free = lots
    cancelled, later, kept = _orders(3)
    platform_sales.settle(db.session, sell={cancelled: {sku: 5}, kept: {sku: 1}})
    db.session.commit()
    assert _holds(kept) == [(fresh, 1, "COMMITTED")]
    short = platform_sales.settle(
        db.session, release={cancelled: "淘宝订单取消/退款"}, sell={later: {sku: 2}}, ship=[kept]
    )
    db.session.commit()
    assert short == {}
    assert _holds(cancelled) == [(older, 5, "RELEASED")]
    assert _kinds(cancelled) == ["RESERVE", "COMMIT", "RELEASE"]
    assert _holds(later) == [(older, 2, "COMMITTED")]  # the first to expire again
    assert _holds(kept) == [(fresh, 1, "SHIPPED")]
    older_lot = db.session.get(Lot, older)
    assert (older_lot.on_hand, older_lot.reserved) == (5, 2)
    assert inventory_queries.ledger_mismatches(db.session) == []


def test_a_lot_that_moved_after_the_read_is_never_sold_below_zero(ctx, lots):
    """Where rows are not locked (SQLite before the transaction's first write), a lot can move
    between the plan and the write: the guarded UPDATE refuses and nothing of the batch stands."""
    sku, older, fresh, free = lots
    [owner] = _orders(1)
    read = platform_sales._lock_lots(db.session, set(), {sku})
    db.session.commit()
    admin = db.session.scalar(db.select(Staff.id).where(Staff.username == "admin"))
    inventory.adjust(db.session, lot_id=older, delta=-4, reason="盘点", staff_id=admin)
    plan = platform_sales._Plan(read, utcnow())
    assert plan.sell(owner, {sku: 3}, shipped=False) is None  # planned on the stale read
    with pytest.raises(platform_sales.StockMoved):
        plan.write(db.session, utcnow())
    db.session.rollback()
    assert _holds(owner) == [] and _kinds(owner) == []
    older_lot = db.session.get(Lot, older)
    assert (older_lot.on_hand, older_lot.reserved) == (1, 0)
    assert inventory_queries.ledger_mismatches(db.session) == []
