import pytest


def test_put_then_get_cart_prices_on_the_server(shopper, store):
    sku = store["RS-LIVE-L-5"]
    res = shopper.put("/api/v1/cart", json={"items": [{"sku_id": sku, "quantity": 2, "price": 1}]})
    assert res.status_code == 200
    assert res.json["items"][0]["price"] == 9800 and res.json["amount"] == 19600
    assert shopper.get("/api/v1/cart").json == res.json


@pytest.mark.parametrize("quantity", [0, -1, 100, 10**12, 1.5, "2", None])
def test_bad_quantities_are_refused(shopper, store, quantity):
    res = shopper.put(
        "/api/v1/cart", json={"items": [{"sku_id": store["RS-LIVE-L-5"], "quantity": quantity}]}
    )
    assert res.status_code == 400
    assert res.json["code"] == "VALIDATION_ERROR" and res.json["details"]


def test_unknown_sku_and_merged_quantity_limits(shopper, store):
    unknown = shopper.put("/api/v1/cart", json={"items": [{"sku_id": 999999, "quantity": 1}]})
    assert unknown.status_code == 404 and unknown.json["code"] == "SKU_NOT_FOUND"
    sku = store["RS-LIVE-L-5"]
    merged = shopper.put(
        "/api/v1/cart",
        json={"items": [{"sku_id": sku, "quantity": 60}, {"sku_id": sku, "quantity": 60}]},
    )
    assert merged.status_code == 422 and merged.json["code"] == "QUANTITY_TOO_LARGE"
    assert shopper.get("/api/v1/cart").json["items"] == []


def test_carts_are_private(shopper, other_shopper, store):
    shopper.put("/api/v1/cart", json={"items": [{"sku_id": store["RS-LIVE-L-5"], "quantity": 1}]})
    assert other_shopper.get("/api/v1/cart").json["items"] == []
