"""Inventory benchmark: 8 processes placing orders on one hot SKU spread over several lots, on
SQLite and on PostgreSQL (placements/s, p99, oversold, ledger balanced), and the ingest rate of
signed processing-line reports under gunicorn.

    python -m bench.inventory
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from bench.harness import ADDRESS, ROOT, app_for, run_flask, stack
from bench.postgres import temp_postgres

PROCESSES = 8
ATTEMPTS_PER_PROCESS = 120
HOT_SKU = "RS-LIVE-L-5"
LOTS = 6
UNITS_PER_LOT = 250  # 1,500 units for 960 attempts of 1–3 units: the SKU sells out mid-run


def _app(database_url: str, redis_url: str):
    return app_for({"DATABASE_URL": database_url, "REDIS_URL": redis_url}, SECRET_KEY="bench")


def _prepare(database_url: str, redis_url: str) -> tuple[int, list[int]]:
    """Migrate, seed, pack LOTS lots of the hot SKU; answers (sku id, customer ids)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "FLASK_APP": "wsgi",
        "SECRET_KEY": "bench",
    }
    run_flask(env, ["db", "upgrade"])
    app = _app(database_url, redis_url)
    from backend import demo
    from backend.catalogue.models import Sku
    from backend.customers.models import Customer
    from backend.extensions import db
    from backend.timeutil import utcnow

    with app.app_context():
        demo.seed(db.session)
        sku_id = db.session.scalar(db.select(Sku.id).where(Sku.code == HOT_SKU))
        customers = [Customer(openid=f"o_bench_{i}") for i in range(PROCESSES)]
        db.session.add_all(customers)
        db.session.commit()
        customer_ids = [c.id for c in customers]
        for index in range(LOTS):  # lots packed at different times expire at different times
            demo.pack_batch(
                db.session,
                {HOT_SKU: UNITS_PER_LOT},
                packed_at=utcnow() - timedelta(hours=6 * index),
            )
        db.session.remove()
    return sku_id, customer_ids


def _buyer(args) -> tuple[float, float, list[tuple[float, int, bool]]]:
    """One process placing orders as fast as it can: its start and end wall-clock times and
    (seconds, units, placed) per attempt."""
    database_url, redis_url, sku_id, customer_id, seed = args
    import random

    from backend.errors import SoldOut
    from backend.extensions import db
    from backend.orders import service as orders

    app = _app(database_url, redis_url)
    rng = random.Random(seed)
    results = []
    with app.app_context():
        db.session.execute(db.select(1))  # connect before the clock starts
        began = time.time()
        for _ in range(ATTEMPTS_PER_PROCESS):
            units = rng.randint(1, 3)
            started = time.perf_counter()
            try:
                orders.place_order(
                    db.session,
                    customer_id=customer_id,
                    idempotency_key=uuid.uuid4().hex,
                    items=[(sku_id, units)],
                    address=ADDRESS,
                )
                placed = True
            except SoldOut:
                db.session.rollback()
                placed = False
            results.append((time.perf_counter() - started, units, placed))
        ended = time.time()
        db.session.remove()
    return began, ended, results


def _check(database_url: str, redis_url: str, sku_id: int, placed_units: int) -> tuple[int, bool]:
    from backend.extensions import db
    from backend.inventory import queries as inventory_queries
    from backend.inventory.models import Lot

    app = _app(database_url, redis_url)
    with app.app_context():
        lots = list(db.session.scalars(db.select(Lot).where(Lot.sku_id == sku_id)))
        received = sum(lot.received for lot in lots)
        over_lots = sum(max(0, lot.reserved - lot.on_hand) for lot in lots)
        oversold = max(0, placed_units - received) + over_lots
        balanced = (
            inventory_queries.ledger_mismatches(db.session) == []
            and sum(lot.reserved for lot in lots) == placed_units
        )
        db.session.remove()
    return oversold, balanced


def placements(database_url: str, redis_url: str) -> dict:
    sku_id, customers = _prepare(database_url, redis_url)
    jobs = [(database_url, redis_url, sku_id, customers[i], i) for i in range(PROCESSES)]
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        runs = pool.map(_buyer, jobs)
    # From the first buyer's first attempt to the last buyer's last one (start-up excluded).
    elapsed = max(run[1] for run in runs) - min(run[0] for run in runs)
    results = [attempt for run in runs for attempt in run[2]]
    placed = [r for r in results if r[2]]
    latencies = sorted(r[0] for r in results)
    oversold, balanced = _check(database_url, redis_url, sku_id, sum(r[1] for r in placed))
    return {
        "placements_per_s": len(placed) / elapsed,
        "attempts_per_s": len(results) / elapsed,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "median_ms": statistics.median(latencies) * 1000,
        "placed": len(placed),
        "sold_out_answers": len(results) - len(placed),
        "oversold": oversold,
        "ledger_balanced": balanced,
    }


def report_ingest() -> dict:
    """Signed reports per second through gunicorn, sent by the processing-line stand-in."""
    from sandbox.processing_line import replay

    with stack() as (env, urls):
        started = time.perf_counter()
        summary = replay(
            urls["web"],
            env["PROCESSING_KEY_ID"],
            env["PROCESSING_SECRET"],
            days=4,
            batches_per_day=6,
            seed=11,
            echo=lambda *_: None,
        )
        elapsed = time.perf_counter() - started
    packed = summary["batches"] - summary["failed_inspections"]
    reports = summary["batches"] * 5 + packed  # open, wash, sort, depurate, inspect (+ pack)
    return {"reports": reports, "reports_per_s": reports / elapsed, "lots": summary["lots"]}


def main() -> None:
    from backend.embedded import scratch_redis_url

    sys.path.insert(0, str(ROOT))
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-inv-"))
    redis_url = scratch_redis_url(scratch / "redis.db")
    figures = {"sqlite": placements(f"sqlite:///{scratch / 'inv.db'}", redis_url)}
    with temp_postgres() as pg_url:
        if pg_url:
            figures["postgresql"] = placements(pg_url, redis_url)
    for backend, values in figures.items():
        for name, value in values.items():
            shown = f"{value:.2f}" if isinstance(value, float) else value
            print(f"{backend}_{name}: {shown}".lower())
    worst = list(figures.values())
    print(f"placements_per_s: {min(v['placements_per_s'] for v in worst):.1f}")
    print(f"oversold: {sum(v['oversold'] for v in worst)}")
    print(f"ledger_balanced: {str(all(v['ledger_balanced'] for v in worst)).lower()}")
    ingest = report_ingest()
    print(f"reports: {ingest['reports']}")
    print(f"reports_per_s: {ingest['reports_per_s']:.1f}")


if __name__ == "__main__":
    main()
