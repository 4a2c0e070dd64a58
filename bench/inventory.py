"""Inventory benchmark: buyers racing for one SKU spread over lots with different use-by times —
processes calling the order service directly and, at the same time, phones ordering (and
cancelling) over HTTP through gunicorn — on SQLite or PostgreSQL: placements/s, p99, oversold,
ledger balanced and server errors; then the ingest rate of signed processing-line reports.

    python -m bench.inventory [--postgres] [--smoke]

Exits non-zero on a crash, on any server error (a placement that raised anything but SoldOut,
an HTTP 5xx), on an answer a buyer should never get, on oversold units or an unbalanced ledger.
"""

from __future__ import annotations

import multiprocessing
import random
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import requests

from bench.harness import ADDRESS, app_for, arguments, database, print_figures, stack

HOT_SKU = "RS-LIVE-L-5"


@dataclass(frozen=True)
class Sizes:
    processes: int  # buyers calling the order service in their own process
    attempts_per_process: int
    phones: int  # buyers ordering over HTTP through gunicorn
    orders_per_phone: int
    lots: int
    units_per_lot: int
    replay_days: int
    replay_batches_per_day: int


# 1,500 units in 12 lots for ~2,880 asked (1–3 each): the SKU sells out mid-run.
FULL = Sizes(8, 120, 8, 60, 12, 125, 4, 6)
# 60 units: more than the in-process buyers ask (56 with their seeds), so the slower buyers
# over HTTP always get some even on a loaded machine; with theirs the SKU still sells out.
SMOKE = Sizes(2, 15, 2, 8, 3, 20, 1, 1)


def _prepare(env: dict, sizes: Sizes) -> dict:
    """The hot SKU in lots packed hours apart, each earlier than the one before (the higher the
    id, the sooner the use-by: first-expiring-first-out takes them against id order), and one
    customer per buyer process; the catalogue is the demo's, loaded by the stack."""
    from backend import demo
    from backend.catalogue.models import Sku
    from backend.customers.models import Customer
    from backend.extensions import db
    from backend.timeutil import utcnow

    app = app_for(env, SECRET_KEY="bench")
    with app.app_context():
        sku_id = db.session.scalar(db.select(Sku.id).where(Sku.code == HOT_SKU))
        customers = [Customer(openid=f"o_bench_{i}") for i in range(sizes.processes)]
        db.session.add_all(customers)
        db.session.commit()
        customer_ids = [c.id for c in customers]
        for index in range(sizes.lots):
            demo.pack_batch(
                db.session,
                {HOT_SKU: sizes.units_per_lot},
                packed_at=utcnow() - timedelta(hours=5 * index),
            )
        db.session.remove()
    return {"sku_id": sku_id, "customer_ids": customer_ids}


def _buyer(args) -> dict:
    """One process placing orders as fast as it can, once every buyer is ready."""
    env, sku_id, customer_id, attempts, seed, ready = args
    from backend.errors import SoldOut
    from backend.extensions import db
    from backend.orders import service as orders

    app = app_for(env, SECRET_KEY="bench")
    rng = random.Random(seed)
    latencies, placed, sold_out, errors = [], 0, 0, []
    with app.app_context():
        db.session.execute(db.select(1))  # connected before the clock starts
        ready.wait()
        began = time.time()
        for _ in range(attempts):
            started = time.perf_counter()
            try:
                orders.place_order(
                    db.session,
                    customer_id=customer_id,
                    idempotency_key=uuid.uuid4().hex,
                    items=[(sku_id, rng.randint(1, 3))],
                    address=ADDRESS,
                )
                placed += 1
            except SoldOut:
                sold_out += 1
            except Exception:  # through the API this would have been a server error
                errors.append(traceback.format_exc(limit=8))
            finally:
                db.session.rollback()
            latencies.append(time.perf_counter() - started)
        ended = time.time()
        db.session.remove()
    return {
        "began": began,
        "ended": ended,
        "latencies": latencies,
        "placed": placed,
        "sold_out": sold_out,
        "errors": errors,
    }


class Phones:
    """Buyers ordering over HTTP through gunicorn; every answer is tallied."""

    def __init__(self, urls: dict, sku_id: int, sizes: Sizes):
        self.urls, self.sku_id, self.sizes = urls, sku_id, sizes
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.placed = self.sold_out = self.cancelled = 0
        self.server_errors: list[str] = []
        self.unexpected: list[str] = []  # answers a buyer of stock should never get
        self.began = self.ended = 0.0

    def log_in(self, index: int) -> requests.Session:
        http = requests.Session()
        code = http.post(
            f"{self.urls['sandbox']}/sandbox/wx/login-code",
            json={"openid": f"o_bench_phone_{index}"},
            timeout=30,
        ).json()["code"]
        token = http.post(
            f"{self.urls['web']}/api/v1/auth/login", json={"code": code}, timeout=30
        ).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        return http

    def _tally(self, what: str, res: requests.Response, allowed: set) -> None:
        with self.lock:
            if res.status_code >= 500:
                self.server_errors.append(f"{what} {res.status_code} {res.text[:200]}")
            elif (res.status_code, res.json().get("code")) not in allowed:
                self.unexpected.append(f"{what} {res.status_code} {res.text[:200]}")

    def shop(self, http: requests.Session, seed: int) -> None:
        rng, web = random.Random(seed), self.urls["web"]
        for _ in range(self.sizes.orders_per_phone):
            body = {
                "items": [{"sku_id": self.sku_id, "quantity": rng.randint(1, 3)}],
                "address": ADDRESS,
            }
            started = time.perf_counter()
            try:
                res = http.post(
                    f"{web}/api/v1/orders",
                    json=body,
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                    timeout=120,
                )
            except requests.RequestException as error:  # the server dropped the request
                with self.lock:
                    self.server_errors.append(f"order {error!r}")
                continue
            with self.lock:
                self.latencies.append(time.perf_counter() - started)
            self._tally("order", res, {(201, None), (409, "SOLD_OUT")})
            if res.status_code == 409:
                with self.lock:
                    self.sold_out += 1
            if res.status_code != 201:
                continue
            with self.lock:
                self.placed += 1
            if rng.random() < 0.25:  # changed their mind: the units go back to the lots
                order_id = res.json()["id"]
                cancel = http.post(f"{web}/api/v1/orders/{order_id}/cancel", timeout=120)
                self._tally("cancel", cancel, {(200, None)})
                if cancel.status_code == 200:
                    with self.lock:
                        self.cancelled += 1


def _check(env: dict, sku_id: int) -> dict:
    """Oversold units (units held beyond what came in, or beyond a lot's on-hand) and whether
    the ledger balances: every lot equals its ledger, and its reserved units equal what the
    open orders hold of it."""
    from sqlalchemy import func

    from backend.extensions import db
    from backend.inventory import queries as inventory_queries
    from backend.inventory.models import COMMITTED, HELD, Lot, StockReservation
    from backend.orders.models import PAID, PENDING_PAYMENT, Order, OrderItem

    app = app_for(env, SECRET_KEY="bench")
    with app.app_context():
        lots = list(db.session.scalars(db.select(Lot).where(Lot.sku_id == sku_id)))
        open_units = db.session.scalar(
            db.select(func.coalesce(func.sum(OrderItem.quantity), 0))
            .join(Order, Order.id == OrderItem.order_id)
            .where(OrderItem.sku_id == sku_id, Order.status.in_((PENDING_PAYMENT, PAID)))
        )
        held = db.session.scalar(
            db.select(func.coalesce(func.sum(StockReservation.quantity), 0)).where(
                StockReservation.sku_id == sku_id,
                StockReservation.status.in_((HELD, COMMITTED)),
            )
        )
        reserved = sum(lot.reserved for lot in lots)
        oversold = max(0, open_units - sum(lot.received for lot in lots)) + sum(
            max(0, lot.reserved - lot.on_hand) for lot in lots
        )
        balanced = (
            inventory_queries.ledger_mismatches(db.session) == [] and reserved == held == open_units
        )
        db.session.remove()
    return {"oversold": oversold, "ledger_balanced": balanced, "units_held": reserved}


def _p99_ms(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000 if ordered else 0.0


def placements(env: dict, urls: dict, prepared: dict, sizes: Sizes) -> dict:
    sku_id, customers = prepared["sku_id"], prepared["customer_ids"]
    phones = Phones(urls, sku_id, sizes)
    sessions = [phones.log_in(index) for index in range(sizes.phones)]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        ready = manager.Barrier(sizes.processes + 1)
        jobs = [
            (env, sku_id, customers[i], sizes.attempts_per_process, i, ready)
            for i in range(sizes.processes)
        ]
        with context.Pool(sizes.processes) as pool:
            pending = pool.map_async(_buyer, jobs)
            ready.wait()  # every process has its app and connection: all start together
            threads = [
                threading.Thread(target=phones.shop, args=(http, 1000 + i))
                for i, http in enumerate(sessions)
            ]
            started = time.time()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            phones_ended = time.time()
            runs = pending.get()
    # From the first attempt to the last one, by either door (start-up excluded).
    elapsed = max(phones_ended, *(r["ended"] for r in runs)) - min(
        started, *(r["began"] for r in runs)
    )
    direct_errors = [error for run in runs for error in run["errors"]]
    for error in direct_errors[:3] + phones.server_errors[:3] + phones.unexpected[:3]:
        print(error, file=sys.stderr)
    direct_placed = sum(r["placed"] for r in runs)
    direct = [latency for run in runs for latency in run["latencies"]]
    return {
        "placements_per_s": (direct_placed + phones.placed) / elapsed,
        "direct_placements_per_s": direct_placed / elapsed,
        "http_placements_per_s": phones.placed / elapsed,
        "attempts": len(direct) + len(phones.latencies),
        "placed": direct_placed + phones.placed,
        "sold_out_answers": sum(r["sold_out"] for r in runs) + phones.sold_out,
        "cancelled": phones.cancelled,
        "p99_ms": _p99_ms(direct),
        "http_p99_ms": _p99_ms(phones.latencies),
        "server_errors": len(direct_errors) + len(phones.server_errors),
        "unexpected_answers": len(phones.unexpected),
        **_check(env, sku_id),
    }


def report_ingest(env: dict, urls: dict, sizes: Sizes) -> dict:
    """Signed reports per second through gunicorn, sent by the processing-line stand-in."""
    from sandbox.processing_line import replay

    started = time.perf_counter()
    summary = replay(
        urls["web"],
        env["PROCESSING_KEY_ID"],
        env["PROCESSING_SECRET"],
        days=sizes.replay_days,
        batches_per_day=sizes.replay_batches_per_day,
        seed=11,
        echo=lambda *_: None,
    )
    elapsed = time.perf_counter() - started
    packed = summary["batches"] - summary["failed_inspections"]
    reports = summary["batches"] * 5 + packed  # open, wash, sort, depurate, inspect (+ pack)
    return {"reports": reports, "reports_per_s": reports / elapsed}


def main() -> None:
    args = arguments(__doc__).parse_args()
    sizes = SMOKE if args.smoke else FULL
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-inv-"))
    prepared: dict = {}
    try:
        with (
            database(args.postgres, scratch, "inventory.db") as url,
            stack(prepare=lambda env: prepared.update(_prepare(env, sizes)), database_url=url) as (
                env,
                urls,
            ),
        ):
            figures = {
                "database": "postgresql" if args.postgres else "sqlite",
                **placements(env, urls, prepared, sizes),
            }
            print_figures(figures)
            print_figures(report_ingest(env, urls, sizes))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    broken = [
        name
        for name, bad in (
            ("server_errors", figures["server_errors"] > 0),
            ("unexpected_answers", figures["unexpected_answers"] > 0),
            ("oversold", figures["oversold"] > 0),
            ("ledger_balanced", not figures["ledger_balanced"]),
            ("placed", figures["placed"] == 0 or figures["sold_out_answers"] == 0),
        )
        if bad
    ]
    if broken:
        sys.exit(f"broken: {', '.join(broken)}")


if __name__ == "__main__":
    main()
