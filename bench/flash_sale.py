"""Flash-sale benchmark (issue #6): 500 units, 10,000 distinct logged-in claimers over 200
connections against gunicorn; claims/s and p50/p99 next to a bare Flask route and the raw Redis
claim script, then proof that nothing was oversold and, after the pay window with some holds
left unpaid, that no unit was lost. Optionally one gunicorn worker is SIGKILLed mid-sale.

    python -m bench.flash_sale                    # one run, then one with a worker killed
    python -m bench.flash_sale --runs 20 --kill-worker

Each run is a fresh sale on the same stack. While it runs, once sold out, GIVE_BACK unpaid claims
expire (their units go back to the sale and are claimed again); after the load PAID claims are
paid through the sandbox, the sale is stopped and EXPIRE_AFTER_END more expire (their units go
back to stock); the rest stay held. A killed worker can leave a claim half done (Redis took
the unit, no order): the run then waits until reconcile repairs it and claims the unit again.
claims_per_s, p50/p99 and successful_claims are those of the first run without a kill; oversold
and units_lost are the worst run, *_total the sum of all. The exit status is 1 on oversold, lost
units, 5xx answers, socket errors outside a kill, or a ledger/reconcile mismatch after the end.
"""

from __future__ import annotations

import argparse
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
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import redis
import requests

from bench.harness import (
    ADDRESS,
    app_for,
    customers_with_tokens,
    ensure_wrk,
    free_port,
    free_units,
    gunicorn,
    stack,
    wait_http,
    wrk,
)

UNITS = 500
CLAIMERS = 10_000
CONNECTIONS = 200
MIN_SECONDS = 10  # and until every claimer has been answered once
MAX_SECONDS = 60
SKU = "RS-LIVE-M-5"
GIVE_BACK = 50  # unpaid claims that expire while the sale runs
PAID = 10
EXPIRE_AFTER_END = 100
REDIS_SECONDS, REDIS_PROCESSES, REDIS_PIPELINE = 3, 2, 100

# Each thread takes its own slice of the tokens; every request is the slice's next claimer with a
# fresh Idempotency-Key. Once its whole slice has been answered a thread leaves a marker file;
# the Python side then stops wrk with SIGINT (wrk's main thread sleeps the whole -d otherwise) and
# parses what done() prints.
SCRIPT = """
threads, tokens, statuses = {}, {}, {}
index, size, sent, answered = 0, 0, 0, 0

function setup(thread)
  thread:set("index", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  local all = {}
  for line in io.lines("@TOKENS@") do all[#all + 1] = line end
  local share = math.ceil(#all / 2)
  for i = index * share + 1, math.min(#all, (index + 1) * share) do tokens[#tokens + 1] = all[i] end
  size = #tokens
  math.randomseed(os.time() * 1000 + index)
end

function request()
  sent = sent + 1
  return wrk.format("POST", nil, {
    ["Authorization"] = "Bearer " .. tokens[(sent - 1) % size + 1],
    ["Idempotency-Key"] = string.format("fs%d-%d-%d", index, sent, math.random(1, 1000000000)),
    ["Content-Type"] = "application/json",
  }, '{"quantity":1}')
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  answered = answered + 1
  if answered == size then io.open("@MARKS@" .. index, "w"):close() end
end

function done(summary, latency, requests)
  local counts, reached = {}, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do counts[status] = (counts[status] or 0) + n end
    reached = reached + math.min(thread:get("sent"), thread:get("size"))
  end
  for status, n in pairs(counts) do io.write(string.format("status %d %d\\n", status, n)) end
  local e = summary.errors
  io.write(string.format("reached %d\\nduration_us %d\\np50_us %d\\np99_us %d\\n", reached,
    summary.duration, latency:percentile(50), latency:percentile(99)))
  io.write(string.format("connect_errors %d\\nread_errors %d\\nwrite_errors %d\\n", e.connect,
    e.read, e.write))
  io.write(string.format("timeouts %d\\n", e.timeout))
end
"""


class Bench:
    """What the runs share: the app on the scratch DB/Redis, the claimers, the URLs."""

    def __init__(self, scratch: Path):
        self.scratch = scratch
        self.tokens_file = scratch / "tokens.txt"
        self.tokens: dict[int, str] = {}  # customer id → token
        self.app = None
        self.sku_id = 0
        self.urls: dict = {}
        self.redis_url = ""

    def prepare(self, env: dict, stock: int) -> None:
        """CLAIMERS customers with live tokens (to a file for wrk), and `stock` packs of SKU."""
        from backend import demo
        from backend.catalogue.models import Sku
        from backend.extensions import db

        self.app, self.redis_url = app_for(env), env["REDIS_URL"]
        self.add_claimers(CLAIMERS)
        with self.app.app_context():
            demo.pack_batch(db.session, {SKU: stock})
            self.sku_id = db.session.scalar(db.select(Sku.id).where(Sku.code == SKU))
            db.session.remove()

    def add_claimers(self, count: int) -> None:
        """count customers with live tokens, the tokens also in the file the wrk scripts read."""
        self.tokens = customers_with_tokens(self.app, "o_flash_", count)
        self.tokens_file.write_text("\n".join(self.tokens.values()) + "\n")

    def script(self, name: str) -> tuple[str, str]:
        """A claim script of its own: (its path, the prefix of its threads' marker files)."""
        path, marks = self.scratch / f"{name}.lua", str(self.scratch / f"{name}.covered.")
        path.write_text(SCRIPT.replace("@TOKENS@", str(self.tokens_file)).replace("@MARKS@", marks))
        return str(path), marks


def claim_load(
    url: str,
    script: tuple[str, str],
    min_seconds: float,
    max_seconds: int,
    stop: threading.Event | None = None,
    connections: int = CONNECTIONS,
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
            args = [time.time(), person, 1, f"k{person}", address, 10**9]
            claim(keys=keys, args=args, client=pipe)
        pipe.execute()
        calls += REDIS_PIPELINE
    return calls, time.perf_counter() - started


def redis_claim_rate(redis_url: str) -> float:
    """Successful claims/s of the bare CLAIM script on the scratch Redis (a sale of its own)."""
    from backend.live.flash_sales import CLAIM

    keys = ["heli:flash:bench"] + [
        f"heli:flash:bench:{name}" for name in ("people", "answers", "addresses")
    ]
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
    jobs = [(redis_url, CLAIM, keys, REDIS_SECONDS, i * 10**8) for i in range(REDIS_PROCESSES)]
    with multiprocessing.get_context("spawn").Pool(REDIS_PROCESSES) as pool:
        runs = pool.map(_redis_claimer, jobs)
    claimed = 10**9 - int(client.hget(keys[0], "remaining"))
    client.delete(*keys)
    assert claimed == sum(calls for calls, _ in runs), "the claim script refused a claim"
    return sum(calls / elapsed for calls, elapsed in runs)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def kill_a_worker() -> int:
    """SIGKILL one worker (never the master) of the Heli gunicorn this process started."""
    masters = [
        pid
        for pid in _children(os.getpid())
        if "gunicorn" in _cmdline(pid) and "wsgi:app" in _cmdline(pid)
    ]
    workers = _children(masters[0])
    victim = workers[len(workers) // 2]
    os.kill(victim, signal.SIGKILL)
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


def watch(bench: Bench, sale_id: int, kill: bool, stop: threading.Event, seen: dict) -> None:
    """During the load, at half sold: reconcile as the scheduler does every minute, and kill a
    worker (if asked); once sold out, let GIVE_BACK unpaid claims expire so their units go back
    into the running sale."""
    from backend.extensions import db
    from backend.live import flash_sales

    client, key = redis.Redis.from_url(bench.redis_url), flash_sales._keys(sale_id)[0]
    try:
        while not stop.is_set() and not ("given_back" in seen and "under_load" in seen):
            remaining = int(client.hget(key, "remaining") or UNITS)
            if "under_load" not in seen and remaining <= UNITS // 2:
                with bench.app.app_context():
                    seen["under_load"] = flash_sales.reconcile(db.session, sale_id=sale_id)[
                        "balanced"
                    ]
                    db.session.remove()
                if kill:
                    seen["killed"], seen["killed_at"] = kill_a_worker(), time.monotonic()
            if "given_back" not in seen and remaining == 0:
                time.sleep(0.5)
                seen["given_back"] = expire(bench, sale_id, GIVE_BACK)
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
    """Units sold vs allocated, the lots, the ledger and the sale's own reconciliation."""
    from backend.extensions import db
    from backend.inventory import queries as inventory_queries
    from backend.inventory.models import Lot
    from backend.live import flash_sales
    from backend.live.models import FlashClaim
    from backend.orders.models import CANCELLED, PAID, PENDING_PAYMENT, Order, OrderItem

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
        lots = session.execute(
            db.select(Lot.on_hand, Lot.reserved).where(Lot.sku_id == bench.sku_id)
        ).all()
        ledger_ok = inventory_queries.ledger_mismatches(session) == []
        balanced = flash_sales.reconcile(session, sale_id=sale_id)["balanced"]
        session.remove()
    paid, held = int(units.get(PAID, 0)), int(units.get(PENDING_PAYMENT, 0))
    claimed = sum(int(n) for n in units.values())
    over_lots = sum(max(0, reserved - on_hand) + max(0, -reserved) for on_hand, reserved in lots)
    returned = free_units(bench.app, bench.sku_id) - (free_before - UNITS)
    return {
        "orders": claimed,
        "paid": paid,
        "held": held,
        "cancelled": int(units.get(CANCELLED, 0)),
        "oversold": max(0, claimed - back_to_sale - UNITS) + over_lots,
        "returned": returned,
        "units_lost": UNITS - (paid + held + returned),
        "ledger_ok": ledger_ok,
        "balanced_ended": balanced,
    }


def running_checks(bench: Bench, sale_id: int) -> dict:
    """While the sale still runs: DB holds = Redis remaining, and claims left half-done."""
    from backend.extensions import db
    from backend.live import flash_sales

    with bench.app.app_context():
        report = flash_sales.reconcile(db.session, sale_id=sale_id)
        db.session.remove()
    answers = redis.Redis.from_url(bench.redis_url).hvals(flash_sales._keys(sale_id)[2])
    return {
        "balanced_running": report["balanced"],
        "redis_remaining": report["redis_remaining"],
        "in_sale": report["in_sale"],
        "stuck_pending": sum(answer.startswith(b"PENDING") for answer in answers),
    }


def settle(bench: Bench, sale_id: int, since: float) -> dict:
    """After a kill: once half-done claims are stale, reconcile must repair them, and the units
    they held must be claimable again (by claimers who have none yet)."""
    from backend.extensions import db
    from backend.live import flash_sales
    from backend.orders.models import Order

    stale = getattr(flash_sales, "STALE_CLAIM_SECONDS", None)
    if stale is None:
        return {}
    time.sleep(max(0.0, since + stale + 1 - time.monotonic()))
    with bench.app.app_context():
        report = flash_sales.reconcile(db.session, sale_id=sale_id)
        winners = set(
            db.session.scalars(db.select(Order.customer_id).where(Order.flash_sale_id == sale_id))
        )
        db.session.remove()
    losers = (token for customer, token in bench.tokens.items() if customer not in winners)
    reclaimed = 0
    url = f"{bench.urls['web']}/api/v1/flash-sales/{sale_id}/claims"
    for _ in range(report["redis_remaining"]):
        answer = requests.post(
            url,
            json={"quantity": 1},
            headers={
                "Authorization": f"Bearer {next(losers)}",
                "Idempotency-Key": uuid.uuid4().hex,
            },
        )
        reclaimed += answer.status_code == 201
    return {"balanced_after_repair": report["balanced"], "reclaimed_after_repair": reclaimed}


def one_run(bench: Bench, console: requests.Session, number: int, kill: bool, min_seconds) -> dict:
    from backend.extensions import db
    from backend.orders.models import PENDING_PAYMENT, Order

    web = bench.urls["web"]
    free_before = free_units(bench.app, bench.sku_id)
    res = console.post(
        f"{web}/console/api/flash-sales",
        json={
            "sku_id": bench.sku_id,
            "units": UNITS,
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
            f"{web}/api/v1/flash-sales/{sale_id}/claims", script, min_seconds, MAX_SECONDS
        )
    finally:
        stop.set()
        watcher.join()
    if "error" in seen:
        raise seen["error"]
    checks = running_checks(bench, sale_id)
    if checks["stuck_pending"]:
        checks.update(settle(bench, sale_id, seen.get("killed_at", time.monotonic())))

    with bench.app.app_context():
        to_pay = list(
            db.session.execute(
                db.select(Order.id, Order.customer_id)
                .where(Order.flash_sale_id == sale_id, Order.status == PENDING_PAYMENT)
                .order_by(Order.id)
                .limit(PAID)
            ).all()
        )
        db.session.remove()
    with ThreadPoolExecutor(5) as pool:
        list(pool.map(lambda row: pay(bench.urls, bench.tokens[row[1]], row[0]), to_pay))
    stopped = console.post(f"{web}/console/api/flash-sales/{sale_id}/stop")
    assert stopped.status_code == 200, stopped.text
    expired_after_end = expire(bench, sale_id, EXPIRE_AFTER_END)

    statuses = load["statuses"]
    answered = sum(statuses.get(code, 0) for code in (200, 201, 409, 422))
    seconds = load["duration_us"] / 1e6
    return {
        "kill": kill,
        "killed_pid": seen.get("killed"),
        "claims_per_s": answered / seconds,
        "seconds": seconds,
        "successful_claims": statuses.get(201, 0),
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
        "claims_per_s seconds successful_claims orders reached p50_ms p99_ms server_errors "
        "socket_errors timeouts given_back paid held expired_after_end returned oversold "
        "units_lost balanced_under_load stuck_pending redis_remaining in_sale "
        "balanced_running balanced_after_repair reclaimed_after_repair balanced_ended ledger_ok"
    ).split()
    figures = " ".join(
        f"{key}={run[key]:.1f}" if isinstance(run[key], float) else f"{key}={run[key]}"
        for key in keys
        if key in run
    )
    return f"killed_worker={run['killed_pid'] or 'no'} {figures} statuses=[{statuses}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, help="fresh sales on the same stack")
    parser.add_argument("--seconds", type=float, default=MIN_SECONDS, help="least load time")
    parser.add_argument("--kill-worker", action="store_true", help="SIGKILL a worker mid-sale")
    args = parser.parse_args()
    if args.runs:
        plan = [args.kill_worker] * args.runs
    else:
        plan = [True] if args.kill_worker else [False, True]

    bench = Bench(Path(tempfile.mkdtemp(prefix="heli-bench-flash-")))
    # Paid and still-held units stay out of stock: enough for every run.
    stock = UNITS * (len(plan) + 1)
    server_log = bench.scratch / "gunicorn.log"  # Flask's tracebacks land here (wsgi.errors)
    log_to = {"GUNICORN_CMD_ARGS": f"--error-logfile {server_log}"}
    with stack(log_to, prepare=lambda env: bench.prepare(env, stock)) as (env, urls):
        bench.urls = urls
        bare_port = free_port()
        bare = gunicorn("bench.bare_app:app", bare_port, env)
        try:
            wait_http(f"http://127.0.0.1:{bare_port}/bare")
            wrk(f"http://127.0.0.1:{bare_port}/bare", seconds=2, connections=CONNECTIONS)
            bare_rps, bare_p99 = wrk(f"http://127.0.0.1:{bare_port}/bare", connections=CONNECTIONS)
        finally:
            bare.terminate()
            bare.wait(timeout=10)
        redis_rate = redis_claim_rate(env["REDIS_URL"])

        console = requests.Session()
        login = console.post(
            f"{urls['web']}/console/api/login",
            json={"username": "admin", "password": "heli-demo"},
        )
        assert login.status_code == 200, login.text
        # Warm up every worker on the claim path (an unknown sale: token, script, 404).
        claim_load(f"{urls['web']}/api/v1/flash-sales/999999/claims", bench.script("warm"), 2, 2)
        runs = []
        for number, kill in enumerate(plan, start=1):
            runs.append(one_run(bench, console, number, kill, args.seconds))
            print(f"run_{number}: {run_line(runs[-1])}", flush=True)
    server_errors = sorted(set(errors_in(server_log)))
    shutil.rmtree(bench.scratch, ignore_errors=True)

    reference = next((run for run in runs if not run["kill"]), runs[0])
    clean = [run for run in runs if not run["kill"]] or runs
    failures = [
        f"run {n}: {what}"
        for n, run in enumerate(runs, start=1)
        for what, bad in (
            ("oversold", run["oversold"]),
            ("units lost", run["units_lost"]),
            ("5xx answers", run["server_errors"]),
            ("socket errors without a kill", run["socket_errors"] and not run["kill"]),
            ("timeouts", run["timeouts"]),
            ("ledger mismatch", not run["ledger_ok"]),
            ("unbalanced after the end", not run["balanced_ended"]),
            ("unbalanced after repairing", run.get("balanced_after_repair") is False),
        )
        if bad
    ]
    print(f"bare_flask_rps: {bare_rps:.0f}")
    print(f"bare_flask_p99_ms: {bare_p99:.2f}")
    print(f"redis_claims_per_s: {redis_rate:.0f}")
    print(f"claims_per_s: {reference['claims_per_s']:.0f}")
    print(f"claims_per_s_median: {statistics.median(r['claims_per_s'] for r in clean):.0f}")
    print(f"claim_ratio: {reference['claims_per_s'] / bare_rps:.2f}")
    print(f"p50_ms: {reference['p50_ms']:.1f}")
    print(f"p99_ms: {reference['p99_ms']:.1f}")
    print(f"successful_claims: {reference['successful_claims']}")
    print(f"claimers_reached: {reference['reached']}")
    errors = sum(r["server_errors"] + r["socket_errors"] + r["timeouts"] for r in runs)
    print(f"errors: {errors}")
    print(f"oversold: {max(r['oversold'] for r in runs)}")
    print(f"oversold_total: {sum(r['oversold'] for r in runs)}")
    print(f"units_lost: {max((r['units_lost'] for r in runs), key=abs)}")
    print(f"units_lost_total: {sum(abs(r['units_lost']) for r in runs)}")
    unbalanced = sum(run["balanced_under_load"] is False for run in runs)
    print(f"reconcile_unbalanced_under_load: {unbalanced}/{len(runs)}")
    print(f"runs: {len(runs)} ({sum(r['kill'] for r in runs)} with a worker killed)")
    if any(run["server_errors"] for run in runs):
        print("server_errors_seen:", *server_errors, sep="\n  ")
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))


if __name__ == "__main__":
    main()
