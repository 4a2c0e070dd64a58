"""Store benchmark: catalogue and product-detail throughput under gunicorn against a bare Flask
route under the same settings, and complete purchases per second through the sandbox.

    python -m bench.store
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.harness import ADDRESS, free_port, gunicorn, stack, wait_http, wrk

PURCHASES = 200
BUYERS = 8


def purchase(urls: dict, sku_id: int) -> None:
    """login → order → pay → the sandbox notifies → the order is PAID."""
    web, sandbox = urls["web"], urls["sandbox"]
    with requests.Session() as http:
        code = http.post(
            f"{sandbox}/sandbox/wx/login-code", json={"openid": f"o_bench_{uuid.uuid4().hex[:12]}"}
        ).json()["code"]
        token = http.post(f"{web}/api/v1/auth/login", json={"code": code}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        order = http.post(
            f"{web}/api/v1/orders",
            headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
            json={"items": [{"sku_id": sku_id, "quantity": 1}], "address": ADDRESS},
        ).json()
        pay = http.post(f"{web}/api/v1/orders/{order['id']}/pay", headers=auth).json()
        prepay = pay["package"].removeprefix("prepay_id=")
        http.post(f"{sandbox}/sandbox/pay/{prepay}/confirm", json={"payment": pay, "wait": True})
        for _ in range(200):
            if (
                http.get(f"{web}/api/v1/orders/{order['id']}", headers=auth).json()["status"]
                == "PAID"
            ):
                return
            time.sleep(0.01)
        raise RuntimeError(f"order {order['id']} never became PAID")


def main() -> None:
    with stack() as (env, urls):
        web = urls["web"]
        products = requests.get(f"{web}/api/v1/products").json()["items"]
        product_id = products[0]["id"]
        sku_id = products[0]["skus"][2]["id"]  # plenty of stock

        bare_port = free_port()
        bare = gunicorn("bench.bare_app:app", bare_port, env)
        try:
            wait_http(f"http://127.0.0.1:{bare_port}/bare")
            wrk(f"{web}/api/v1/products", seconds=2)  # warm both up
            wrk(f"http://127.0.0.1:{bare_port}/bare", seconds=2)
            bare_rps, bare_p99 = wrk(f"http://127.0.0.1:{bare_port}/bare")
            catalogue_rps, catalogue_p99 = wrk(f"{web}/api/v1/products")
            detail_rps, detail_p99 = wrk(f"{web}/api/v1/products/{product_id}")
        finally:
            bare.terminate()
            bare.wait(timeout=10)

        started = time.perf_counter()
        with ThreadPoolExecutor(BUYERS) as pool:
            list(pool.map(lambda _: purchase(urls, sku_id), range(PURCHASES)))
        elapsed = time.perf_counter() - started

    print(f"bare_flask_rps: {bare_rps:.0f}")
    print(f"bare_flask_p99_ms: {bare_p99:.2f}")
    print(f"catalogue_rps: {catalogue_rps:.0f}")
    print(f"catalogue_p99_ms: {catalogue_p99:.2f}")
    print(f"catalogue_ratio: {catalogue_rps / bare_rps:.2f}")
    print(f"product_detail_rps: {detail_rps:.0f}")
    print(f"product_detail_p99_ms: {detail_p99:.2f}")
    print(f"product_detail_ratio: {detail_rps / bare_rps:.2f}")
    print(f"purchases: {PURCHASES}")
    print(f"purchases_per_s: {PURCHASES / elapsed:.1f}")


if __name__ == "__main__":
    main()
