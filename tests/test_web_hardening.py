"""What every request and answer goes through (backend/web.py, backend/openapi.py): ids bounded in
the URL, JSON bounded in depth, one 500 shape, security headers, and an API document that says
what the API answers."""

from __future__ import annotations

import logging
import re

import pytest

from backend.app import create_app
from backend.schemas import MAX_ID
from backend.web import MAX_JSON_DEPTH
from tests.conftest import make_config

INT_ARG = re.compile(r"<int:(\w+)>")


def integer_routes(app) -> list[tuple[str, str]]:
    """(method, rule) of every route with an integer in its path."""
    return [
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        # (rq-dashboard's <int:instance_number> numbers Redis servers, not rows: only 0 is one)
        if INT_ARG.search(rule.rule) and not rule.endpoint.startswith("rq_dashboard.")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]


@pytest.mark.parametrize("number", [2**64, 2**63 - 1, MAX_ID + 1, 0])
def test_an_id_no_row_can_have_is_a_404_on_every_integer_route(app, client, number):
    routes = integer_routes(app)
    assert len(routes) > 40
    answers = {}
    for method, rule in routes:
        path = INT_ARG.sub(str(number), rule).replace("<path:code>", "X").replace("<code>", "X")
        res = client.open(path, method=method, json={})
        answers[f"{method} {rule}"] = (res.status_code, (res.json or {}).get("code"))
    assert set(answers.values()) == {(404, "NOT_FOUND")}, answers


def test_the_largest_id_reaches_the_route(client):
    res = client.get(f"/api/v1/products/{MAX_ID}")
    assert res.status_code == 404 and res.json["code"] == "PRODUCT_NOT_FOUND"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_nested_deeper_than_the_limit_is_a_400(shopper):
    for depth in (5000, MAX_JSON_DEPTH + 1):
        res = shopper.client.put(
            "/api/v1/cart",
            data=nested(depth),
            content_type="application/json",
            headers=shopper.headers,
        )
        assert (res.status_code, res.json["code"]) == (400, "JSON_TOO_DEEP"), depth
    body = '{"items": ' + nested(MAX_JSON_DEPTH - 1) + "}"
    res = shopper.client.put(
        "/api/v1/cart", data=body, content_type="application/json", headers=shopper.headers
    )
    assert (res.status_code, res.json["code"]) == (400, "VALIDATION_ERROR")


def test_a_body_over_the_size_limit_is_a_413(client):
    res = client.post(
        "/api/v1/auth/login", data="x" * (1024 * 1024 + 1), content_type="application/json"
    )
    assert (res.status_code, res.json["code"]) == (413, "PAYLOAD_TOO_LARGE")


def test_an_unexpected_error_is_the_standard_500_logged_once(sandbox, redis_url, tmp_path, caplog):
    application = create_app(
        make_config(sandbox, redis_url, f"sqlite:///{tmp_path / 'boom.sqlite3'}")
    )

    @application.get("/boom")
    def boom():
        raise ZeroDivisionError("nobody meant this")

    with caplog.at_level(logging.ERROR):
        res = application.test_client().get("/boom")
    assert res.status_code == 500
    assert res.json == {"code": "INTERNAL_ERROR", "message": "服务器开小差了，请稍后再试"}
    assert "Traceback" not in res.get_data(as_text=True)
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is ZeroDivisionError]
    assert len(logged) == 1


def assert_locked_down(res) -> str:
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Referrer-Policy"] == "same-origin"
    assert res.headers["X-Frame-Options"] == "DENY"
    policy = res.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    return policy


def test_pages_exports_and_docs_carry_the_security_headers(app, client, staff_client, licensed):
    login = client.get("/console/login")
    policy = assert_locked_down(login)
    assert "script-src 'nonce-" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    trace = client.get("/t/NO-SUCH-CODE")
    assert trace.status_code == 404 and "script-src 'nonce-" in assert_locked_down(trace)
    run = staff_client.post(
        "/console/api/print-runs",
        json={"seller_id": licensed["seller_id"], "lot_id": licensed["lot_id"], "quantity": 3},
    )
    assert run.status_code == 201, run.json
    csv = staff_client.get(f"/console/api/print-runs/{run.json['id']}/codes.csv")
    assert csv.status_code == 200
    assert assert_locked_down(csv).startswith("default-src 'none'")
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "script-src" in assert_locked_down(docs)
    assert_locked_down(client.get("/api/v1/products"))


def test_a_page_s_scripts_carry_the_policy_s_nonce(staff_client):
    page = staff_client.get("/console/")
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)
    html = page.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all(f'nonce="{nonce}"' in attrs for attrs in scripts)
    assert not re.search(r"\son[a-z]+=", html)  # no inline handlers: the policy would stop them


def test_the_public_document_describes_every_answer(client):
    spec = client.get("/api/openapi.json").json
    assert not [p for p in spec["paths"] if not p.startswith(("/api/v1/", "/api/seller/v1/"))]
    lot = spec["components"]["schemas"]["SkuOut"]["properties"]["lot"]
    assert lot  # the store shows each SKU's lot on sale
    claim = spec["paths"]["/api/v1/flash-sales/{sale_id}/claims"]["post"]
    assert {"401", "409", "422", "429"} <= set(claim["responses"])
    login = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert {"400", "401", "429"} <= set(login)
    error = spec["components"]["schemas"]["HTTPError"]
    assert error["required"] == ["code", "message"]
    order_id = spec["paths"]["/api/v1/orders/{order_id}"]["get"]["parameters"][0]["schema"]
    assert (order_id["minimum"], order_id["maximum"]) == (1, MAX_ID)


def test_a_whole_number_written_with_a_decimal_point_is_that_number(shopper, store):
    sku = store["RS-LIVE-L-5"]
    res = shopper.put("/api/v1/cart", json={"items": [{"sku_id": sku, "quantity": 2.0}]})
    assert res.status_code == 200, res.json
    assert [line["quantity"] for line in res.json["items"]] == [2]
    half = shopper.put("/api/v1/cart", json={"items": [{"sku_id": sku, "quantity": 2.5}]})
    assert (half.status_code, half.json["code"]) == (400, "VALIDATION_ERROR")
    text = shopper.put("/api/v1/cart", json={"items": [{"sku_id": sku, "quantity": "2"}]})
    assert text.status_code == 400
