"""Flash-sale benchmark: 500 units, 10,000 distinct logged-in claimers over 200 connections
against gunicorn; claims/s and p50/p99 next to a bare Flask route served the same way (and the
raw Redis claim script), then proof that nothing was oversold, that every won claim became
exactly one order (written by the claim writer from its stream), and, after the pay window with
some holds left unpaid, that no unit was lost.

    python -m bench.flash_sale                      # 20 sales; every second one with kills
    python -m bench.flash_sale --postgres --runs 5 --kill-every 1
    python -m bench.flash_sale --worker-class gthread --threads 4 --runs 1

Each run is a fresh sale on the same stack (two rq workers: the claim writer runs on either).
In a run with kills, at half sold one gunicorn worker is SIGKILLed and so is the rq worker that
is writing claims (mid-batch). While it runs, once sold
out, GIVE_BACK unpaid claims expire (their units go back to the sale and are claimed again);
after the load every won claim must be written (the survivors take the dead writer's entries
over; the minute reconcile is the last resort), PAID claims are paid through the sandbox, the
sale is stopped and EXPIRE_AFTER_END more expire (their units go back to stock); the rest stay
held. claims_per_s is the median of the runs without kills, against the bare route measured
before and after the runs (their mean); p50/p99 are those of the first run without kills;
oversold, units_lost and the other invariants the worst run, *_total the sum of all. The exit
status is 1 on oversold, lost, doubled or unwritten claims, 5xx answers, socket errors outside
a kill, or a ledger/reconcile mismatch.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import redis
import requests

from bench.harness import (
    ADDRESS,
    WORKER,
    app_for,
    arguments,
    children,
    customers_with_tokens,
    database,
    ensure_wrk,
    free_port,
    free_units,
    gunicorn,
    print_figures,
    spawn,
    stack,
    stop_all,
    viewers_script,
    wait_http,
    wrk,
)


@dataclass(frozen=True)
class Sizes:
    units: int = 500
    claimers: int = 10_000
    connections: int = 200
    min_seconds: float = 10  # and until every claimer has been answered once
    max_seconds: int = 60
    give_back: int = 50  # unpaid claims that expire while the sale runs
    paid: int = 10
    expire_after_end: int = 100
    bare_seconds: int = 8
    redis_seconds: float = 3
    runs: int = 20


SMOKE = Sizes(
    units=20,
    claimers=300,
    connections=20,
    min_seconds=1,
    max_seconds=20,
    give_back=5,
    paid=2,
    expire_after_end=5,
    bare_seconds=1,
    redis_seconds=0.5,
    runs=2,
)
SKU = "RS-LIVE-M-5"
REDIS_PROCESSES, REDIS_PIPELINE = 2, 100
WRITTEN_WITHIN = 60  # seconds for every won claim to be written after the load


class Bench:
    """What the runs share: the app on the scratch DB/Redis, the claimers, the URLs."""

    def __init__(self, scratch: Path, sizes: Sizes | None = None):
        self.scratch, self.sizes = scratch, sizes
        self.tokens_file = scratch / "tokens.txt"
        self.tokens: dict[int, str] = {}  # customer id → token
        self.app = None
        self.sku_id = 0
        self.urls: dict = {}
        self.redis_url = ""
        self.env: dict = {}
        self.extra_workers: list[subprocess.Popen] = []

    def prepare(self, env: dict, stock: int) -> None:
        """The claimers, logged in before the sale, and `stock` packs of SKU."""
        from backend import demo
        from backend.catalogue.models import Sku
        from backend.extensions import db

        self.app, self.redis_url = app_for(env), env["REDIS_URL"]
        self.add_claimers(self.sizes.claimers)
        with self.app.app_context():
            demo.pack_batch(db.session, {SKU: stock})
            self.sku_id = db.session.scalar(db.select(Sku.id).where(Sku.code == SKU))
            db.session.remove()

    def add_claimers(self, count: int) -> None:
        """count customers with live tokens, the tokens also in the file the wrk scripts read."""
        self.tokens = customers_with_tokens(self.app, "o_flash_", count)
        self.tokens_file.write_text("\n".join(self.tokens.values()) + "\n")

    def start_second_rq_worker(self) -> None:
        """A second rq worker next to the stack's: the claim writer goes on when one dies."""
        self.extra_workers.append(spawn(WORKER, self.env))

    def restart_rq_workers(self) -> None:
        """Two rq workers again after a kill, as a process supervisor would see to."""
        while len(rq_workers()) < 2:
            self.start_second_rq_worker()

    def stop_extra_workers(self) -> None:
        stop_all(self.extra_workers)

    def script(self, name: str) -> tuple[str, str]:
        """A claim script of its own: (its path, the prefix of its threads' marker files)."""
        path, marks = self.scratch / f"{name}.lua", str(self.scratch / f"{name}.covered.")
        path.write_text(
            viewers_script(tokens=self.tokens_file, marks=marks, key="fs", body='{"quantity":1}')
        )
        return str(path), marks


def claim_load(
    url: str,
    script: tuple[str, str],
    min_seconds: float,
    max_seconds: int,
    connections: int,
    stop: threading.Event | None = None,
) -> dict:
    """Run wrk with a claim script for at least min_seconds and until every claimer has been
    answered once (at most max_seconds, or until stop is set); answers status counts, latency
    and errors."""
    path, marks = script
    wrk_run = subprocess.Popen(
        [ensure_wrk(), "-t2", f"-c{connections}", f"-d{max_seconds}s", "--timeout", "10s"]
        + ["-s", path, url],
        stdout=subprocess.PIPE,
        text=True,
    )
    started = time.monotonic()
    while wrk_run.poll() is None:
        covered = all(Path(f"{marks}{index}").exists() for index in (0, 1))
        stopped = stop is not None and stop.is_set()
        if stopped or (covered and time.monotonic() - started >= min_seconds):
            wrk_run.send_signal(signal.SIGINT)
            break
        time.sleep(0.02)
    out, _ = wrk_run.communicate()
    if wrk_run.returncode:
        raise RuntimeError(f"wrk failed:\n{out}")
    result: dict = {"statuses": {}}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "status":
            result["statuses"][int(parts[1])] = int(parts[2])
        elif len(parts) == 2 and parts[1].isdigit():
            result[parts[0]] = int(parts[1])
    return result


def _redis_claimer(args) -> tuple[int, float]:
    """One process calling the CLAIM script as fast as it can, REDIS_PIPELINE calls a round."""
    redis_url, script, keys, seconds, offset = args
    client = redis.Redis.from_url(redis_url)
    claim = client.register_script(script)
    calls, person = 0, offset
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        pipe = client.pipeline(transaction=False)
        for _ in range(REDIS_PIPELINE):
            person += 1
            # addresses counted as the app counts them (never full: nothing may be refused)
            address = f"10.{person >> 16 & 255}.{person >> 8 & 255}.{person & 255}"
            args = [time.time(), person, 1, f"k{person}", address, 10**9, 0, "{}", 3600, ""]
            claim(keys=keys, args=args, client=pipe)
        pipe.execute()
        calls += REDIS_PIPELINE
    return calls, time.perf_counter() - started


def redis_claim_rate(redis_url: str, seconds: float) -> float:
    """Successful claims/s of the bare CLAIM script on the scratch Redis (a sale, stream and
    kick of its own; no rate counters)."""
    from backend.live.flash_claims import CLAIM

    base = "heli:flash:bench"
    names = ("people", "answers", "addresses", "stream", "kick", "session")
    keys = [base] + [f"{base}:{name}" for name in names]
    client = redis.Redis.from_url(redis_url)
    now = time.time()
    client.hset(
        keys[0],
        mapping={
            "starts": now - 1,
            "ends": now + 3600,
            "remaining": 10**9,
            "limit": 1,
            "state": "RUNNING",
        },
    )
    jobs = [(redis_url, CLAIM, keys, seconds, i * 10**8) for i in range(REDIS_PROCESSES)]
    with multiprocessing.get_context("spawn").Pool(REDIS_PROCESSES) as pool:
        runs = pool.map(_redis_claimer, jobs)
    claimed = 10**9 - int(client.hget(keys[0], "remaining"))
    client.delete(*keys)
    assert claimed == sum(calls for calls, _ in runs), "the claim script refused a claim"
    return sum(calls / elapsed for calls, elapsed in runs)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def kill_a_web_worker(web: subprocess.Popen | None) -> int:
    """SIGKILL one worker (never the master) of the Heli gunicorn the stack started."""
    masters = [
        pid
        for pid in children(os.getpid())
        if "gunicorn" in _cmdline(pid) and "wsgi:app" in _cmdline(pid)
    ]
    workers = children(masters[0])
    victim = workers[len(workers) // 2]
    os.kill(victim, signal.SIGKILL)
    return victim


def rq_workers() -> list[int]:
    return [pid for pid in children(os.getpid()) if "jobs.worker" in _cmdline(pid)]


def kill_the_claim_writer(redis_url: str, wait: float = 3) -> int | None:
    """SIGKILL the rq worker that is writing claims (mid-batch, as rq's registry of workers
    tells); if none is busy within `wait` seconds, the first worker."""
    from rq import Worker

    connection = redis.Redis.from_url(redis_url)
    ours = set(rq_workers())
    deadline = time.monotonic() + wait
    while True:
        busy = [
            worker.pid
            for worker in Worker.all(connection=connection)
            if worker.pid in ours and worker.get_current_job_id()
        ]
        if busy or time.monotonic() > deadline:
            break
        time.sleep(0.002)
    victim = busy[0] if busy else rq_workers()[0]
    try:
        os.kill(victim, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return victim


def expire(bench: Bench, sale_id: int, count: int) -> int:
    """Move count unpaid claims' pay deadlines into the past and run their expiry job."""
    from backend.extensions import db
    from backend.orders.models import PENDING_PAYMENT, Order
    from backend.timeutil import utcnow
    from jobs.orders import expire_unpaid_order

    with bench.app.app_context():
        ids = list(
            db.session.scalars(
                db.select(Order.id)
                .where(Order.flash_sale_id == sale_id, Order.status == PENDING_PAYMENT)
                .order_by(Order.id.desc())
                .limit(count)
            )
        )
        db.session.execute(
            db.update(Order)
            .where(Order.id.in_(ids))
            .values(pay_deadline=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        db.session.remove()
        return sum(expire_unpaid_order(order_id) == "cancelled" for order_id in ids)


def unwritten(bench: Bench, sale_id: int) -> int:
    """Won claims of the sale whose orders are not written yet."""
    from backend.live import flash_claims

    with bench.app.app_context():
        return len(flash_claims.pending_claims(sale_id))


def wait_written(bench: Bench, sale_id: int, seconds: float) -> float:
    """Seconds until every won claim of the sale was written (inf if not within `seconds`),
    while the winners still waiting poll their claims as the mini-program does."""
    from backend.live import flash_claims

    started, url = time.monotonic(), f"{bench.urls['web']}/api/v1/flash-sales/{sale_id}/claims"
    with requests.Session() as http:
        while True:
            with bench.app.app_context():
                waiting = flash_claims.pending_claims(sale_id)
            if not waiting:
                return time.monotonic() - started
            if time.monotonic() - started > seconds:
                return float("inf")
            for claim in waiting[:3]:
                token = bench.tokens[claim.customer_id]
                http.get(
                    f"{url}/{claim.idempotency_key}", headers={"Authorization": f"Bearer {token}"}
                ).raise_for_status()
            time.sleep(0.5)


def watch(bench: Bench, sale_id: int, kill: bool, stop: threading.Event, seen: dict) -> None:
    """During the load, at half sold: reconcile as the scheduler does every minute, and kill a
    web worker and the claim writer (if asked); once sold out and written, let GIVE_BACK unpaid
    claims expire so their units go back into the running sale."""
    from backend.extensions import db
    from backend.live import flash_claims, flash_sales

    sizes = bench.sizes
    client, key = redis.Redis.from_url(bench.redis_url), flash_claims.keys(sale_id)[0]
    try:
        while not stop.is_set() and not ("given_back" in seen and "under_load" in seen):
            remaining = int(client.hget(key, "remaining") or sizes.units)
            if "under_load" not in seen and remaining <= sizes.units // 2:
                if kill:
                    seen["killed_web"] = kill_a_web_worker(None)
                    seen["killed_rq"] = kill_the_claim_writer(bench.redis_url)
                    seen["killed_at"] = time.monotonic()
                with bench.app.app_context():
                    seen["under_load"] = flash_sales.reconcile(db.session, sale_id=sale_id)[
                        "balanced"
                    ]
                    db.session.remove()
            if "given_back" not in seen and remaining == 0:
                wait_written(bench, sale_id, WRITTEN_WITHIN)
                seen["given_back"] = expire(bench, sale_id, sizes.give_back)
            time.sleep(0.005)
    except Exception as exc:  # reported by the run, not lost with the thread
        seen["error"] = exc


def pay(urls: dict, token: str, order_id: int) -> None:
    """The claimer adds an address, pays through the sandbox and waits for PAID."""
    web, auth = urls["web"], {"Authorization": f"Bearer {token}"}
    with requests.Session() as http:
        address = http.put(f"{web}/api/v1/orders/{order_id}/address", headers=auth, json=ADDRESS)
        address.raise_for_status()
        params = http.post(f"{web}/api/v1/orders/{order_id}/pay", headers=auth)
        params.raise_for_status()
        params = params.json()
        prepay = params["package"].removeprefix("prepay_id=")
        http.post(
            f"{urls['sandbox']}/sandbox/pay/{prepay}/confirm",
            json={"payment": params, "wait": True},
        ).raise_for_status()
        for _ in range(500):
            order = http.get(f"{web}/api/v1/orders/{order_id}", headers=auth).json()
            if order["status"] == "PAID":
                return
            time.sleep(0.02)
    raise RuntimeError(f"order {order_id} never became PAID")


def account(bench: Bench, sale_id: int, free_before: int) -> dict:
    """Units sold vs allocated, claims vs orders, the lots, the ledger and the sale's own
    reconciliation."""
    from backend.extensions import db
    from backend.inventory import queries as inventory_queries
    from backend.inventory.models import Lot
    from backend.live import flash_claims, flash_sales
    from backend.live.models import FlashClaim
    from backend.orders.models import CANCELLED, PAID, PENDING_PAYMENT, Order, OrderItem

    units_in_sale = bench.sizes.units
    with bench.app.app_context():
        session = db.session
        units = dict(
            session.execute(
                db.select(Order.status, db.func.sum(OrderItem.quantity))
                .join(OrderItem, OrderItem.order_id == Order.id)
                .where(Order.flash_sale_id == sale_id)
                .group_by(Order.status)
            ).all()
        )
        back_to_sale = session.scalar(
            db.select(db.func.coalesce(db.func.sum(FlashClaim.quantity), 0)).where(
                FlashClaim.flash_sale_id == sale_id, FlashClaim.returned_to == "sale"
            )
        )
        orders = session.scalar(
            db.select(db.func.count()).select_from(Order).where(Order.flash_sale_id == sale_id)
        )
        claims = dict(
            session.execute(
                db.select(FlashClaim.order_id.is_not(None), db.func.count())
                .where(FlashClaim.flash_sale_id == sale_id)
                .group_by(FlashClaim.order_id.is_not(None))
            ).all()
        )
        won_in_redis = len(bench.app.extensions["heli_redis"].hkeys(flash_claims.keys(sale_id)[2]))
        lots = session.execute(
            db.select(Lot.on_hand, Lot.reserved).where(Lot.sku_id == bench.sku_id)
        ).all()
        ledger_ok = inventory_queries.ledger_mismatches(session) == []
        balanced = flash_sales.reconcile(session, sale_id=sale_id)["balanced"]
        session.remove()
    paid, held = int(units.get(PAID, 0)), int(units.get(PENDING_PAYMENT, 0))
    claimed = sum(int(n) for n in units.values())
    over_lots = sum(max(0, reserved - on_hand) + max(0, -reserved) for on_hand, reserved in lots)
    returned = free_units(bench.app, bench.sku_id) - (free_before - units_in_sale)
    with_order, refused = claims.get(True, 0), claims.get(False, 0)
    return {
        "orders": orders,
        "paid": paid,
        "held": held,
        "cancelled": int(units.get(CANCELLED, 0)),
        "refused": refused,
        "oversold": max(0, claimed - back_to_sale - units_in_sale) + over_lots,
        "returned": returned,
        "units_lost": units_in_sale - (paid + held + returned),
        # a claim won in Redis with no decision, or an order that is not its claim's one
        "claims_lost": won_in_redis - (with_order + refused),
        "doubled": orders - with_order,
        "ledger_ok": ledger_ok,
        "balanced_ended": balanced,
    }


def running_checks(bench: Bench, sale_id: int) -> dict:
    """While the sale still runs, every claim written: DB holds = Redis remaining."""
    from backend.extensions import db
    from backend.live import flash_sales

    with bench.app.app_context():
        report = flash_sales.reconcile(db.session, sale_id=sale_id)
        db.session.remove()
    return {
        "balanced_running": report["balanced"],
        "redis_remaining": report["redis_remaining"],
        "in_sale": report["in_sale"],
    }


def written_after_load(bench: Bench, sale_id: int) -> dict:
    """Every won claim written by the writers within WRITTEN_WITHIN seconds; if not, by the
    minute reconcile (as the scheduler would run it)."""
    from backend.extensions import db
    from backend.live import flash_claims, flash_sales

    seconds = wait_written(bench, sale_id, WRITTEN_WITHIN)
    found = {"written_s": seconds, "left_to_reconcile": 0}
    if seconds == float("inf"):
        found["left_to_reconcile"] = unwritten(bench, sale_id)
        time.sleep(flash_claims.STALE_CLAIM_SECONDS)
        with bench.app.app_context():
            flash_sales.reconcile(db.session, sale_id=sale_id)
            db.session.remove()
    found["unwritten"] = unwritten(bench, sale_id)
    return found


def one_run(bench: Bench, console: requests.Session, number: int, kill: bool, seconds) -> dict:
    from backend.extensions import db
    from backend.orders.models import PENDING_PAYMENT, Order

    sizes, web = bench.sizes, bench.urls["web"]
    free_before = free_units(bench.app, bench.sku_id)
    res = console.post(
        f"{web}/console/api/flash-sales",
        json={
            "sku_id": bench.sku_id,
            "units": sizes.units,
            "price": 3900,
            "seconds": 900,
            "per_person_limit": 1,
            "pay_minutes": 30,  # nothing expires by itself while the benchmark runs
        },
    )
    assert res.status_code == 201, res.text
    sale_id = res.json()["id"]
    script, stop, seen = bench.script(f"run{number}"), threading.Event(), {}
    watcher = threading.Thread(target=watch, args=(bench, sale_id, kill, stop, seen))
    watcher.start()
    try:
        load = claim_load(
            f"{web}/api/v1/flash-sales/{sale_id}/claims",
            script,
            seconds,
            sizes.max_seconds,
            sizes.connections,
        )
    finally:
        stop.set()
        watcher.join()
    if "error" in seen:
        raise seen["error"]
    if kill:
        bench.restart_rq_workers()  # as a supervisor would
    checks = written_after_load(bench, sale_id)
    checks.update(running_checks(bench, sale_id))

    with bench.app.app_context():
        to_pay = list(
            db.session.execute(
                db.select(Order.id, Order.customer_id)
                .where(Order.flash_sale_id == sale_id, Order.status == PENDING_PAYMENT)
                .order_by(Order.id)
                .limit(sizes.paid)
            ).all()
        )
        db.session.remove()
    with ThreadPoolExecutor(5) as pool:
        list(pool.map(lambda row: pay(bench.urls, bench.tokens[row[1]], row[0]), to_pay))
    stopped = console.post(f"{web}/console/api/flash-sales/{sale_id}/stop", json={})
    assert stopped.status_code == 200, stopped.text
    expired_after_end = expire(bench, sale_id, sizes.expire_after_end)

    statuses = load["statuses"]
    answered = sum(statuses.get(code, 0) for code in (200, 202, 409, 422))
    elapsed = load["duration_us"] / 1e6
    return {
        "kill": kill,
        "killed_web": seen.get("killed_web"),
        "killed_rq": seen.get("killed_rq"),
        "claims_per_s": answered / elapsed,
        "seconds": elapsed,
        "successful_claims": statuses.get(202, 0),
        "statuses": statuses,
        "reached": load.get("reached", 0),
        "p50_ms": load["p50_us"] / 1000,
        "p99_ms": load["p99_us"] / 1000,
        "server_errors": sum(n for code, n in statuses.items() if code >= 500),
        "socket_errors": sum(
            load.get(kind, 0) for kind in ("connect_errors", "read_errors", "write_errors")
        ),
        "timeouts": load.get("timeouts", 0),
        "given_back": seen.get("given_back", 0),
        "balanced_under_load": seen.get("under_load"),
        "expired_after_end": expired_after_end,
        **checks,
        **account(bench, sale_id, free_before),
    }


def errors_in(log: Path) -> list[str]:
    """The last line of every traceback in gunicorn's error log."""
    lines, found = log.read_text(errors="replace").splitlines() if log.exists() else [], []
    for number, line in enumerate(lines):
        if line.startswith("Traceback"):
            end = next(
                (i for i in range(number + 1, len(lines)) if not lines[i].startswith(" ")), None
            )
            if end is not None:
                found.append(lines[end][:300])
    return found


def run_line(run: dict) -> str:
    statuses = " ".join(f"{code}x{n}" for code, n in sorted(run["statuses"].items()))
    keys = (
        "claims_per_s seconds successful_claims orders refused reached p50_ms p99_ms "
        "server_errors socket_errors timeouts written_s left_to_reconcile unwritten given_back "
        "paid held expired_after_end returned oversold units_lost claims_lost doubled "
        "balanced_under_load redis_remaining in_sale balanced_running balanced_ended ledger_ok"
    ).split()
    figures = " ".join(
        f"{key}={run[key]:.1f}" if isinstance(run[key], float) else f"{key}={run[key]}"
        for key in keys
        if key in run
    )
    killed = f"web {run['killed_web']}, rq {run['killed_rq']}" if run["kill"] else "no"
    return f"killed={killed} {figures} statuses=[{statuses}]"


def bare_baseline(env: dict, sizes: Sizes) -> tuple[float, float]:
    """The bare Flask route under the same gunicorn settings and load: (req/s, p99 ms)."""
    port = free_port()
    bare = gunicorn("bench.bare_app:app", port, env)
    try:
        url = f"http://127.0.0.1:{port}/bare"
        wait_http(url)
        wrk(url, seconds=min(2, sizes.bare_seconds), connections=sizes.connections)  # warm
        return wrk(url, seconds=sizes.bare_seconds, connections=sizes.connections)
    finally:
        bare.terminate()
        bare.wait(timeout=10)


def failures_of(runs: list[dict]) -> list[str]:
    return [
        f"run {n}: {what}"
        for n, run in enumerate(runs, start=1)
        for what, bad in (
            ("oversold", run["oversold"]),
            ("units lost", run["units_lost"]),
            ("won claims lost", run["claims_lost"]),
            ("orders doubled", run["doubled"]),
            ("claims never written", run["unwritten"]),
            ("5xx answers", run["server_errors"]),
            ("socket errors without a kill", run["socket_errors"] and not run["kill"]),
            ("timeouts", run["timeouts"]),
            ("ledger mismatch", not run["ledger_ok"]),
            ("unbalanced while running", not run["balanced_running"]),
            ("unbalanced after the end", not run["balanced_ended"]),
        )
        if bad
    ]


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--runs", type=int, help="fresh sales on the same stack (20; smoke 2)")
    parser.add_argument(
        "--kill-every", type=int, default=2, help="kills in every n-th run (0: none)"
    )
    parser.add_argument("--seconds", type=float, help="least load time of a run")
    parser.add_argument(
        "--worker-class",
        help="gunicorn worker class for Heli and the bare route (sync, gthread, gevent)",
    )
    parser.add_argument("--threads", type=int, default=0, help="gunicorn threads per worker")
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else Sizes()
    runs_wanted = args.runs or sizes.runs
    plan = [bool(args.kill_every) and n % args.kill_every == 0 for n in range(1, runs_wanted + 1)]

    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-flash-"))
    bench = Bench(scratch, sizes)
    stock = sizes.units * (len(plan) + 1)  # paid and still-held units stay out of stock
    server_log = scratch / "gunicorn.log"  # Flask's tracebacks land here (wsgi.errors)
    gunicorn_args = f"--error-logfile {server_log}"
    if args.worker_class:
        gunicorn_args += f" --worker-class {args.worker_class}"
    if args.threads:
        gunicorn_args += f" --threads {args.threads}"
    try:
        with (
            database(args.postgres, scratch) as url,
            stack(
                # the console over plain http on 127.0.0.1, as `make run` serves it
                {"GUNICORN_CMD_ARGS": gunicorn_args, "SESSION_COOKIE_SECURE": "0"},
                prepare=lambda env: bench.prepare(env, stock),
                database_url=url,
            ) as (env, urls),
        ):
            bench.urls, bench.env = urls, env
            bench.start_second_rq_worker()
            bares = [bare_baseline(env, sizes)]
            redis_rate = redis_claim_rate(env["REDIS_URL"], sizes.redis_seconds)
            console = requests.Session()
            login = console.post(
                f"{urls['web']}/console/api/login",
                json={"username": "admin", "password": "heli-demo"},
            )
            assert login.status_code == 200, login.text
            # Warm up every worker on the claim path (an unknown sale: token, script, 404).
            warm = f"{urls['web']}/api/v1/flash-sales/999999/claims"
            claim_load(warm, bench.script("warm"), 1, 2, sizes.connections)
            runs = []
            for number, kill in enumerate(plan, start=1):
                runs.append(
                    one_run(bench, console, number, kill, args.seconds or sizes.min_seconds)
                )
                print(f"run_{number}: {run_line(runs[-1])}", flush=True)
            # the baseline again after the runs: a neighbour's load falls on both sides
            bares.append(bare_baseline(env, sizes))
            bench.stop_extra_workers()
        server_errors = sorted(set(errors_in(server_log)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    reference = next((run for run in runs if not run["kill"]), runs[0])
    clean = [run for run in runs if not run["kill"]] or runs
    bare_rps = statistics.mean(rps for rps, _ in bares)
    bare_p99 = statistics.mean(p99 for _, p99 in bares)
    claims_per_s = statistics.median(r["claims_per_s"] for r in clean)
    failures = failures_of(runs)
    print_figures(
        {
            "database": "postgresql" if args.postgres else "sqlite",
            "worker_class": args.worker_class or "default",
            "bare_flask_rps": round(bare_rps),
            "bare_p99_ms": bare_p99,
            "redis_claims_per_s": round(redis_rate),
            "bare_flask_rps_turns": " ".join(str(round(rps)) for rps, _ in bares),
            "claims_per_s": round(claims_per_s),
            "claims_per_s_first": round(reference["claims_per_s"]),
            "claim_ratio": claims_per_s / bare_rps,
            "p50_ms": reference["p50_ms"],
            "p99_ms": reference["p99_ms"],
            "p99_ratio": reference["p99_ms"] / bare_p99,
            "successful_claims": reference["successful_claims"],
            "claimers_reached": reference["reached"],
            "written_s_max": max(r["written_s"] for r in runs),
            "errors": sum(r["server_errors"] + r["socket_errors"] + r["timeouts"] for r in runs),
            "oversold": max(r["oversold"] for r in runs),
            "oversold_total": sum(r["oversold"] for r in runs),
            "units_lost": max((r["units_lost"] for r in runs), key=abs),
            "units_lost_total": sum(abs(r["units_lost"]) for r in runs),
            "claims_lost": max((r["claims_lost"] for r in runs), key=abs),
            "orders_doubled": max(r["doubled"] for r in runs),
            "left_to_reconcile_total": sum(r["left_to_reconcile"] for r in runs),
            "reconcile_unbalanced_under_load": sum(
                run["balanced_under_load"] is False for run in runs
            ),
            "runs": len(runs),
            "runs_with_kills": sum(r["kill"] for r in runs),
        }
    )
    if any(run["server_errors"] for run in runs):
        print("server_errors_seen:", *server_errors, sep="\n  ")
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))


if __name__ == "__main__":
    main()
