"""Settlement of drop-shipped platform orders: wholesale prices per SKU and tier, the cost booked
once when the parcel ships, its reversal on a refund after shipping, dead-on-arrival credit, the
monthly statement and its CSV, and staff marking it settled."""

import csv
import io

from sqlalchemy import select, update

from backend.extensions import db
from backend.platforms.models import PlatformOrder
from backend.sellers import service as sellers
from backend.settlement import prices
from backend.settlement import service as settlement
from backend.settlement.models import SettlementEntry
from tests.helpers import print_run, run_codes
from tests.test_fulfilment import (
    _douyin_order,
    _lot_of,
    _packed_and_shipped,
    _parcel,
    _wave,
)
from tests.test_platform_orders import pull, set_cursor

LARGE = "RS-LIVE-L-5"


def _ship_douyin_order(app, client, sandbox, staff_client, store, seller):
    douyin, order_no = _douyin_order(app, client, sandbox, staff_client, seller["seller_id"])
    _wave(staff_client)
    parcel = _parcel(staff_client, order_no)
    lot = {**seller, "lot_id": _lot_of(app, store[LARGE])}
    codes = run_codes(app, print_run(staff_client, lot, quantity=2).json["id"])
    _packed_and_shipped(app, staff_client, parcel["id"], codes)
    return douyin, order_no, parcel


def _entries(app) -> list[tuple[str, int]]:
    with app.app_context():
        rows = db.session.execute(
            select(SettlementEntry.kind, SettlementEntry.amount).order_by(SettlementEntry.id)
        ).all()
        return [tuple(row) for row in rows]


def test_wholesale_prices_are_set_per_tier_and_the_default_fills_in(app, staff_client, store):
    tiers = staff_client.get("/console/api/seller-tiers").json["items"]
    [standard] = [t for t in tiers if t["is_default"]]
    gold = staff_client.post("/console/api/seller-tiers", json={"code": "GOLD", "name": "金牌"})
    assert gold.status_code == 201
    sku = store[LARGE]
    for tier_id, price in ((standard["id"], 7000), (gold.json["id"], 6500)):
        res = staff_client.put(
            "/console/api/wholesale-prices",
            json={"sku_id": sku, "tier_id": tier_id, "price": price},
        )
        assert res.status_code == 200, res.json
    bad = staff_client.put(
        "/console/api/wholesale-prices",
        json={"sku_id": sku, "tier_id": standard["id"], "price": -1},
    )
    assert bad.status_code == 400
    with app.app_context():
        seller = sellers.create_seller(db.session, name="金牌卖家")
        db.session.commit()
        seller_id = seller.id
        other = store["RS-LIVE-XL-5"]
        assert prices.unit_prices(db.session, seller_id=seller_id, sku_ids={sku, other}) == {
            sku: 7000
        }
    staff_client.put(f"/console/api/sellers/{seller_id}/tier", json={"tier_id": gold.json["id"]})
    with app.app_context():
        assert prices.unit_prices(db.session, seller_id=seller_id, sku_ids={sku}) == {sku: 6500}
    table = staff_client.get("/console/api/wholesale-prices").json
    row = next(s for s in table["skus"] if s["sku_id"] == sku)
    assert row["wholesale"] == {str(standard["id"]): 7000, str(gold.json["id"]): 6500}
    assert staff_client.get("/console/settlement/prices").status_code == 200


def test_a_shipped_platform_order_books_its_cost_once_and_a_refund_reverses_it(
    app, client, sandbox, staff_client, store, store_seller
):
    with app.app_context():
        tier = prices.default_tier(db.session)
        db.session.commit()
        tier_id = tier.id
    staff_client.put(
        "/console/api/wholesale-prices",
        json={"sku_id": store[LARGE], "tier_id": tier_id, "price": 7000},
    )
    douyin, order_no, parcel = _ship_douyin_order(
        app, client, sandbox, staff_client, store, store_seller
    )
    assert _entries(app) == [("COST", 14000)]  # 2 × 70.00
    with app.app_context():  # shipping again (a retried job) books nothing more
        row = db.session.get(PlatformOrder, parcel["platform_order_id"])
        settlement.record_shipped_cost(db.session, row)
        db.session.commit()
        assert settlement.reconcile_refunds(db.session) == 0  # not refunded
    assert _entries(app) == [("COST", 14000)]
    # The seller's buyer got 30.00 back for dead oysters: staff credit the seller.
    credit = staff_client.post(
        f"/console/api/platform-orders/{parcel['platform_order_id']}/dead-on-arrival-compensation",
        json={"amount": 3000, "note": "死货 4 只"},
    )
    assert credit.status_code == 201, credit.json
    too_much = staff_client.post(
        f"/console/api/platform-orders/{parcel['platform_order_id']}/dead-on-arrival-compensation",
        json={"amount": 3000, "note": "again"},
    )
    assert too_much.status_code == 409
    # The platform then refunds the whole order: what still stands is reversed, once.
    douyin.set_status(order_no, "REFUNDED", minutes_ago=4)
    with app.app_context():
        shop_id = db.session.get(PlatformOrder, parcel["platform_order_id"]).shop_id
    set_cursor(app, shop_id, 10)
    pull(app, shop_id)
    with app.app_context():
        assert db.session.get(PlatformOrder, parcel["platform_order_id"]).status == "REFUNDED"
        assert settlement.reconcile_refunds(db.session) == 1
        assert settlement.reconcile_refunds(db.session) == 0
    assert _entries(app) == [("COST", 14000), ("DEAD_ON_ARRIVAL", -3000), ("REFUND", -11000)]
    seller_id = store_seller["seller_id"]
    with app.app_context():
        [month] = settlement.seller_statements(db.session, seller_id=seller_id)
        assert (month["orders"], month["units"], month["wholesale_total"]) == (1, 2, 14000)
        assert (month["adjustments"], month["amount_due"]) == (-14000, 0)


def test_the_monthly_statement_its_csv_settling_and_no_other_sellers_view(
    app, client, sandbox, staff_client, store, store_seller
):
    with app.app_context():
        tier_id = prices.default_tier(db.session).id
        db.session.commit()
    staff_client.put(
        "/console/api/wholesale-prices",
        json={"sku_id": store[LARGE], "tier_id": tier_id, "price": 6800},
    )
    _, order_no, parcel = _ship_douyin_order(
        app, client, sandbox, staff_client, store, store_seller
    )
    seller_id = store_seller["seller_id"]
    with app.app_context():
        month = settlement.current_month()
        found = settlement.statement(db.session, seller_id=seller_id, month=month)
        assert (found["orders"], found["units"], found["wholesale_total"]) == (1, 2, 13600)
        assert (found["adjustments"], found["amount_due"], found["settled"]) == (0, 13600, None)
        assert found["entries"][0]["order_no"] == order_no
        raw = settlement.statement_csv(db.session, seller_id=seller_id, month=month)
        assert raw.startswith("\ufeff")  # Excel reads the Chinese right with it
        rows = list(csv.reader(io.StringIO(raw.removeprefix("\ufeff"))))
        assert rows[0][:4] == ["时间", "类型", "平台", "平台订单号"]
        assert rows[1][1:6] == ["发货供货价", "抖店", order_no, "2", "136.00"]
        assert ["应付金额（元）", "136.00"] in rows
        # Another seller sees none of it.
        other = sellers.create_seller(db.session, name="隔壁卖家")
        db.session.commit()
        assert settlement.seller_statements(db.session, seller_id=other.id) == []
        theirs = settlement.statement(db.session, seller_id=other.id, month=month)
        assert theirs["entries"] == [] and theirs["amount_due"] == 0
        assert order_no not in settlement.statement_csv(db.session, seller_id=other.id, month=month)
    # This month is not over: it cannot be settled yet.
    early = staff_client.post(f"/console/api/statements/{seller_id}/{month}/settle", json={})
    assert early.status_code == 422 and early.json["code"] == "MONTH_NOT_OVER"
    with app.app_context():  # (test setup) the entry was booked last month
        db.session.execute(update(SettlementEntry).values(month="2020-01"))
        db.session.commit()
    listed = staff_client.get("/console/api/statements?month=2020-01").json
    assert [(i["seller_id"], i["amount_due"]) for i in listed["items"]] == [(seller_id, 13600)]
    done = staff_client.post(f"/console/api/statements/{seller_id}/2020-01/settle", json={})
    assert done.status_code == 200, done.json
    assert done.json["settled"]["amount_due"] == 13600
    assert done.json["settled"]["settled_by_name"] and done.json["settled"]["settled_at"]
    twice = staff_client.post(f"/console/api/statements/{seller_id}/2020-01/settle", json={})
    assert twice.status_code == 409 and twice.json["code"] == "STATEMENT_ALREADY_SETTLED"
    page = staff_client.get("/console/settlement/statements?month=2020-01")
    assert page.status_code == 200 and "已结算" in page.text
    download = staff_client.get(f"/console/settlement/statements/{seller_id}/2020-01.csv")
    assert download.status_code == 200 and download.data.startswith("\ufeff".encode())
