"""The demo year (`flask seed-demo --history`): rows a report can trust — totals equal their
items, parcels belong to paid orders, every lot's on-hand and reserved equal its ledger, times in
order, show summaries that agree with the shows' orders — the same rows for the same seed, and
written once."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from backend import demo, demo_history
from backend.errors import RuleBroken
from backend.extensions import db

END = datetime(2026, 12, 5, 16, 0)  # midnight of 6 December in Shanghai
DAYS, PER_DAY = 75, 12  # mid-September to December: the autumn rise, 国庆, 双十一


def _rows(session, sql: str, **params) -> list:
    return list(session.execute(text(sql), params))


def _one(session, sql: str, **params):
    return session.execute(text(sql), params).scalar()


@pytest.fixture
def year(app, ctx):
    demo.seed(db.session)
    counts = demo_history.seed_history(
        db.session, days=DAYS, orders_per_day=PER_DAY, seed=7, end=END
    )
    return counts


def _every_channel_and_kind_of_row_is_there(year):
    for table in (
        "orders",
        "order_items",
        "payments",
        "platform_orders",
        "stock_movements",
        "lots",
        "parcels",
        "tracking_events",
        "after_sales",
        "refunds",
        "live_rooms",
        "live_show_summaries",
        "flash_sales",
        "trace_scans",
        "trace_flags",
        "broadcasts",
        "notice_deliveries",
        "batches",
        "batch_steps",
        "waves",
    ):
        assert year.get(table, 0) > 0, table
    s = db.session
    channels = {row[0] for row in _rows(s, "SELECT DISTINCT channel FROM parcels")}
    assert {"MINIPROGRAM", "LIVE", "DOUYIN", "TAOBAO"} <= channels
    platforms = {row[0] for row in _rows(s, "SELECT DISTINCT platform FROM platform_orders")}
    assert platforms == {"douyin", "taobao", "pdd", "jd", "youzan"}
    statuses = {row[0] for row in _rows(s, "SELECT DISTINCT status FROM orders")}
    assert {"CANCELLED", "PAID", "SHIPPED", "DELIVERED", "COMPLETED", "REFUNDED"} <= statuses
    kinds = {row[0] for row in _rows(s, "SELECT DISTINCT kind FROM stock_movements")}
    assert {"RECEIVE", "RESERVE", "COMMIT", "SHIP", "RELEASE", "EXPIRE"} <= kinds
    orders = _one(s, "SELECT count(*) FROM orders") + _one(
        s, "SELECT count(*) FROM platform_orders"
    )
    assert DAYS * PER_DAY * 0.8 < orders < DAYS * PER_DAY * 1.2


def _order_totals_payments_and_statuses_agree(year):
    s = db.session
    assert not _rows(
        s,
        """SELECT o.id FROM orders o JOIN order_items i ON i.order_id = o.id
           GROUP BY o.id, o.goods_total, o.total, o.shipping_fee
           HAVING sum(i.subtotal) != o.goods_total OR o.total != o.goods_total + o.shipping_fee""",
    )
    assert not _one(s, "SELECT count(*) FROM order_items WHERE subtotal != unit_price * quantity")
    assert not _one(
        s,
        "SELECT count(*) FROM orders o WHERE NOT EXISTS "
        "(SELECT 1 FROM order_items i WHERE i.order_id = o.id)",
    )
    # paid orders have a successful payment of their total; unpaid ones none that succeeded
    assert not _one(
        s,
        """SELECT count(*) FROM orders o LEFT JOIN payments p ON p.order_id = o.id
           WHERE (o.paid_at IS NOT NULL AND (p.status IS NULL OR p.status != 'SUCCESS'
                                             OR p.amount != o.total OR p.paid_at != o.paid_at))
              OR (o.paid_at IS NULL AND p.status = 'SUCCESS')""",
    )
    combos = set(
        _rows(
            s,
            """SELECT status, paid_at IS NOT NULL, shipped_at IS NOT NULL,
                      delivered_at IS NOT NULL, completed_at IS NOT NULL,
                      cancelled_at IS NOT NULL FROM orders GROUP BY 1, 2, 3, 4, 5, 6""",
        )
    )
    allowed = {
        ("CANCELLED", 0, 0, 0, 0, 1),
        ("PAID", 1, 0, 0, 0, 0),
        ("REFUNDED", 1, 0, 0, 0, 0),
        ("SHIPPED", 1, 1, 0, 0, 0),
        ("DELIVERED", 1, 1, 1, 0, 0),
        ("COMPLETED", 1, 1, 1, 1, 0),
    }
    assert {tuple(int(v) if not isinstance(v, str) else v for v in c) for c in combos} <= allowed
    # times in order, none after the end
    assert not _one(
        s,
        """SELECT count(*) FROM orders WHERE paid_at < created_at OR shipped_at < paid_at
           OR delivered_at < shipped_at OR completed_at < delivered_at OR cancelled_at < created_at
           OR created_at >= :end OR completed_at > :end OR delivered_at > :end""",
        end=END,
    )
    # refunds: what the order says was refunded is what succeeded, never more than its total
    assert not _rows(
        s,
        """SELECT o.id FROM orders o LEFT JOIN refunds r ON r.order_id = o.id
                                                      AND r.status = 'SUCCESS'
           GROUP BY o.id, o.refunded_total, o.total
           HAVING coalesce(sum(r.amount), 0) != o.refunded_total OR o.refunded_total > o.total""",
    )
    assert not _one(
        s, "SELECT count(*) FROM orders WHERE status = 'REFUNDED' AND refunded_total != total"
    )
    assert _one(s, "SELECT count(*) FROM platform_orders") and not [
        row
        for row in _rows(s, "SELECT lines, total FROM platform_orders")
        if sum(line["unit_price"] * line["quantity"] for line in _json(row[0])) != row[1]
    ]


def _json(value):
    import json

    return json.loads(value) if isinstance(value, str) else value


def _parcels_belong_to_paid_orders_and_follow_their_courier(year):
    s = db.session
    assert not _one(
        s,
        """SELECT count(*) FROM parcels p LEFT JOIN orders o ON o.id = p.order_id
           LEFT JOIN platform_orders po ON po.id = p.platform_order_id
           WHERE coalesce(o.paid_at, po.paid_at) IS NULL OR p.paid_at != coalesce(o.paid_at, po.paid_at)""",  # noqa: E501
    )
    # every paid store order has exactly one parcel; shipped ones a waybill and scans
    assert not _one(
        s,
        """SELECT count(*) FROM orders o WHERE o.paid_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM parcels p WHERE p.order_id = o.id)""",
    )
    assert not _one(
        s,
        """SELECT count(*) FROM orders o JOIN parcels p ON p.order_id = o.id
           WHERE (o.shipped_at IS NULL) != (p.shipped_at IS NULL)
              OR (o.tracking_no IS NOT NULL AND o.tracking_no != p.tracking_no)
              OR (o.status = 'REFUNDED') != (p.status = 'STOPPED')
              OR (o.delivered_at IS NOT NULL) != (p.status = 'DELIVERED')""",
    )
    assert not _one(
        s,
        """SELECT count(*) FROM parcels p WHERE p.status IN ('SHIPPED', 'DELIVERED')
           AND NOT EXISTS (SELECT 1 FROM tracking_events t WHERE t.parcel_id = p.id)""",
    )
    # the slow courier loses more oysters than the others
    rates = dict(
        _rows(
            s,
            """SELECT p.carrier, 1.0 * count(a.id) / count(DISTINCT p.id) FROM parcels p
               LEFT JOIN after_sales a ON a.order_id = p.order_id AND a.type = 'DEAD_ON_ARRIVAL'
               WHERE p.status = 'DELIVERED' AND p.order_id IS NOT NULL GROUP BY p.carrier""",
        )
    )
    assert rates["YUNDA"] > rates["SF"]


def _every_lot_equals_its_ledger(year):
    s = db.session
    assert not _rows(
        s,
        """SELECT l.id FROM lots l JOIN stock_movements m ON m.lot_id = l.id
           GROUP BY l.id, l.on_hand, l.reserved
           HAVING sum(m.on_hand_delta) != l.on_hand OR sum(m.reserved_delta) != l.reserved""",
    )
    assert not _one(
        s,
        "SELECT count(*) FROM lots WHERE reserved < 0 OR reserved > on_hand "
        "OR on_hand < 0 OR (status = 'EXPIRED' AND (on_hand != 0 OR reserved != 0))",
    )
    # what lots hold is the open holds; shipped units are the parcels' units
    assert not _rows(
        s,
        """SELECT l.id FROM lots l LEFT JOIN stock_reservations r ON r.lot_id = l.id
                                             AND r.status IN ('HELD', 'COMMITTED')
           GROUP BY l.id, l.reserved HAVING coalesce(sum(r.quantity), 0) != l.reserved""",
    )
    shipped = _one(s, "SELECT -sum(on_hand_delta) FROM stock_movements WHERE kind = 'SHIP'")
    assert shipped == _one(
        s, "SELECT sum(units) FROM parcels WHERE status IN ('SHIPPED', 'DELIVERED')"
    )
    # a lot leaves sale at its use-by: nothing was shipped from it later, and units expire then
    assert not _one(
        s,
        """SELECT count(*) FROM stock_movements m JOIN lots l ON l.id = m.lot_id
           WHERE m.kind IN ('RESERVE', 'SHIP') AND (m.created_at >= l.use_by
                                                    OR m.created_at < l.packed_at)""",
    )
    # lots still on sale at the end are the ones whose use-by has not come
    assert not _one(
        s, "SELECT count(*) FROM lots WHERE (status = 'SELLABLE') != (use_by > :end)", end=END
    )


def _show_summaries_agree_with_their_orders(year):
    s = db.session
    summaries = _rows(s, "SELECT room_id, figures FROM live_show_summaries")
    assert summaries
    for room_id, figures in summaries:
        figures = _json(figures)
        paid, gmv = _rows(
            s,
            "SELECT count(*), coalesce(sum(total), 0) FROM orders "
            "WHERE live_room_id = :room AND paid_at IS NOT NULL",
            room=room_id,
        )[0]
        assert (figures["paid_orders"], figures["gmv"]) == (paid, gmv)
        assert figures["holds"] == _one(
            s, "SELECT count(*) FROM live_claims WHERE room_id = :room", room=room_id
        )
        assert sum(row["gmv"] for row in figures["sharers"]) == gmv
    assert not _one(
        s,
        """SELECT count(*) FROM orders o JOIN flash_sales f ON f.id = o.flash_sale_id
           WHERE o.live_room_id != f.room_id""",
    )


def _scans_flags_and_broadcasts_add_up(year):
    s = db.session
    assert not _rows(
        s,
        """SELECT c.id FROM trace_codes c LEFT JOIN trace_scans t ON t.code_id = c.id
           GROUP BY c.id, c.scan_count HAVING count(t.id) != c.scan_count""",
    )
    assert not _one(
        s,
        """SELECT count(*) FROM trace_codes c WHERE c.flagged != EXISTS
           (SELECT 1 FROM trace_flags f WHERE f.code_id = c.id)""",
    )
    regions = dict(_rows(s, "SELECT region, count(*) FROM trace_flags GROUP BY region"))
    assert max(regions, key=regions.get) in ("广东省广州市", "河北省保定市", "河南省郑州市")
    assert not _rows(
        s,
        """SELECT b.id FROM broadcasts b JOIN notice_deliveries d ON d.broadcast_id = b.id
           GROUP BY b.id, b.recipients HAVING count(d.id) != b.recipients""",
    )
    targets = {row[0]: _json(row[1]) for row in _rows(s, "SELECT id, target FROM broadcasts")}
    reached = [
        share
        for broadcast_id, share in _rows(
            s,
            """SELECT b.id, 1.0 * sum(CASE WHEN d.state = 'DELIVERED' THEN 1 ELSE 0 END) / count(*)
               FROM broadcasts b JOIN notice_deliveries d ON d.broadcast_id = b.id
               GROUP BY b.id, b.send_at ORDER BY b.send_at""",
        )
        if targets[broadcast_id] == {}
    ]
    if len(reached) >= 2:  # more sellers bind the Official Account as the year goes on
        assert reached[-1] > reached[0]


def _digest(session) -> str:
    rows = [
        *_rows(session, "SELECT number, status, total, created_at FROM orders ORDER BY id"),
        *_rows(
            session,
            "SELECT lot_id, kind, on_hand_delta, created_at FROM stock_movements ORDER BY id",
        ),
        *_rows(session, "SELECT code, scan_count FROM trace_codes ORDER BY id"),
        *_rows(session, "SELECT order_no, status, total FROM platform_orders ORDER BY id"),
    ]
    # the same on either database: times as SQLite stores them, ints as ints
    shown = [
        tuple(v.isoformat(" ", "microseconds") if isinstance(v, datetime) else v for v in row)
        for row in rows
    ]
    return hashlib.sha256(repr(shown).encode()).hexdigest()


def _the_same_seed_writes_the_same_year(year, tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'again.sqlite3'}")
    db.metadata.create_all(engine)
    with Session(engine) as other:
        demo.seed(other)
        demo_history.seed_history(other, days=DAYS, orders_per_day=PER_DAY, seed=7, end=END)
        assert _digest(other) == _digest(db.session)
    engine.dispose()


def _a_second_run_writes_nothing(year):
    orders = _one(db.session, "SELECT count(*) FROM orders")
    assert demo_history.seed_history(db.session, days=DAYS, seed=8, end=END) == {}
    assert _one(db.session, "SELECT count(*) FROM orders") == orders


def test_without_the_demo_alliance_or_with_a_bad_size_it_refuses(app, ctx):
    with pytest.raises(RuleBroken) as missing:
        demo_history.seed_history(db.session, days=5, end=END)
    assert "seed-demo" in missing.value.message
    with pytest.raises(RuleBroken):
        demo_history.seed_history(db.session, days=0, end=END)
    assert not _one(db.session, "SELECT count(*) FROM orders")


def test_the_command_loads_a_small_year_once(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo", "--history", "--days", "20", "--orders-per-day", "8"])
    assert first.exit_code == 0, first.output
    assert "demo data loaded" in first.output and "demo history loaded" in first.output
    again = runner.invoke(args=["seed-demo", "--history", "--days", "20"])
    assert again.exit_code == 0, again.output
    assert "demo history already present" in again.output
    bad = runner.invoke(args=["seed-demo", "--history", "--orders-per-day", "0"])
    assert bad.exit_code != 0


def test_console_pages_page_through_a_demo_year(app, staff_client):
    with app.app_context():
        demo_history.seed_history(db.session, days=20, orders_per_day=40, end=END)
        room_id = _one(db.session, "SELECT max(room_id) FROM live_show_summaries")
        db.session.remove()
    desk = staff_client.get("/console/fulfilment")
    assert desk.status_code == 200 and "下一页" in desk.get_data(as_text=True)
    for url in (
        "/console/fulfilment?page=2",
        "/console/after-sales",
        "/console/after-sales?page=2",
        "/console/live",
        f"/console/live/rooms/{room_id}",
        "/console/lots",
        "/console/ledger",
        "/console/trace-flags",
    ):
        assert staff_client.get(url).status_code == 200, url


def test_a_demo_year_holds_together(year, tmp_path):
    """One year written, every invariant checked on it (each written year costs seconds, on
    PostgreSQL more)."""
    _every_channel_and_kind_of_row_is_there(year)
    _order_totals_payments_and_statuses_agree(year)
    _parcels_belong_to_paid_orders_and_follow_their_courier(year)
    _every_lot_equals_its_ledger(year)
    _show_summaries_agree_with_their_orders(year)
    _scans_flags_and_broadcasts_add_up(year)
    _the_same_seed_writes_the_same_year(year, tmp_path)
    _a_second_run_writes_nothing(year)
