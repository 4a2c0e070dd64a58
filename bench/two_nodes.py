"""Two-node benchmark (issue #15): two full sets of Heli's processes, every line of the Procfile
(web, workers, scheduler, bot), run as node A and node B on their own ports against one
PostgreSQL, one Redis and one sandbox. Both nodes take flash-sale claims (wrk) and mini-program
orders (phones that log in through the sandbox, order, and pay through the sandbox or leave the
order to expire); halfway node B dies (every process group SIGKILLed) while A goes on. Then the
system settles by itself (the sale's end, pay deadlines, reconcile) and the books are checked in
the database.

    python -m bench.two_nodes            # PostgreSQL only: a scratch cluster of its own
    python -m bench.two_nodes --smoke    # (exit status 2 where PostgreSQL is not installed)

A phone whose call to node B died with B sends it again to node A with the same body and
Idempotency-Key, as the load balancer in front of the nodes would; both nodes give WeChat Pay the
alliance's one public address (node A's here) for its notifications.

Figures: `oversold` (units sold beyond the stock, the sale or a person's limit), `units_lost` (free
units missing once everything settled), `jobs_doubled` (a periodic job enqueued twice for one
tick, or any rq job that ran to success twice), `orders_failed` (5xx answers, connection errors
on a node that was not killed, answers a phone could not use, and orders not PAID or CANCELLED
once settled) — the exit status is 1 unless all are 0 — and claims/s and orders/s per node.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.flash_sale import Bench, claim_load, errors_in
from bench.harness import (
    app_for,
    arguments,
    database,
    free_port,
    free_units,
    print_figures,
    run_flask,
    scratch_env,
    spawn,
    stop_all,
    wait_http,
)
from bench.joblog import JobLog
from bench.nodes import Node, start_nodes
from bench.phones import Failed, Phone, Run, shop
from bench.postgres import binaries

FLASH_SKU, STORE_SKU = "RS-LIVE-M-5", "RS-LIVE-L-5"
PER_PERSON = 1  # units of the sale one buyer may claim
PAY_MINUTES = 1  # the shortest pay window: unpaid orders expire while the benchmark waits
SETTLE_SECONDS = 300  # after the load, for the last pay deadlines and jobs


@dataclass(frozen=True)
class Sizes:
    units: int  # of the flash sale
    claimers: int
    load_seconds: int  # the sale's length; node B dies at half
    connections: int  # wrk's, per node
    buyers: int  # mini-program phones ordering at once, per node
    web_workers: int  # gunicorn's, per node
    store_stock: int


FULL = Sizes(300, 3000, 120, 100, 3, 3, 5000)
SMOKE = Sizes(20, 200, 20, 10, 1, 2, 500)


def pay_flash_orders(run: Run, sale_id: int, tokens: dict[int, str], payers: int) -> None:
    """While the sale runs, every other won claim is paid, alternately through each node; the
    others are left to expire (their units go back to the sale, or to stock after its end)."""
    from backend.extensions import db
    from backend.orders.models import PENDING_PAYMENT, Order

    seen: set[int] = set()

    def pay(order_id: int, customer_id: int, node: Node) -> None:
        phone = Phone(run)
        try:
            auth = {"Authorization": f"Bearer {tokens[customer_id]}"}
            run.count(phone.pay(node, auth, order_id, address=True), "flash_payments")
        except Failed:
            pass
        except Exception as exc:
            run.fail(f"flash payer crashed: {exc!r}")
        finally:
            phone.http.close()

    with ThreadPoolExecutor(payers) as pool:
        while not run.load_over.is_set():
            with run.app.app_context():
                won = db.session.execute(
                    db.select(Order.id, Order.customer_id)
                    .where(Order.flash_sale_id == sale_id, Order.status == PENDING_PAYMENT)
                    .order_by(Order.id)
                ).all()
                db.session.remove()
            for order_id, customer_id in won:
                if order_id in seen:
                    continue
                seen.add(order_id)
                if len(seen) % 2:
                    node = (run.a, run.b)[len(seen) // 2 % 2]
                    pool.submit(pay, order_id, customer_id, node)
            time.sleep(0.5)


def settle(app, sale_id: int, first_order: int) -> dict:
    """Wait (at most SETTLE_SECONDS) until the sale has ended and no order of the run waits for
    payment any more: seconds until each happened after the load."""
    from backend.extensions import db
    from backend.live.models import ENDED, FlashSale
    from backend.orders.models import PENDING_PAYMENT, Order

    started, seen = time.monotonic(), {}
    while time.monotonic() - started < SETTLE_SECONDS and len(seen) < 2:
        with app.app_context():
            if db.session.get(FlashSale, sale_id).status == ENDED:
                seen.setdefault("sale_ended_after_s", time.monotonic() - started)
            waiting = db.session.scalar(
                db.select(db.func.count())
                .select_from(Order)
                .where(Order.id > first_order, Order.status == PENDING_PAYMENT)
            )
            if not waiting:
                seen.setdefault("last_order_settled_after_s", time.monotonic() - started)
            db.session.remove()
        time.sleep(1)
    return {**seen, "settle_seconds": time.monotonic() - started}


def books(run: Run, sale_id: int, first_order: int, skus: dict, free: dict) -> dict:
    """Once settled: every unit paid for or back in stock, nothing sold twice, every order PAID or
    CANCELLED, and what the sandbox says was paid is PAID."""
    from backend.extensions import db
    from backend.inventory import queries as inventory_queries
    from backend.inventory.models import Lot
    from backend.live import flash_sales
    from backend.live.models import FlashSale
    from backend.orders.models import CANCELLED, PAID, Order, OrderItem

    with run.app.app_context():
        session = db.session
        rows = session.execute(
            db.select(Order.id, Order.status, Order.flash_sale_id, Order.customer_id)
            .where(Order.id > first_order)
            .order_by(Order.id)
        ).all()
        paid_units = dict(
            session.execute(
                db.select(OrderItem.sku_id, db.func.sum(OrderItem.quantity))
                .join(Order, Order.id == OrderItem.order_id)
                .where(Order.id > first_order, Order.status == PAID)
                .group_by(OrderItem.sku_id)
            ).all()
        )
        per_person = session.execute(
            db.select(db.func.sum(OrderItem.quantity))
            .join(Order, Order.id == OrderItem.order_id)
            .where(Order.flash_sale_id == sale_id, Order.status == PAID)
            .group_by(Order.customer_id)
        ).all()
        late = session.execute(
            db.select(Order.cancelled_at, Order.pay_deadline).where(
                Order.id > first_order, Order.status == CANCELLED
            )
        ).all()
        bad_lots = session.scalar(
            db.select(db.func.count())
            .select_from(Lot)
            .where((Lot.reserved > Lot.on_hand) | (Lot.reserved < 0) | (Lot.on_hand < 0))
        )
        ledger = inventory_queries.ledger_mismatches(session)
        units = session.get(FlashSale, sale_id).units
        balanced = flash_sales.reconcile(session, sale_id=sale_id)["balanced"]
        session.remove()
    statuses = Counter(status for _, status, _, _ in rows)
    unsettled = [order_id for order_id, status, *_ in rows if status not in (PAID, CANCELLED)]
    status_of = {order_id: status for order_id, status, *_ in rows}
    unpaid = [order_id for order_id in run.confirmed if status_of.get(order_id) != PAID]
    flash_orders = [row for row in rows if row[2] == sale_id]
    flash_paid = sum(1 for row in flash_orders if row[1] == PAID)
    lost, extra = 0, 0
    for code, sku_id in skus.items():
        expected = free[code] - int(paid_units.get(sku_id, 0))
        now = free_units(run.app, sku_id)
        lost += max(0, expected - now)
        extra += max(0, now - expected) + max(0, int(paid_units.get(sku_id, 0)) - free[code])
    over_person = sum(max(0, int(n) - PER_PERSON) for (n,) in per_person)
    over_sale = max(0, int(paid_units.get(skus[FLASH_SKU], 0)) - units)
    return {
        "orders_total": len(rows),
        "orders_paid": statuses[PAID],
        "orders_cancelled": statuses[CANCELLED],
        "orders_unsettled": len(unsettled),
        "paid_in_sandbox_not_paid": len(unpaid),
        "claims_won": len(flash_orders),
        "flash_orders_paid": flash_paid,
        "oversold": extra + bad_lots + over_person + over_sale,
        "units_lost": lost,
        # Informative: how long after its pay deadline the last unpaid order was cancelled.
        "expiry_late_max_s": max(
            ((cancelled - deadline).total_seconds() for cancelled, deadline in late), default=0.0
        ),
        "ledger_mismatches": len(ledger),
        "sale_balanced": balanced,
    }


def load(run: Run, claimers: Bench, skus: dict, sizes: Sizes, jobs: JobLog) -> tuple[dict, int]:
    """The sale and the shop on both nodes; node B dies halfway. Answers figures and the sale."""
    a, b = run.a, run.b
    console = requests.Session()
    login = console.post(
        f"{a.url}/console/api/login", json={"username": "admin", "password": "heli-demo"}
    )
    assert login.status_code == 200, login.text
    sale = console.post(
        f"{a.url}/console/api/flash-sales",
        json={
            "sku_id": skus[FLASH_SKU],
            "units": sizes.units,
            "price": 3900,
            "seconds": sizes.load_seconds,
            "per_person_limit": PER_PERSON,
            "pay_minutes": PAY_MINUTES,
        },
    )
    assert sale.status_code == 201, sale.text
    sale_id = sale.json()["id"]
    b_down, load_over, claims = threading.Event(), threading.Event(), {}

    # Both nodes' wrk go through the same claimers in the same order, with the same
    # Idempotency-Keys when they start within one second (the script seeds its keys by the
    # second): one claim sent to both nodes must answer one order, or be refused on both.
    def claim(node: Node, stop: threading.Event | None) -> None:
        try:
            claims[node.name] = claim_load(
                f"{node.url}/api/v1/flash-sales/{sale_id}/claims",
                claimers.script(f"claims-{node.name}"),
                sizes.load_seconds,
                sizes.load_seconds,
                stop=stop,
                connections=sizes.connections,
            )
        except Exception as exc:
            claims[node.name] = exc

    threads = [
        threading.Thread(target=claim, args=(a, None)),
        threading.Thread(target=claim, args=(b, b_down)),
        threading.Thread(
            target=pay_flash_orders, args=(run, sale_id, claimers.tokens, sizes.buyers + 1)
        ),
    ]
    for node, stop in ((a, load_over), (b, b_down)):
        threads += [
            threading.Thread(target=shop, args=(run, node, skus[STORE_SKU], stop))
            for _ in range(sizes.buyers)
        ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(sizes.load_seconds / 2)
    b_alive, b_pids = len(b.processes) - len(b.exited()), b.pids()
    # Informative: due enqueue_at jobs (the sale's end, pay deadlines) of a queue whose rq
    # scheduler dies with B wait until another scheduler takes the queue's lock.
    locks = jobs.scheduler_pids()
    on_b = sorted(queue for queue, pid in locks.items() if pid in b_pids)
    b.kill()
    b_down.set()
    time.sleep(max(0.0, started + sizes.load_seconds - time.monotonic()))
    load_over.set()
    run.load_over.set()
    a.ended_at = time.monotonic()
    for thread in threads:
        thread.join()
    for result in claims.values():
        if isinstance(result, Exception):
            raise result

    figures: dict = {}
    wrk_failures = 0
    for node in (a, b):
        result = claims[node.name]
        statuses = result["statuses"]
        answered = sum(n for code, n in statuses.items() if code < 500)
        errors = sum(
            result.get(kind, 0) for kind in ("connect_errors", "read_errors", "write_errors")
        )
        server_errors = sum(n for code, n in statuses.items() if code >= 500)
        wrk_failures += server_errors
        if node is a:  # B's socket errors are those of its death
            wrk_failures += errors + result.get("timeouts", 0)
        seconds = node.ended_at - started
        figures[f"node_{node.name}_claims_per_s"] = answered / (result["duration_us"] / 1e6)
        figures[f"node_{node.name}_claim_p99_ms"] = result["p99_us"] / 1000
        figures[f"node_{node.name}_orders_per_s"] = run.counts[node.name, "orders"] / seconds
        figures[f"node_{node.name}_claim_answers"] = " ".join(
            f"{code}x{n}" for code, n in sorted(statuses.items())
        )
        figures[f"node_{node.name}_claim_socket_errors"] = errors
        figures[f"node_{node.name}_orders"] = run.counts[node.name, "orders"]
        for what in ("store_payments", "flash_payments"):
            figures[f"node_{node.name}_{what}"] = run.counts[node.name, what]
    figures["node_b_processes_killed"] = b_alive
    figures["rq_scheduler_queues_on_b"] = " ".join(on_b) or "none"
    figures["rq_scheduler_locks_held"] = len(locks)
    figures["node_b_killed_after_s"] = b.ended_at - started
    figures["calls_cut_off_by_kill"] = run.counts["b", "cut_off_by_kill"]
    figures["orders_retried_on_a"] = run.counts["a", "orders_retried_from_b"]
    figures["_wrk_failures"] = wrk_failures
    return figures, sale_id


def main() -> None:
    args = arguments(__doc__).parse_args()  # --postgres is implied: this benchmark needs it
    if binaries() is None:
        print(
            "bench.two_nodes runs on PostgreSQL only: apt-get install postgresql", file=sys.stderr
        )
        sys.exit(2)
    sizes = SMOKE if args.smoke else FULL
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-nodes-"))
    try:
        with database(True, scratch) as database_url:
            failures = two_nodes(scratch, database_url, sizes)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))


def two_nodes(scratch: Path, database_url: str, sizes: Sizes) -> list[str]:
    """Run it all; print the figures; answer what failed."""
    from backend import demo
    from backend.catalogue.models import Sku
    from backend.extensions import db
    from backend.orders.models import Order

    sandbox_port, ports = free_port(), (free_port(), free_port())
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    env = scratch_env(
        scratch,
        database_url,
        SANDBOX_URL=sandbox,
        SANDBOX_PORT=str(sandbox_port),
        WECHAT_API_BASE=sandbox + "/",
        WECHATPAY_API_BASE=sandbox,
        # WeChat Pay notifies the alliance's one public address (the load balancer's, in front
        # of every node): node A's here.
        PUBLIC_BASE_URL=f"http://127.0.0.1:{ports[0]}",
        PAY_WINDOW_MINUTES=str(PAY_MINUTES),
    )
    run_flask(env, ["db", "upgrade"], ["seed-demo"])
    claimers = Bench(scratch)
    claimers.app = app = app_for(env)
    claimers.add_claimers(sizes.claimers)
    with app.app_context():
        demo.pack_batch(db.session, {FLASH_SKU: sizes.units * 2, STORE_SKU: sizes.store_stock})
        skus = {
            code: db.session.scalar(db.select(Sku.id).where(Sku.code == code))
            for code in (FLASH_SKU, STORE_SKU)
        }
        first_order = db.session.scalar(db.select(db.func.coalesce(db.func.max(Order.id), 0)))
        db.session.remove()
    free = {code: free_units(app, sku_id) for code, sku_id in skus.items()}

    processes = [spawn([sys.executable, "-m", "sandbox"], env, scratch / "sandbox.log")]
    nodes: list[Node] = []
    jobs = JobLog(env["REDIS_URL"])
    try:
        wait_http(sandbox + "/sandbox/health")
        nodes = start_nodes(env, scratch, ports, sizes.web_workers)
        processes += [process for node in nodes for process in node.processes.values()]
        jobs.thread.start()
        run = Run(nodes[0], nodes[1], sandbox, app)
        figures, sale_id = load(run, claimers, skus, sizes, jobs)
        figures.update(settle(app, sale_id, first_order))
        jobs.stop.set()
        jobs.thread.join()
        jobs.poll()
        died_on_a = nodes[0].exited()
    finally:
        jobs.stop.set()
        stop_all(processes)
    accounts = books(run, sale_id, first_order, skus, free)
    job_figures = jobs.figures()
    orders_failed = (
        len(run.failures)
        + figures.pop("_wrk_failures")
        + accounts["orders_unsettled"]
        + accounts["paid_in_sandbox_not_paid"]
    )
    results = {
        "oversold": accounts.pop("oversold"),
        "units_lost": accounts.pop("units_lost"),
        "jobs_doubled": job_figures["periodic_doubled"] + job_figures["jobs_run_twice"],
        "orders_failed": orders_failed,
        **figures,
        **accounts,
        **job_figures,
        "node_a_processes_died": len(died_on_a),
    }
    print_figures(results)
    logs = [node.log(name) for node in nodes for name in node.processes]
    server_errors = sorted({line for log in logs for line in errors_in(log)})
    if server_errors:
        print("server_errors_seen:", *server_errors[:20], sep="\n  ")
    if run.failures:
        print("failures_seen:", *run.failures[:20], sep="\n  ")
    return [
        what
        for what, bad in (
            ("oversold", results["oversold"]),
            ("units lost", results["units_lost"]),
            ("jobs doubled", results["jobs_doubled"]),
            ("orders failed", results["orders_failed"]),
            ("ledger mismatch", results["ledger_mismatches"]),
            ("sale unbalanced", not results["sale_balanced"]),
            ("node A processes died: " + " ".join(died_on_a), died_on_a),
        )
        if bad
    ]


if __name__ == "__main__":
    main()
