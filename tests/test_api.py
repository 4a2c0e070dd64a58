def test_openapi_document_covers_the_contract(client):
    spec = client.get("/api/openapi.json").json
    paths = spec["paths"]
    for path in (
        "/api/v1/auth/login",
        "/api/v1/products",
        "/api/v1/products/{product_id}",
        "/api/v1/cart",
        "/api/v1/orders",
        "/api/v1/orders/{order_id}",
        "/api/v1/orders/{order_id}/pay",
        "/api/v1/orders/{order_id}/cancel",
        "/api/v1/orders/{order_id}/receive",
        "/api/v1/orders/{order_id}/after-sales",
    ):
        assert path in paths, path
    order_post = paths["/api/v1/orders"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in order_post["parameters"])
    assert "price" in spec["components"]["schemas"]["SkuOut"]["properties"]


def test_unknown_routes_and_methods_answer_the_error_shape(client):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json == {"code": "NOT_FOUND", "message": "请求的资源不存在"}
    wrong = client.delete("/api/v1/products")
    assert wrong.status_code == 405 and wrong.json["code"] == "METHOD_NOT_ALLOWED"


def test_malformed_json_is_a_400_not_a_500(client, shopper):
    res = shopper.client.put(
        "/api/v1/cart", data="{not json", content_type="application/json", headers=shopper.headers
    )
    assert res.status_code == 400 and res.json["message"]
