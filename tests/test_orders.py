import threading

from backend.extensions import db
from backend.inventory import service as inventory
from backend.orders.models import Order, OrderRequest
from tests.helpers import ADDRESS, limit_stock, sku_stock


def _available(app, sku_id):
    with app.app_context():
        return inventory.available(db.session, [sku_id])[sku_id]


def test_an_order_is_priced_by_the_server_and_reserves_stock(app, shopper, store):
    sku = store["RS-LIVE-XL-5"]
    res = shopper.post(
        "/api/v1/orders",
        headers={"Idempotency-Key": "order-key-0001"},
        json={
            "items": [{"sku_id": sku, "quantity": 2, "price": 1, "unit_price": 1}],
            "address": ADDRESS,
            "total": 2,
        },
    )
    assert res.status_code == 201
    order = res.json
    assert order["status"] == "PENDING_PAYMENT" and order["goods_total"] == 27600
    # shipped to 山东: 2 packs of 3 kg with their cold box, 10 yuan the first kg, 2 each further
    # kg, 8 yuan cold chain (the demo's zones, tests/test_shipping_rules.py)
    assert order["shipping_fee"] == 1000 + 5 * 200 + 800 and order["total"] == 27600 + 2800
    assert order["items"][0]["unit_price"] == 13800 and order["pay_deadline"].endswith("+08:00")
    assert _available(app, sku) == 198


def test_same_idempotency_key_same_body_answers_the_same_order(app, shopper, store):
    sku = store["RS-LIVE-M-5"]
    first = shopper.order([(sku, 1)], key="same-key-123")
    again = shopper.order([(sku, 1)], key="same-key-123")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json["id"] == first.json["id"]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Order)) == 1
    assert _available(app, sku) == 599


def test_same_idempotency_key_other_body_is_a_conflict(shopper, store):
    shopper.order([(store["RS-LIVE-M-5"], 1)], key="same-key-456")
    res = shopper.order([(store["RS-LIVE-M-5"], 2)], key="same-key-456")
    assert res.status_code == 409 and res.json["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_concurrent_requests_with_one_key_make_one_order(app, client, sandbox, store):
    from tests.helpers import Shopper

    shopper = Shopper.login(app.test_client(), sandbox, "o_concurrent")
    results = []

    def place():
        buyer = Shopper(app.test_client(), sandbox, shopper.token, shopper.openid)
        results.append(buyer.order([(store["RS-LIVE-S-5"], 1)], key="concurrent-key-1"))

    threads = [threading.Thread(target=place) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status_code for r in results} <= {200, 201}
    assert len({r.json["id"] for r in results}) == 1
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(OrderRequest)) == 1
    assert _available(app, store["RS-LIVE-S-5"]) == 599


def test_missing_idempotency_key(shopper, store):
    res = shopper.post(
        "/api/v1/orders", json={"items": [{"sku_id": store["RS-LIVE-M-5"], "quantity": 1}]}
    )
    assert res.status_code == 400 and res.json["code"] == "VALIDATION_ERROR"


def test_bad_order_bodies(shopper, store):
    sku = store["RS-LIVE-M-5"]
    for items in ([], [(sku, 0)], [(sku, -3)], [(sku, 100)]):
        assert shopper.order(items).status_code == 400
    assert shopper.order([(sku, 1)], address=None).status_code == 400
    bad_phone = shopper.post(
        "/api/v1/orders",
        headers={"Idempotency-Key": "bad-phone-1"},
        json={
            "items": [{"sku_id": sku, "quantity": 1}],
            "address": {
                "name": "王海",
                "phone": "12345",
                "province": "山东省",
                "city": "威海市",
                "district": "乳山市",
                "detail": "海阳所镇",
            },
        },
    )
    assert bad_phone.status_code == 400 and "phone" in str(bad_phone.json["details"])


def test_unknown_and_off_sale_skus(app, shopper, store):
    unknown = shopper.order([(999999, 1)])
    assert unknown.status_code == 404 and unknown.json["code"] == "SKU_NOT_FOUND"
    with app.app_context():
        from backend.catalogue.models import Sku

        db.session.get(Sku, store["RS-LIVE-M-5"]).on_sale = False
        db.session.commit()
    off = shopper.order([(store["RS-LIVE-M-5"], 1)])
    assert off.status_code == 422 and off.json["code"] == "SKU_OFF_SALE"


def test_sold_out_reserves_nothing(app, shopper, store):
    xl, large = store["RS-LIVE-XL-5"], store["RS-LIVE-L-5"]
    limit_stock(app, xl, 1)
    res = shopper.order([(large, 5), (xl, 2)])
    assert res.status_code == 409 and res.json["code"] == "SOLD_OUT"
    assert res.json["details"] == {"sku_id": xl, "available": 1}
    assert _available(app, large) == 400 and _available(app, xl) == 1
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Order)) == 0


def test_racing_buyers_never_oversell(app, sandbox, store):
    from tests.helpers import Shopper

    sku = store["RS-GIFT-XL-8"]
    limit_stock(app, sku, 5)
    buyers = [Shopper.login(app.test_client(), sandbox, f"o_race_{i}") for i in range(12)]
    codes = []

    def buy(buyer):
        codes.append(
            Shopper(app.test_client(), sandbox, buyer.token, buyer.openid)
            .order([(sku, 1)])
            .status_code
        )

    threads = [threading.Thread(target=buy, args=(b,)) for b in buyers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count(201) == 5 and codes.count(409) == 7
    assert sku_stock(app, sku) == (5, 5)


def test_orders_are_private(shopper, other_shopper, store):
    mine = shopper.order([(store["RS-LIVE-M-5"], 1)]).json
    theirs = other_shopper.get(f"/api/v1/orders/{mine['id']}")
    assert theirs.status_code == 404 and theirs.json["code"] == "ORDER_NOT_FOUND"
    assert "number" not in str(theirs.json.get("details", ""))
    for action in ("cancel", "receive", "pay"):
        assert other_shopper.post(f"/api/v1/orders/{mine['id']}/{action}").status_code == 404
    assert other_shopper.get("/api/v1/orders").json == {"items": [], "total": 0}
    listed = shopper.get("/api/v1/orders?status=PENDING_PAYMENT").json
    assert listed["total"] == 1 and listed["items"][0]["id"] == mine["id"]


def test_cancel_releases_the_stock(app, shopper, store):
    sku = store["RS-LIVE-M-5"]
    order = shopper.order([(sku, 4)]).json
    assert _available(app, sku) == 596
    res = shopper.post(f"/api/v1/orders/{order['id']}/cancel")
    assert res.status_code == 200 and res.json["status"] == "CANCELLED"
    assert _available(app, sku) == 600
    again = shopper.post(f"/api/v1/orders/{order['id']}/cancel")
    assert again.status_code == 409 and again.json["code"] == "ORDER_NOT_CANCELLABLE"
    assert _available(app, sku) == 600


def test_receive_needs_a_shipped_order(shopper, store):
    order = shopper.order([(store["RS-LIVE-M-5"], 1)]).json
    res = shopper.post(f"/api/v1/orders/{order['id']}/receive")
    assert res.status_code == 409 and res.json["code"] == "ORDER_NOT_RECEIVABLE"
