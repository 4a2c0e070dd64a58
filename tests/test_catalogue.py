from backend.catalogue import service as catalogue
from backend.catalogue.models import Product
from backend.extensions import db


def test_products_list_skus_by_grade_with_fen_prices_and_stock(client, store):
    res = client.get("/api/v1/products")
    assert res.status_code == 200
    body = res.json
    assert body["total"] == 4
    live = next(p for p in body["items"] if p["name"] == "乳山鲜活牡蛎")
    assert [s["grade"] for s in live["skus"]] == ["特大", "大", "中", "小"]
    sku = live["skus"][0]
    assert sku["price"] == 13800 and isinstance(sku["price"], int)
    assert sku["stock"] == 200
    assert live["price_from"] == 4900


def test_product_detail_and_unknown_product(client, store):
    listed = client.get("/api/v1/products").json["items"][0]
    res = client.get(f"/api/v1/products/{listed['id']}")
    assert res.status_code == 200 and res.json["skus"] == listed["skus"]
    missing = client.get("/api/v1/products/999999")
    assert missing.status_code == 404
    assert missing.json["code"] == "PRODUCT_NOT_FOUND" and "下架" in missing.json["message"]


def test_withdrawn_product_disappears_from_the_catalogue(app, client, store):
    first = client.get("/api/v1/products").json
    with app.app_context():
        product = db.session.scalar(db.select(Product).where(Product.name == "即食醉牡蛎"))
        catalogue.set_product_on_sale(db.session, product_id=product.id, on_sale=False)
    second = client.get("/api/v1/products").json
    assert second["total"] == first["total"] - 1
    assert "即食醉牡蛎" not in [p["name"] for p in second["items"]]


def test_pagination_and_bad_query(client, store):
    page = client.get("/api/v1/products?page=2&page_size=3").json
    assert len(page["items"]) == 1 and page["total"] == 4
    bad = client.get("/api/v1/products?page_size=1000")
    assert bad.status_code == 400 and bad.json["code"] == "VALIDATION_ERROR"


def test_stock_shown_drops_when_an_order_reserves_it(client, store, shopper):
    sku_id = store["RS-LIVE-XL-5"]
    assert shopper.order([(sku_id, 3)]).status_code == 201
    live = next(
        p for p in client.get("/api/v1/products").json["items"] if p["name"] == "乳山鲜活牡蛎"
    )
    assert next(s for s in live["skus"] if s["id"] == sku_id)["stock"] == 197


def test_catalogue_pages_are_served_below_flask_as_the_route_serves_them(app, client, store):
    """A plain catalogue or product request is answered by the hot path without Flask's request
    cycle; one it does not take (an unknown query parameter) by the route; the bytes agree."""
    from flask import request_started

    entered = []

    def note(sender, **_extra):
        entered.append(1)

    request_started.connect(note, app)
    try:
        fast = client.get("/api/v1/products?page=1&page_size=3")
        product = client.get(f"/api/v1/products/{fast.json['items'][0]['id']}")
        missing = client.get("/api/v1/products/999999")
        assert entered == []
        routed = client.get("/api/v1/products?page=1&page_size=3&utm=share")
        assert entered == [1]
    finally:
        request_started.disconnect(note, app)
    assert fast.status_code == routed.status_code == 200 and fast.data == routed.data
    assert fast.headers["Content-Security-Policy"] == routed.headers["Content-Security-Policy"]
    assert product.status_code == 200 and product.json["skus"]
    assert missing.status_code == 404 and missing.json["code"] == "PRODUCT_NOT_FOUND"
    for odd in ("page=0", "page_size=51", "page=²", "category=", "page=-1"):
        answer = client.get(f"/api/v1/products?{odd}")
        assert answer.status_code == 400 and answer.json["code"] == "VALIDATION_ERROR", odd
