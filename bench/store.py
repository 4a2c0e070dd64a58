"""Store benchmark: catalogue and product-detail throughput under gunicorn against a bare Flask
route under the same settings, and complete purchases per second through the sandbox.

    python -m bench.store [--postgres] [--smoke] [--rounds N]

It packs its own stock (one lot of the SKU it buys) before the stack starts. The bare route, the
catalogue and a product's page are measured in turns (bare, catalogue, detail, bare, ...) so that
a neighbour's load falls on all of them: each ratio is the median of its turns' ratios. Then
buyers log in, order, pay through the sandbox and wait until the order is PAID. The exit status
is 1 when a purchase fails, or when the stock sold does not match the purchases.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.harness import (
    ADDRESS,
    app_for,
    arguments,
    database,
    free_port,
    gunicorn,
    print_figures,
    stack,
    stop_all,
    wait_http,
    wrk,
)

SKU = "RS-LIVE-M-5"
SIZES = {
    # purchases, buyers at once, seconds per measured turn, warm-up seconds
    "full": (200, 8, 8, 2),
    "smoke": (10, 4, 1, 1),
}
ROUNDS = 3
STOCK_SPARE = 50  # units left on the shelf when every purchase is done


def pack_stock(env: dict, units: int) -> None:
    """One lot of SKU, packed by the demo plant through every processing step."""
    from backend.demo import pack_batch
    from backend.extensions import db

    with app_for(env).app_context():
        pack_batch(db.session, {SKU: units})
        db.session.commit()
        db.session.remove()


def purchase(urls: dict, sku_id: int) -> None:
    """login → order → pay → the sandbox notifies → the order is PAID."""
    web, sandbox = urls["web"], urls["sandbox"]
    with requests.Session() as http:
        code = http.post(
            f"{sandbox}/sandbox/wx/login-code", json={"openid": f"o_bench_{uuid.uuid4().hex[:12]}"}
        ).json()["code"]
        token = http.post(f"{web}/api/v1/auth/login", json={"code": code}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        placed = http.post(
            f"{web}/api/v1/orders",
            headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
            json={"items": [{"sku_id": sku_id, "quantity": 1}], "address": ADDRESS},
        )
        if placed.status_code != 201:
            raise RuntimeError(f"order refused {placed.status_code}: {placed.text}")
        order = placed.json()
        pay = http.post(f"{web}/api/v1/orders/{order['id']}/pay", headers=auth).json()
        prepay = pay["package"].removeprefix("prepay_id=")
        http.post(f"{sandbox}/sandbox/pay/{prepay}/confirm", json={"payment": pay, "wait": True})
        for _ in range(500):
            if (
                http.get(f"{web}/api/v1/orders/{order['id']}", headers=auth).json()["status"]
                == "PAID"
            ):
                return
            time.sleep(0.01)
        raise RuntimeError(f"order {order['id']} never became PAID")


def stock_of(web: str, sku_id: int) -> int:
    for product in requests.get(f"{web}/api/v1/products", params={"page_size": 50}).json()["items"]:
        for sku in product["skus"]:
            if sku["id"] == sku_id:
                return sku["stock"]
    raise RuntimeError(f"SKU {sku_id} is not in the catalogue")


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--rounds", type=int, help=f"turns of each route (default {ROUNDS})")
    options = parser.parse_args()
    purchases, buyers, seconds, warm_up = SIZES["smoke" if options.smoke else "full"]
    rounds = options.rounds or (1 if options.smoke else ROUNDS)
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-store-"))
    turns: dict[str, list[tuple[float, float]]] = {"bare": [], "catalogue": [], "detail": []}
    failures: list[str] = []
    with database(options.postgres, scratch) as url:
        prepare = lambda env: pack_stock(env, purchases + STOCK_SPARE)  # noqa: E731
        with stack(prepare=prepare, database_url=url) as (env, urls):
            web = urls["web"]
            products = requests.get(f"{web}/api/v1/products").json()["items"]
            product, sku_id = next(
                (p, s["id"]) for p in products for s in p["skus"] if s["code"] == SKU
            )
            stock_before = stock_of(web, sku_id)
            bare_port = free_port()
            routes = {
                "bare": f"http://127.0.0.1:{bare_port}/bare",
                "catalogue": f"{web}/api/v1/products",
                "detail": f"{web}/api/v1/products/{product['id']}",
            }
            bare = gunicorn("bench.bare_app:app", bare_port, env)
            try:
                wait_http(routes["bare"])
                for route in routes.values():
                    wrk(route, seconds=warm_up)
                for _ in range(rounds):
                    for name, route in routes.items():
                        turns[name].append(wrk(route, seconds=seconds))
            finally:
                stop_all([bare])

            def buy(_) -> None:
                try:
                    purchase(urls, sku_id)
                except Exception as error:  # counted, and the run fails
                    failures.append(repr(error))

            started = time.perf_counter()
            with ThreadPoolExecutor(buyers) as pool:
                list(pool.map(buy, range(purchases)))
            elapsed = time.perf_counter() - started
            time.sleep(1.1)  # a cached page lives up to a second (catalogue.cache)
            sold = stock_before - stock_of(web, sku_id)

    def ratio(name: str) -> float:
        return statistics.median(
            rps / bare for (rps, _), (bare, _) in zip(turns[name], turns["bare"], strict=True)
        )

    def median(name: str, index: int) -> float:
        return statistics.median(turn[index] for turn in turns[name])

    figures = {
        "bare_flask_rps": round(median("bare", 0)),
        "bare_flask_p99_ms": median("bare", 1),
        "catalogue_rps": round(median("catalogue", 0)),
        "catalogue_p99_ms": median("catalogue", 1),
        "catalogue_ratio": ratio("catalogue"),
        "catalogue_ratio_turns": " ".join(
            f"{c / b:.2f}" for (c, _), (b, _) in zip(turns["catalogue"], turns["bare"], strict=True)
        ),
        "product_detail_rps": round(median("detail", 0)),
        "product_detail_p99_ms": median("detail", 1),
        "product_detail_ratio": ratio("detail"),
        "purchases": purchases,
        "purchases_per_s": purchases / elapsed,
        "purchases_failed": len(failures),
        "units_sold": sold,
    }
    print_figures(figures)
    if failures or sold != purchases - len(failures):
        for failure in failures[:5]:
            print(failure, file=sys.stderr)
        sys.exit("purchases failed, or the stock sold does not match them")


if __name__ == "__main__":
    main()
